import type { IceServer } from '../../signaling/protocol'
import { mark } from './marks'
import { helloFrom, type PeerMessage, type SignalEnvelope } from './peer-protocol'
import type { CreatePeer, PairMemory, PeerLike, PeerState, PeerView, RoomSelf } from './types'
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

export interface PeerLinkOptions {
  id: string
  name: string
  memory: Omit<PairMemory, 'name'>
  self: RoomSelf
  createPeer: CreatePeer
  iceServers: () => IceServer[]
  /** An envelope for this peer, to seal and send through the server. */
  signal(envelope: SignalEnvelope): void
  /** Their state, route, name, colour or code changed. */
  changed(event: 'peer-connected' | 'peer-updated', view: PeerView): void
  /** A channel opened: the mesh's liveness timer must run. */
  opened(): void
  data(raw: unknown): void
  /** Their stream went away and now their channel too: nothing says they are still there. */
  gone(): void
}

const isOffer = (signal: unknown) => (signal as { type?: unknown }).type === 'offer'

/**
 * One pair's connection, healing itself: attempts numbered per pair, glare settled by peer id, retries
 * with backoff, pings and a silence timeout, and `destroy()` as the one way it ends. A class: it is the
 * one part of the room with a lifecycle of its own.
 */
export class PeerLink {
  readonly id: string
  /** The server says their stream dropped (they may be gone, or on a train through a tunnel). */
  away = false
  /** The highest seq of theirs received so far (what our hello says we have). */
  received: number
  /** My last message seq when they arrived: they get messages after it, never my older history. */
  readonly baseline: number
  readonly #options: PeerLinkOptions
  readonly #view: PeerView
  /**
   * Exactly one side of a pair initiates: the newer member, i.e. the one that found the other in its
   * roster (the other learns of it from `peer-joined`). The server serialises joins, so the two always
   * agree, and the newcomer sends its offers straight from the join reply. Decided once per pair and
   * kept for every reconnection; the rare disagreements (after a missed event) are settled by peer id,
   * see receiveSignal.
   */
  #initiator: boolean
  #attempt: number
  #peer: PeerLike | null = null
  #ready = false
  /** Their hello before our 'connect': answered once ours is out, ahead of our catch-up (checked by its key). */
  #earlyHello: (() => void) | undefined
  /** Their signals do not open with the room key: a different link, or tampering. No attempts. */
  #unverified = false
  #lastHeard = 0
  #lastSent = 0
  #failures = 0
  #timer: ReturnType<typeof setTimeout> | undefined
  #destroyed = false

  constructor(options: PeerLinkOptions) {
    this.#options = options
    this.id = options.id
    this.#view = { id: options.id, name: options.name, state: 'connecting' }
    this.#initiator = options.memory.initiator
    this.#attempt = options.memory.attempt
    this.baseline = options.memory.baseline
    this.received = options.memory.received
  }

