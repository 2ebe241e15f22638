import type { IceServer } from '../../signaling/protocol'
import type { PeerMessage, SignalEnvelope } from './peer-protocol'
import type { CreatePeer, PeerLike, PeerState, PeerView, RoomSelf } from './types'
import { backoffMs } from './util'
import { routeOf, whenDrained } from './webrtc'

// Timings of the self-healing loop: how long an attempt may take, and the retry backoff.
const CONNECT_TIMEOUT_MS = 15_000
const RETRY_MIN_MS = 250
const RETRY_MAX_MS = 15_000
const FAILURES_BEFORE_FAILED = 3
// A channel that carried nothing (not even our 1 Hz pings) for this long is dead: a killed browser
// sends no goodbye, and ICE takes far longer to notice. Background tabs still get 1 Hz timers.
export const PING_MS = 1_000
export const SILENCE_MS = 5_000

/** What outlives a link: a peer that comes back resumes where the pair was. */
export interface PairMemory {
  initiator: boolean
  attempt: number
  /** My last message seq when they arrived: they get messages after it, never my older history. */
  baseline: number
  /** The highest seq of theirs I have received. */
  received: number
  name: string
}

export interface PeerLinkOptions {
  id: string
  name: string
  memory: PairMemory
  self: RoomSelf
  createPeer: CreatePeer
  iceServers: () => IceServer[]
  /** An envelope for this peer, to seal and send through the server. */
  signal(envelope: SignalEnvelope): void
  /** Their view changed (state, route, name, colour, code). */
  changed(event: 'peer-connected' | 'peer-updated', view: PeerView): void
  /** A channel opened: the mesh's liveness timer should run. */
  opened(): void
  /** Everything that arrived on the current channel. */
  data(raw: unknown): void
  /** Their stream went away and now their channel too: nothing says they are still there. */
  gone(): void
}

const isOffer = (signal: unknown) => (signal as { type?: unknown }).type === 'offer'

/**
 * One pair's connection, healing itself: attempts numbered per pair, glare settled by peer id, retries
 * with backoff, pings and a silence timeout, and `destroy()` as the one way it ends.
 */
