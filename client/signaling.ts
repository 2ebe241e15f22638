import type { ErrorBody, IceResponse, IceServer, JoinResponse, LeaveReason, PeerInfo, ResetReason, SignalBatchResponse } from '../signaling/protocol'
import { createEmitter, type Emitter } from './emitter'

export type SignalingStatus = 'connecting' | 'online' | 'offline'

/** What one membership (one peer in one room) hears from the server. */
export type MembershipEvent =
  | { type: 'roster'; room: string; peers: PeerInfo[] }
  | { type: 'peer-joined'; peer: PeerInfo }
  | { type: 'peer-left'; peer: string; reason: LeaveReason }
  | { type: 'peer-away' | 'peer-back'; peer: string }
  | { type: 'signal'; from: string; data: unknown }

export interface Membership {
  peer: string
  peers: PeerInfo[]
  iceServers: IceServer[]
  /** The session token (a tab of a shared connection uses it to leave by beacon). */
  token: string
  /** Seconds until TURN credentials in iceServers expire (refresh with `refreshIce`). */
  iceServersTtlS?: number
}

export interface MembershipHandlers {
  /** Called once, before any event of the membership is delivered. */
  joined(membership: Membership): void
  event(event: MembershipEvent): void
  /** The server no longer accepts this membership (its secret changed): join afresh. */
  lost(): void
  /** The server knows no peer `peer` any more (a signal to it came back UNKNOWN_PEER). */
  unknown(peer: string): void
}

export type SignalingEvents = {
  status: SignalingStatus
  error: Error
}

/** How a room reaches the signaling server: one per page, or shared by tabs (see shared.ts). */
export interface Signaling extends Pick<Emitter<SignalingEvents>, 'on' | 'off'> {
  readonly status: SignalingStatus
  join(room: string, meta: string | undefined, handlers: MembershipHandlers): Promise<Membership>
  /** Queued per sender and retried; delivered in order, dropped only when the target is gone. */
  signal(from: string, to: string, data: unknown): void
  leave(peer: string): void
  /** Fresh ICE servers (new TURN credentials) for one of our peers. */
  refreshIce(peer: string): Promise<IceResponse>
  close(): void
}

export class SignalingError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 0,
  ) {
    super(message)
  }
}

const EVENT_TYPES = ['roster', 'peer-joined', 'peer-left', 'peer-away', 'peer-back', 'signal', 'reset'] as const
const FAILURES_BEFORE_BACKOFF = 3
const EARLY_EVENTS = 256
const MAX_BATCH = 64
const BACKOFF_MIN_MS = 500
const BACKOFF_MAX_MS = 10_000
// A signal this old is worthless: the connection attempt it belongs to has timed out.
const SIGNAL_TTL_MS = 30_000

const backoff = (attempt: number) =>
  Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt) * (0.5 + Math.random() / 2)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isPeerInfo = (v: unknown): v is PeerInfo =>
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
  const to = data.to
  if (typeof to !== 'string') return null
  switch (type) {
    case 'roster':
      return typeof data.room === 'string' && Array.isArray(data.peers) && data.peers.every(isPeerInfo)
        ? { to, event: { type, room: data.room, peers: data.peers } }
        : null
    case 'peer-joined':
      return isPeerInfo(data.peer) ? { to, event: { type, peer: data.peer } } : null
    case 'peer-left':
      return typeof data.peer === 'string' && (data.reason === 'leave' || data.reason === 'timeout')
        ? { to, event: { type, peer: data.peer, reason: data.reason } }
        : null
    case 'peer-away':
    case 'peer-back':
      return typeof data.peer === 'string' ? { to, event: { type, peer: data.peer } } : null
    case 'signal':
      return typeof data.from === 'string' && data.data !== undefined
        ? { to, event: { type, from: data.from, data: data.data } }
        : null
    default:
      return null
  }
}

export interface SignalingOptions {
  /** Outside the browser (Node has no global EventSource): e.g. the `eventsource` package's. */
  EventSource?: typeof EventSource
}