  view(): PeerView {
    return { ...this.#view }
  }

  get state(): PeerState {
    return this.#view.state
  }
  /** The remote's hello arrived on the current channel: messages may flow. */
  get ready(): boolean {
    return this.#ready
  }
  get hasChannel(): boolean {
    return this.#peer !== null
  }

  /** What to remember of the pair once the link is gone. */
  memory(): PairMemory {
    return { initiator: this.#initiator, attempt: this.#attempt, baseline: this.baseline, received: this.received, name: this.#view.name }
  }

  /** The initiator offers at once; the other side waits for the offer, within the attempt timeout. */
  start(): void {
    if (this.#initiator) this.#startAttempt()
    else this.#armTimeout()
  }

  receiveSignal(envelope: SignalEnvelope): void {
    const { self } = this.#options
    if (this.#unverified) {
      // A signal that opens after all (the tampering stopped): start over with them.
      this.#unverified = false
      this.#view.unverified = undefined
      this.#failures = 0
      this.#setState('connecting')
    }
    if ('refused' in envelope) return
    if ('restart' in envelope) {
      // Both sides waiting for the other: the lower id takes the initiator's role. Or their side of our attempt
      // failed, which counts: a pair that cannot connect shows as failed on both sides.
      if (!this.#initiator && self.id < this.id) this.#initiator = true
      if (!this.#initiator || envelope.attempt < this.#attempt || this.state === 'connected') return
      if (this.#peer && ++this.#failures >= FAILURES_BEFORE_FAILED) this.#setState('failed')
      return void this.#startAttempt()
    }
    if (this.#initiator && isOffer(envelope.signal)) {
      // Glare, both sides offering: the higher id yields and answers.
      if (self.id < this.id) return
      this.#initiator = false
    }
    const attempt = this.#attempt
    if (this.#initiator) {
      if (envelope.attempt === attempt) this.#peer?.signal(envelope.signal)
    } else if (envelope.attempt > attempt || (envelope.attempt === attempt && !this.#peer && isOffer(envelope.signal))) {
      this.#startAttempt(envelope.attempt).signal(envelope.signal)
    } else if (envelope.attempt === attempt) {
      this.#peer?.signal(envelope.signal)
    }
  }

  send(message: PeerMessage): void {
    try {
      this.#lastSent = Date.now()
      this.#peer?.send(JSON.stringify(message))
    } catch {
      // The channel is closing; its 'close' follows, and the hello of the next one resumes the outbox.
    }
  }

  /** Binary over the open channel, waiting while its buffer is full. False if the channel went. */
  async sendBinary(bytes: Uint8Array): Promise<boolean> {
    const peer = this.#peer
    if (!this.#ready || !peer) return false
    await whenDrained(peer)
    if (this.#peer !== peer || !this.#ready) return false
    try {
      peer.send(bytes as unknown as string)
      this.#lastSent = Date.now()
      return true
    } catch {
      return false
    }
  }

  /** Once a second: ping an idle channel, and give up on a silent one. */
  tick(now: number): void {
    if (this.state !== 'connected' || !this.#peer) return
    if (now - this.#lastHeard > SILENCE_MS) this.#fail()
    else if (now - this.#lastSent >= PING_MS) this.send({ type: 'ping' })
  }

  /** Their channel carried something within the silence timeout (their pings at least). */
  heardRecently(): boolean {
    return this.state === 'connected' && Date.now() - this.#lastHeard < SILENCE_MS
  }

  /** Runs `answer` (to their hello) now if our own hello is out, else right after it. */
  afterOwnHello(answer: () => void): void {
    if (this.state === 'connected') answer()
    else this.#earlyHello = answer
  }

  /** Their hello arrived: name and colour, then `resend` runs before messages may flow. */
  greeted(name: string, color: string | undefined, key: string | undefined, resend: () => void): void {
    // Shown at once (the page blocks a listed key before anything else of theirs is shown).
    this.#view.key = key
    this.profile(name, color)
    this.#updated()
    resend()
    this.#ready = true
    // Only now is the attempt made: a channel that never brings their hello (seen once) times out.
    clearTimeout(this.#timer)
    this.#failures = 0
    mark('hello-exchanged')
  }

  profile(name: string, color?: string): void {
    const view = this.#view
    if ((!name || name === view.name) && (!color || color === view.color)) return
    if (name) view.name = name
    if (color) view.color = color
    this.#updated()
  }

  setCode(code: string): void {
    if (this.state !== 'connected' || this.#view.code === code) return
    this.#view.code = code
    this.#updated()
  }

  /** Their signals do not open: stop connecting to them and show them as failed. */
  markUnverified(): void {
    if (this.#unverified) return
    this.#unverified = this.#view.unverified = true
    this.#drop()
    this.#setState('failed')
  }

  /** The one way a link ends: the connection closes quietly and no timer or late event acts again. */
  destroy(): void {
    if (!this.#destroyed) this.#drop()
    this.#destroyed = true
  }

  #updated() {
    this.#options.changed('peer-updated', this.view())
  }

  #setState(state: PeerState) {
    if (this.#view.state === state) return
    this.#view.state = state
    this.#options.changed(state === 'connected' ? 'peer-connected' : 'peer-updated', this.view())
  }

  /** Drops the current connection (if any) without a state change. */
  #drop() {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#ready = false
    this.#earlyHello = undefined
    const peer = this.#peer
    this.#peer = null
    peer?.destroy()
  }

  #armTimeout() {
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => this.#fail(), CONNECT_TIMEOUT_MS)
  }

  #startAttempt(attempt = this.#attempt + 1): PeerLike {
    const { createPeer, iceServers, signal } = this.#options
    this.#drop()
    this.#view.code = undefined
    this.#view.route = undefined
    if (this.state === 'connected') this.#setState('reconnecting')
    this.#attempt = attempt
    const peer = createPeer({ initiator: this.#initiator, iceServers: iceServers() })
    this.#peer = peer
    this.#armTimeout()
    const current = () => this.#peer === peer && !this.#destroyed
    peer.on('signal', (data) => current() && signal({ attempt, signal: data }))
    peer.on('connect', () => current() && this.#connected(peer, current))
    peer.on('data', (data) => {
      if (!current()) return
      this.#lastHeard = Date.now()
      this.#options.data(data)
    })
    peer.on('error', () => {}) // 'close' follows every error
    peer.on('close', () => current() && this.#fail())
    return peer
  }

  #connected(peer: PeerLike, current: () => boolean) {
    this.#lastHeard = Date.now()
    this.#options.opened()
    this.send(helloFrom(this.#options.self, this.received))
    this.#setState('connected')
    const early = this.#earlyHello
    this.#earlyHello = undefined
    early?.()
    peer.getStats?.((err, reports) => {
      const route = err ? undefined : routeOf(reports)
      if (!route || !current() || this.#view.route === route) return
      this.#view.route = route
      this.#updated()
    })
  }

  /** The connection failed, timed out or closed: back off, then the initiator tries again. */
  #fail() {
    if (this.away) return this.#options.gone()
    const wasConnected = this.state === 'connected'
    this.#drop()
    this.#failures++
    this.#setState(wasConnected ? 'reconnecting' : this.#failures >= FAILURES_BEFORE_FAILED ? 'failed' : this.state)
    const retry = () => {
      if (this.#unverified) return // nothing from them opens: do not keep offering
      if (this.#initiator) this.#startAttempt()
      else {
        // Only the initiator starts attempts; ask it to, in case its own timer is further off.
        this.#options.signal({ attempt: this.#attempt, restart: true })
        this.#armTimeout()
      }
    }
    this.#timer = setTimeout(retry, backoffMs(this.#failures - 1, RETRY_MIN_MS, RETRY_MAX_MS))
  }
}