export function createPeerLink(options: PeerLinkOptions) {
  const { id, self, memory } = options
  const view: PeerView = { id, name: options.name, state: 'connecting' }
  /**
   * Exactly one side of a pair initiates: the newer member, i.e. the one that found the other in its
   * roster (the other learns of it from `peer-joined`). The server serialises joins, so the two always
   * agree, and the newcomer sends its offers straight from the join reply. Decided once per pair and
   * kept for every reconnection; the rare disagreements (after a missed event) are settled by peer id,
   * see receiveSignal.
   */
  let initiator = memory.initiator
  let attempt = memory.attempt
  let peer: PeerLike | null = null
  /** The remote's hello arrived on the current channel: messages may flow. */
  let ready = false
  /** The server says their stream dropped (they may be gone, or on a train through a tunnel). */
  let away = false
  /** Their signals do not open with the room key: a different link, or tampering. No attempts. */
  let unverified = false
  let lastHeard = 0
  let lastSent = 0
  let failures = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  let destroyed = false

  const snapshot = (): PeerView => ({ ...view })
  const updated = () => options.changed('peer-updated', snapshot())

  function setState(state: PeerState) {
    if (view.state === state) return
    view.state = state
    options.changed(state === 'connected' ? 'peer-connected' : 'peer-updated', snapshot())
  }

  function profile(name: string, color?: string) {
    const changed = (name && name !== view.name) || (color && color !== view.color)
    if (!changed) return
    if (name) view.name = name
    if (color) view.color = color
    updated()
  }

  /** Drops the current connection (if any) without a state change. */
  function drop() {
    clearTimeout(timer)
    timer = undefined
    ready = false
    const current = peer
    peer = null
    current?.destroy()
  }

  function armTimeout() {
    clearTimeout(timer)
    timer = setTimeout(fail, CONNECT_TIMEOUT_MS)
  }

  function send(message: PeerMessage) {
    try {
      lastSent = Date.now()
      peer?.send(JSON.stringify(message))
    } catch {
      // The channel is closing; its 'close' follows, and the hello of the next one resumes the outbox.
    }
  }

  function startAttempt(next = attempt + 1): PeerLike {
    drop()
    view.code = undefined
    view.route = undefined
    if (view.state === 'connected') setState('reconnecting')
    attempt = next
    const created = options.createPeer({ initiator, iceServers: options.iceServers() })
    peer = created
    armTimeout()
    const current = () => peer === created && !destroyed
    created.on('signal', (data) => current() && options.signal({ attempt: next, signal: data }))
    created.on('connect', () => {
      if (!current()) return
      clearTimeout(timer)
      failures = 0
      lastHeard = Date.now()
      options.opened()
      send({
        type: 'hello',
        name: self.name,
        have: memory.received,
        ...(self.key ? { key: self.key } : {}),
        ...(self.color ? { color: self.color } : {}),
      })
      setState('connected')
      created.getStats?.((err, reports) => {
        const route = err ? undefined : routeOf(reports)
        if (!route || !current() || view.route === route) return
        view.route = route
        updated()
      })
    })
    created.on('data', (data) => {
      if (!current()) return
      lastHeard = Date.now()
      options.data(data)
    })
    created.on('error', () => {}) // 'close' follows every error
    created.on('close', () => current() && fail())
    return created
  }

  /** The connection failed, timed out or closed: back off, then the initiator tries again. */
  function fail() {
    if (away) return options.gone()
    const wasConnected = view.state === 'connected'
    drop()
    failures++
    setState(wasConnected ? 'reconnecting' : failures >= FAILURES_BEFORE_FAILED ? 'failed' : view.state)
    timer = setTimeout(
      () => {
        if (unverified) return // nothing from them opens: do not keep offering
        if (initiator) startAttempt()
        else {
          // Only the initiator starts attempts; ask it to, in case its own timer is further off.
          options.signal({ attempt, restart: true })
          armTimeout()
        }
      },
      backoffMs(failures - 1, RETRY_MIN_MS, RETRY_MAX_MS),
    )
  }

  function receiveSignal(envelope: SignalEnvelope): void {
    if (unverified) {
      // A signal that opens after all (the tampering stopped): start over with them.
      unverified = false
      view.unverified = undefined
      failures = 0
      setState('connecting')
    }
    if ('refused' in envelope) return
    if ('restart' in envelope) {
      // Both sides waiting for the other: the lower id takes the initiator's role.
      if (!initiator && self.id < id) initiator = true
      if (initiator && envelope.attempt >= attempt && view.state !== 'connected') startAttempt()
      return
    }
    if (initiator && isOffer(envelope.signal)) {
      // Glare, both sides offering: the higher id yields and answers.
      if (self.id < id) return
      initiator = false
    }
    if (initiator) {
      if (envelope.attempt === attempt) peer?.signal(envelope.signal)
    } else if (envelope.attempt > attempt || (envelope.attempt === attempt && !peer && isOffer(envelope.signal))) {
      startAttempt(envelope.attempt).signal(envelope.signal)
    } else if (envelope.attempt === attempt) {
      peer?.signal(envelope.signal)
    }
  }

  return {
    id,
    view: snapshot,
    get state() {
      return view.state
    },
    /** The remote's hello arrived on the current channel: messages may flow. */
    get ready() {
      return ready
    },
    get hasChannel() {
      return peer !== null
    },
    get away() {
      return away
    },
    set away(value: boolean) {
      away = value
    },
    /** Our last seq when they arrived: they never get our messages up to it. */
    get baseline() {
      return memory.baseline
    },
    /** The highest seq of theirs received so far (what our hello says we have). */
    get received() {
      return memory.received
    },
    set received(seq: number) {
      memory.received = seq
    },
    /** What to remember of the pair once the link is gone. */
    memory: (): PairMemory => ({ initiator, attempt, baseline: memory.baseline, received: memory.received, name: view.name }),

    /** The initiator offers at once; the other side waits for the offer, within the attempt timeout. */
    start(): void {
      if (initiator) startAttempt()
      else armTimeout()
    },
    receiveSignal,
    send,

    /** Once a second: ping an idle channel, and give up on a silent one. */
    tick(now: number): void {
      if (view.state !== 'connected' || !peer) return
      if (now - lastHeard > SILENCE_MS) fail()
      else if (now - lastSent >= PING_MS) send({ type: 'ping' })
    },

    /** Their channel carried something within the silence timeout. */
    heardRecently: () => view.state === 'connected' && Date.now() - lastHeard < SILENCE_MS,

    /** Their hello arrived: name and colour, then `resend` runs before messages may flow. */
    greeted(name: string, color: string | undefined, resend: () => void): void {
      profile(name, color)
      resend()
      ready = true
    },

    profile,

    setCode(code: string): void {
      if (view.state !== 'connected' || view.code === code) return
      view.code = code
      updated()
    },

    /** Their signals do not open: stop connecting to them and show them as failed. */
    markUnverified(): void {
      if (unverified) return
      unverified = true
      view.unverified = true
      drop()
      setState('failed')
    },

    /** Binary over the open channel, waiting while its buffer is full. False if the channel went. */
    async sendBinary(bytes: Uint8Array): Promise<boolean> {
      const current = peer
      if (!ready || !current) return false
      await whenDrained(current)
      if (peer !== current || !ready) return false
      try {
        current.send(bytes as unknown as string)
        lastSent = Date.now()
        return true
      } catch {
        return false
      }
    },

    /** The one way a link ends: the connection closes quietly and no timer or late event acts again. */
    destroy(): void {
      if (destroyed) return
      destroyed = true
      drop()
    },
  }
}

export type PeerLink = ReturnType<typeof createPeerLink>