/** The signaling client of one page: one session, one EventSource, any number of rooms. */
export function createSignaling(server = '/v1', options: SignalingOptions = {}): Signaling & { networkChanged(online: boolean): void } {
  const Source = options.EventSource ?? EventSource
  const events = createEmitter<SignalingEvents>()
  const memberships = new Map<string, { room: string; meta: string | undefined; handlers: MembershipHandlers }>()
  // Events can outrun the join reply that names their peer (the stream is shared): hold them briefly.
  const early = new Map<string, MembershipEvent[]>()
  // One outgoing queue per sending peer, at most one POST in flight: whatever queues up meanwhile
  // leaves as one batch, in order.
  const queues = new Map<string, Array<{ to: string; data: unknown; at: number }>>()
  let token: string | undefined
  let key: string | undefined
  let stream: EventSource | undefined
  let lastEventId = ''
  let failures = 0
  let reopenTimer: ReturnType<typeof setTimeout> | undefined
  let status: SignalingStatus = 'connecting'
  let closed = false
  // Joins run one at a time: the first creates the session the others attach to.
  let joining: Promise<unknown> = Promise.resolve()

  const setStatus = (next: SignalingStatus) => {
    if (next === status) return
    status = next
    events.emit('status', next)
  }

  async function post(path: string, body: unknown): Promise<Response> {
    return fetch(`${server}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    })
  }

  async function failure(res: Response): Promise<SignalingError> {
    const body = (await res.json().catch(() => null)) as Partial<ErrorBody> | null
    return new SignalingError(body?.error ?? 'HTTP_ERROR', body?.message ?? `HTTP ${res.status}`, res.status)
  }

  const retryAfter = (res: Response, attempt: number) =>
    Math.max(Number(res.headers.get('retry-after')) * 1000 || 0, backoff(attempt))

  /** POST /join, retried through outages and rate limits; permanent refusals throw. */
  async function postJoin(room: string, meta: string | undefined, peer?: string): Promise<JoinResponse> {
    for (let attempt = 0; ; attempt++) {
      if (closed) throw new SignalingError('CLOSED', 'signaling closed')
      let res: Response | undefined
      try {
        res = await post('/join', { room, ...(meta === undefined ? {} : { meta }), ...(peer ? { peer } : {}) })
      } catch {
        setStatus('offline')
      }
      if (res?.ok) return (await res.json()) as JoinResponse
      if (res && res.status !== 429 && res.status < 500) throw await failure(res)
      await sleep(res ? retryAfter(res, attempt) : backoff(attempt))
    }
  }

  function adopt(joined: JoinResponse) {
    const fresh = key !== joined.key
    token = joined.token
    key = joined.key
    if (fresh || !stream) openStream(fresh)
  }

  function openStream(fresh: boolean) {
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
        reopenTimer = setTimeout(() => openStream(false), backoff(failures))
      }
    }
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (event) => {
        if (stream !== source) return
        const message = event as MessageEvent<string>
        if (message.lastEventId) lastEventId = message.lastEventId
        const parsed = parseServerEvent(type, message.data)
        if (!parsed) return events.emit('error', new SignalingError('BAD_EVENT', `malformed ${type} event`))
        if ('reset' in parsed) return void recover(parsed.reset)
        const member = memberships.get(parsed.to)
        if (member) return member.handlers.event(parsed.event)
        const held = early.get(parsed.to) ?? []
        if (held.length < EARLY_EVENTS) early.set(parsed.to, [...held, parsed.event])
      })
    }
  }

  /** After a `reset`, re-claim every peer id; if the server no longer accepts our token, start over. */
  async function recover(_reason: ResetReason) {
    const run = joining.then(async () => {
      for (const [peer, { room, meta, handlers }] of memberships) {
        try {
          await postJoin(room, meta, peer)
        } catch (err) {
          if (err instanceof SignalingError && (err.status === 401 || err.code === 'BAD_PEER')) {
            const lost = [...memberships.values()]
            memberships.clear()
            token = key = undefined
            stream?.close()
            stream = undefined
            for (const member of lost) member.handlers.lost()
            return
          }
          memberships.delete(peer)
          handlers.lost()
        }
      }
    })
    joining = run.catch(() => {})
    await run
  }

  function idle() {
    clearTimeout(reopenTimer)
    stream?.close()
    stream = undefined
    token = key = undefined
    lastEventId = ''
    failures = 0
    setStatus('connecting')
  }

  async function pump(from: string) {
    const queue = queues.get(from)!
    for (let attempt = 0; queue.length > 0 && !closed; ) {
      if (!memberships.has(from)) break
      while (queue.length > 0 && Date.now() - queue[0]!.at > SIGNAL_TTL_MS) queue.shift()
      const batch = queue.slice(0, MAX_BATCH)
      if (batch.length === 0) break
      let res: Response | undefined
      try {
        res = await post(
          '/signal',
          batch.length === 1
            ? { peer: from, to: batch[0]!.to, data: batch[0]!.data }
            : { peer: from, batch: batch.map(({ to, data }) => ({ to, data })) },
        )
      } catch {
        // Network failure: the stream's error handler reports the outage; keep the signals.
      }
      // Done: delivered (204), partly delivered to targets that are still there (200), or refused
      // for good (4xx other than auth and rate limits). A target the server no longer knows is
      // reported to its room, which may still think it is there.
      const error = res && !res.ok ? await failure(res) : undefined
      const retry = !res || res.status >= 500 || res.status === 429 || res.status === 401 || error?.code === 'NOT_YOUR_PEER'
      if (retry) {
        await sleep(res ? retryAfter(res, attempt++) : backoff(attempt++))
        continue
      }
      queue.splice(0, batch.length)
      attempt = 0
      const member = memberships.get(from)
      if (error?.code === 'UNKNOWN_PEER') member?.handlers.unknown(batch[0]!.to)
      if (res?.status === 200) {
        const { failed } = ((await res.json().catch(() => null)) ?? {}) as Partial<SignalBatchResponse>
        for (const f of Array.isArray(failed) ? failed : []) {
          const item = batch[f?.index]
          if (item && f.error === 'UNKNOWN_PEER') member?.handlers.unknown(item.to)
        }
      }
    }
    queues.delete(from)
  }

  // The network went away (laptop lid, train tunnel): drop the stream now, since a dead TCP connection
  // can look alive for minutes; when it is back, resume at once rather than at the end of a backoff.
  function networkChanged(online: boolean) {
    if (closed || !key) return
    if (online) {
      if (status === 'offline') openStream(false)
      return
    }
    clearTimeout(reopenTimer)
    stream?.close()
    stream = undefined
    setStatus('offline')
  }
  const onOnline = () => networkChanged(true)
  const onOffline = () => networkChanged(false)
  // Node has no window events: there the stream's own errors are all there is.
  globalThis.addEventListener?.('online', onOnline)
  globalThis.addEventListener?.('offline', onOffline)

  return {
    on: events.on,
    off: events.off,
    get status() {
      return status
    },

    join(room, meta, handlers) {
      const run = joining.then(async () => {
        const joined = await postJoin(room, meta)
        const membership: Membership = {
          peer: joined.peer,
          peers: joined.peers,
          iceServers: joined.iceServers,
          token: joined.token,
          ...(joined.iceServersTtlS ? { iceServersTtlS: joined.iceServersTtlS } : {}),
        }
        memberships.set(joined.peer, { room, meta, handlers })
        handlers.joined(membership)
        for (const event of early.get(joined.peer) ?? []) handlers.event(event)
        early.clear()
        adopt(joined)
        return membership
      })
      joining = run.catch(() => {})
      return run
    },

    signal(from, to, data) {
      const item = { to, data, at: Date.now() }
      const queue = queues.get(from)
      if (queue) return void queue.push(item)
      queues.set(from, [item])
      void pump(from)
    },

    leave(peer) {
      early.delete(peer)
      if (!memberships.delete(peer) || !token) return
      const last = memberships.size === 0
      // sendBeacon survives page unload; text/plain keeps it a simple (no preflight) request. Workers
      // have no sendBeacon, and outlive the page anyway.
      const beacon = JSON.stringify(last ? { token } : { token, peer })
      if (!globalThis.navigator?.sendBeacon?.(`${server}/leave`, beacon)) {
        void post('/leave', last ? {} : { peer }).catch(() => {})
      }
      // Nothing left to listen for: end the session, and start a fresh one on the next join.
      if (last) idle()
    },

    async refreshIce(peer) {
      const res = await post('/ice', { peer })
      if (!res.ok) throw await failure(res)
      return (await res.json()) as IceResponse
    },

    networkChanged,

    close() {
      closed = true
      globalThis.removeEventListener?.('online', onOnline)
      globalThis.removeEventListener?.('offline', onOffline)
      clearTimeout(reopenTimer)
      stream?.close()
      stream = undefined
      queues.clear()
      events.clear()
    },
  }
}
