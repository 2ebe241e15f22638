import type { PeerInfo, ResetReason } from '../../../signaling/protocol'
import type { MembershipEvent, SignalingStatus } from '../types'
import { isObject } from '../util'
import { backoff, SignalingError } from './http'

const EVENT_TYPES = ['roster', 'peer-joined', 'peer-left', 'peer-away', 'peer-back', 'signal', 'reset'] as const
const FAILURES_BEFORE_BACKOFF = 3
const EARLY_EVENTS = 256

/** One entry of a roster (also of a membership the shared worker passes on). */
export const isPeerInfo = (v: unknown): v is PeerInfo =>
  isObject(v) && typeof v.id === 'string' && (v.meta === undefined || typeof v.meta === 'string')

export type ServerMessage = { to: string; event: MembershipEvent } | { reset: ResetReason }

/** Parses one SSE event; null when the server (or something in between) sent nonsense. */
export function parseServerEvent(type: string, raw: string): ServerMessage | null {
  let data: unknown
  try {
    data = JSON.parse(raw)
  } catch {
    return null
  }
  if (!isObject(data)) return null
  if (type === 'reset') {
    return data.reason === 'gap' || data.reason === 'unknown-session' ? { reset: data.reason } : null
  }
  const event = parseMembershipEvent(type, data)
  return typeof data.to === 'string' && event ? { to: data.to, event } : null
}

/** One membership's event of `type` (an SSE event's name, or the shared worker's `type` field); null if malformed. */
export function parseMembershipEvent(type: unknown, data: Record<string, unknown>): MembershipEvent | null {
  switch (type) {
    case 'roster':
      return typeof data.room === 'string' && Array.isArray(data.peers) && data.peers.every(isPeerInfo)
        ? { type, room: data.room, peers: data.peers }
        : null
    case 'peer-joined':
      return isPeerInfo(data.peer) ? { type, peer: data.peer } : null
    case 'peer-left':
      return typeof data.peer === 'string' && (data.reason === 'leave' || data.reason === 'timeout')
        ? { type, peer: data.peer, reason: data.reason }
        : null
    case 'peer-away':
    case 'peer-back':
      return typeof data.peer === 'string' ? { type, peer: data.peer } : null
    case 'signal':
      return typeof data.from === 'string' && data.data !== undefined ? { type, from: data.from, data: data.data } : null
    default:
      return null
  }
}

export interface EventStreamOptions {
  server: string
  /** Outside the browser (Node has no global EventSource): e.g. the `eventsource` package's. */
  EventSource?: typeof EventSource
  setStatus(status: SignalingStatus): void
  /** Delivers an event to its membership; false when no membership of that peer exists (yet). */
  deliver(to: string, event: MembershipEvent): boolean
  reset(reason: ResetReason): void
  onError(err: Error): void
}

/**
 * The session's one EventSource: opened with the session key, resumed from the last event id, reopened
 * with backoff when the browser gives up, and dropped at once when the network goes away.
 */
export function createEventStream(options: EventStreamOptions) {
  const { server, setStatus } = options
  const Source = options.EventSource ?? EventSource
  // Events can outrun the join reply that names their peer (the stream is shared): hold them briefly.
  const early = new Map<string, MembershipEvent[]>()
  let key: string | undefined
  let stream: EventSource | undefined
  let lastEventId = ''
  let failures = 0
  let reopenTimer: ReturnType<typeof setTimeout> | undefined

  function receive(source: EventSource, type: string, message: MessageEvent<string>) {
    if (stream !== source) return
    if (message.lastEventId) lastEventId = message.lastEventId
    const parsed = parseServerEvent(type, message.data)
    if (!parsed) return options.onError(new SignalingError('BAD_EVENT', `malformed ${type} event`))
    if ('reset' in parsed) return options.reset(parsed.reset)
    if (options.deliver(parsed.to, parsed.event)) return
    const held = early.get(parsed.to) ?? []
    if (held.length < EARLY_EVENTS) early.set(parsed.to, [...held, parsed.event])
  }

  function open(fresh: boolean) {
    clearTimeout(reopenTimer)
    stream?.close()
    if (fresh) lastEventId = ''
    const resume = lastEventId ? `&lastEventId=${encodeURIComponent(lastEventId)}` : ''
    const source = new Source(`${server}/stream?key=${encodeURIComponent(key!)}${resume}`)
    stream = source
    source.onopen = () => {
      failures = 0
      setStatus('online')
    }
    source.onerror = () => {
      if (stream !== source) return
      setStatus('offline')
      // The browser retries by itself (sending Last-Event-ID) unless the stream is CLOSED; after a few
      // failed tries we take over with exponential backoff so a down server is not hammered.
      if (source.readyState === Source.CLOSED || ++failures >= FAILURES_BEFORE_BACKOFF) {
        source.close()
        reopenTimer = setTimeout(() => open(false), backoff(failures))
      }
    }
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (event) => receive(source, type, event as MessageEvent<string>))
    }
  }

  function close() {
    clearTimeout(reopenTimer)
    stream?.close()
    stream = undefined
  }

  return {
    /** Listens with this session key; a new key (a new session) starts from the beginning. */
    listen(sessionKey: string): void {
      const fresh = key !== sessionKey
      key = sessionKey
      if (fresh || !stream) open(fresh)
    },

    /** The same session's renewed key: the open stream stays; the next (re)connect uses it. */
    renewKey(sessionKey: string): void {
      if (key !== undefined) key = sessionKey
    },

    /** The events that arrived for `peer` before its join reply; they are handed over once. */
    takeEarly(peer: string): MembershipEvent[] {
      const held = early.get(peer) ?? []
      early.clear()
      return held
    },

    forget: (peer: string) => early.delete(peer),

    // The network went away (laptop lid, train tunnel): drop the stream now, since a dead TCP connection
    // can look alive for minutes; when it is back, resume at once rather than at the end of a backoff.
    networkChanged(online: boolean, status: SignalingStatus): void {
      if (!key) return
      if (online) {
        if (status === 'offline') open(false)
        return
      }
      close()
      setStatus('offline')
    },

    /** Ends the session's stream: the next session starts afresh. */
    end(): void {
      close()
      key = undefined
      lastEventId = ''
      failures = 0
    },

    close,
  }
}
