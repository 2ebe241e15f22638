import type { IceServer, PeerInfo } from '../signaling/protocol'
import type { Emitter } from './emitter'
import { cleanName, parseEnvelope, parsePeerMessage, type ChatMessage, type Hello, type PeerMessage, type SignalEnvelope } from './peer-protocol'
import type { RoomEvents } from './room'
import { routeOf, whenDrained } from './webrtc'

export type PeerState = 'connecting' | 'connected' | 'reconnecting' | 'failed'

export interface PeerView {
  id: string
  name: string
  state: PeerState
  /** Six digits both ends see once connected; equal codes mean nobody is in between (see crypto.ts). */
  code?: string
  /** Their signals do not open with this room's key (state is 'failed'; nothing is retried). */
  unverified?: boolean
  /** How the connected pair's packets travel: straight between the two, or through a TURN relay. */
  route?: 'direct' | 'relayed'
  /** Their chosen colour (#rrggbb). */
  color?: string
}

/** The slice of simple-peer the mesh uses; tests pass fakes with the same shape. */
export interface PeerLike {
  signal(data: unknown): void
  send(data: string): void
  destroy(): void
  on(event: 'signal', handler: (data: unknown) => void): unknown
  on(event: 'connect' | 'close', handler: () => void): unknown
  on(event: 'data', handler: (data: unknown) => void): unknown
  on(event: 'error', handler: (err: Error) => void): unknown
  /** simple-peer's: the RTCPeerConnection's stats reports. */
  getStats?(callback: (err: Error | null, reports: Array<Record<string, unknown>>) => void): void
}

export type CreatePeer = (options: { initiator: boolean; iceServers: IceServer[] }) => PeerLike

// Timings of the self-healing loop: how long an attempt may take, and the retry backoff.
const CONNECT_TIMEOUT_MS = 15_000
const RETRY_MIN_MS = 250
const RETRY_MAX_MS = 15_000
const FAILURES_BEFORE_FAILED = 3
// A channel that carried nothing (not even our 1 Hz pings) for this long is dead: a killed browser
// sends no goodbye, and ICE takes far longer to notice. Background tabs still get 1 Hz timers.
export const PING_MS = 1_000
export const SILENCE_MS = 5_000
/** Pairs remembered after a peer goes, so one that comes back resumes where it was. */
const REMEMBERED_PAIRS = 256
/** Messages kept for peers that are not (yet, or not any more) connected. */
export const OUTBOX_MESSAGES = 1_000
const SEEN_IDS = 10_000

interface Remote {
  view: PeerView
  /**
   * Exactly one side of a pair initiates: the newer member, i.e. the one that found the other in its
   * roster (the other learns of it from `peer-joined`). The server serialises joins, so the two always
   * agree, and the newcomer sends its offers straight from the join reply. Decided once per pair and
   * kept for every reconnection; the rare disagreements (after a missed event) are settled by peer id,
   * see receiveSignal.
   */
  initiator: boolean
  attempt: number
  peer: PeerLike | null
  /** The remote's hello arrived on the current channel: messages may flow. */
  ready: boolean
  /**
   * Their hello, when it arrived before our channel's 'connect' (their side opened first): answered
   * once ours is sent, so that our hello always precedes our catch-up (they check our messages
   * against the key in it).
   */
  earlyHello: Hello | undefined
  /** My last message seq when they arrived: they get messages after it, never my older history. */
  baseline: number
  /** The highest seq of theirs I have received. */
  received: number
  /** The server says their stream dropped (they may be gone, or on a train through a tunnel). */
  away: boolean
  /** Their signals do not open with the room key: a different link, or tampering. No attempts. */
  unverified: boolean
  /** When their channel last carried anything. */
  lastHeard: number
  lastSent: number
  failures: number
  timer: ReturnType<typeof setTimeout> | undefined
}

const isOffer = (signal: unknown) => (signal as { type?: unknown }).type === 'offer'

interface MeshOptions {
  self: { id: string; name: string; color?: string; key?: string }
  events: Emitter<RoomEvents>
  createPeer: CreatePeer
  iceServers: () => IceServer[]
  signal: (to: string, envelope: SignalEnvelope) => void
  /** A new chat message from `from` (deduplicated; its signature still to be checked). */
  onChat: (from: string, message: ChatMessage) => void
  /** Their hello (for their signing key) and every other message type the mesh does not handle. */
  onMessage: (from: string, message: PeerMessage) => void
  /** Binary frames (file content); false when nobody expected it. */
  onBinary: (from: string, bytes: Uint8Array) => boolean
}

/** The full mesh of one room: one connection per remote peer, each healing itself, plus the outbox. */
export function createMesh({ self, events, createPeer, iceServers, signal, onChat, onMessage, onBinary }: MeshOptions) {
  const remotes = new Map<string, Remote>()
  const outbox: ChatMessage[] = []
  const seen = new Set<string>()
  const counters = { dropped: 0, duplicates: 0 }
  const remembered = new Map<string, { initiator: boolean; attempt: number; baseline: number; received: number; name: string }>()
  let pinger: ReturnType<typeof setInterval> | undefined

  const view = (r: Remote): PeerView => ({ ...r.view })
  const lastSeq = () => outbox.at(-1)?.seq ?? 0

  function setState(remote: Remote, state: PeerState) {
    if (remote.view.state === state) return
    remote.view.state = state
    events.emit(state === 'connected' ? 'peer-connected' : 'peer-updated', view(remote))
  }

  function add(info: PeerInfo, newer: boolean): void {
    if (info.id === self.id || remotes.has(info.id)) return
    const known = remembered.get(info.id)
    const remote: Remote = {
      view: { id: info.id, name: cleanName(info.meta ?? '') || known?.name || '', state: 'connecting' },
      initiator: known?.initiator ?? newer,
      attempt: known?.attempt ?? 0,
      peer: null,
      ready: false,
      earlyHello: undefined,
      baseline: known?.baseline ?? lastSeq(),
      received: known?.received ?? 0,
      away: false,
      unverified: false,
      lastHeard: 0,
      lastSent: 0,
      failures: 0,
      timer: undefined,
    }
    remotes.set(info.id, remote)
    events.emit('peer-joined', view(remote))
    if (remote.initiator) startAttempt(remote)
    else armTimeout(remote)
  }

  /** Drops the current connection (if any) without a state change; the one teardown path of a peer. */
  function dropPeer(remote: Remote) {
    clearTimeout(remote.timer)
    remote.timer = undefined
    remote.ready = false
    remote.earlyHello = undefined
    const peer = remote.peer
    remote.peer = null
    peer?.destroy()
  }

  function remove(id: string): void {
    const remote = remotes.get(id)
    if (!remote) return
    remotes.delete(id)
    dropPeer(remote)
    const { initiator, attempt, baseline, received } = remote
    remembered.delete(id)
    remembered.set(id, { initiator, attempt, baseline, received, name: remote.view.name })
    if (remembered.size > REMEMBERED_PAIRS) remembered.delete(remembered.keys().next().value!)
    if (remotes.size === 0) stopPinging()
    events.emit('peer-left', view(remote))
  }

  /** Once a second: ping idle channels, and give up on silent ones. */
  function tick() {
    const now = Date.now()
    for (const remote of [...remotes.values()]) {
      if (remote.view.state !== 'connected' || !remote.peer) continue
      if (now - remote.lastHeard > SILENCE_MS) {
        fail(remote)
      } else if (now - remote.lastSent >= PING_MS) {
        send(remote, { type: 'ping' })
      }
    }
  }

  function startPinging() {
    pinger ??= setInterval(tick, PING_MS)
  }

  function stopPinging() {
    clearInterval(pinger)
    pinger = undefined
  }

  /** Presence hints from the server about a peer's stream. */
  function setAway(id: string, away: boolean) {
    const remote = remotes.get(id)
    if (remote) {
      remote.away = away
      // Their stream and our channel both dropped: nothing says they are still there.
      if (away && remote.view.state !== 'connected' && remote.view.state !== 'connecting') remove(id)
    } else if (!away && remembered.has(id)) {
      add({ id }, false) // back within the grace period after we gave up on them
    }
  }

  function armTimeout(remote: Remote) {
    clearTimeout(remote.timer)
    remote.timer = setTimeout(() => fail(remote), CONNECT_TIMEOUT_MS)
  }

  function startAttempt(remote: Remote, attempt = remote.attempt + 1) {
    dropPeer(remote)
    remote.view.code = undefined
    remote.view.route = undefined
    if (remote.view.state === 'connected') setState(remote, 'reconnecting')
    remote.attempt = attempt
    const peer = createPeer({ initiator: remote.initiator, iceServers: iceServers() })
    remote.peer = peer
    armTimeout(remote)
    const current = () => remote.peer === peer && remotes.get(remote.view.id) === remote
    peer.on('signal', (data) => current() && signal(remote.view.id, { attempt, signal: data }))
    peer.on('connect', () => {
      if (!current()) return
      clearTimeout(remote.timer)
      remote.failures = 0
      remote.lastHeard = Date.now()
      startPinging()
      send(remote, {
        type: 'hello',
        name: self.name,
        have: remote.received,
        ...(self.key ? { key: self.key } : {}),
        ...(self.color ? { color: self.color } : {}),
      })
      setState(remote, 'connected')
      const early = remote.earlyHello
      remote.earlyHello = undefined
      if (early) hello(remote, early)
      peer.getStats?.((err, reports) => {
        const route = err ? undefined : routeOf(reports)
        if (!route || !current() || remote.view.route === route) return
        remote.view.route = route
        events.emit('peer-updated', view(remote))
      })
    })
    peer.on('data', (data) => current() && receive(remote, data))
    peer.on('error', () => {}) // 'close' follows every error
    peer.on('close', () => current() && fail(remote))
    return peer
  }

  /** The connection failed, timed out or closed: back off, then the initiator tries again. */
  function fail(remote: Remote) {
    // Their stream is gone (or the server dropped them) and now their channel: nothing says they are there.
    if (remote.away) return remove(remote.view.id)
    const wasConnected = remote.view.state === 'connected'
    dropPeer(remote)
    remote.failures++
    setState(remote, wasConnected ? 'reconnecting' : remote.failures >= FAILURES_BEFORE_FAILED ? 'failed' : remote.view.state)
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (remote.failures - 1)) * (0.5 + Math.random() / 2)
    remote.timer = setTimeout(() => {
      if (remote.unverified) return // nothing from them opens: do not keep offering
      if (remote.initiator) startAttempt(remote)
      else {
        // Only the initiator starts attempts; ask it to, in case its own timer is further off.
        signal(remote.view.id, { attempt: remote.attempt, restart: true })
        armTimeout(remote)
      }
    }, delay)
  }

  function receiveSignal(from: string, data: unknown): void {
    const remote = remotes.get(from)
    const envelope = parseEnvelope(data)
    if (!remote || !envelope) return void counters.dropped++
    if (remote.unverified) {
      // A signal that opens after all (the tampering stopped): start over with them.
      remote.unverified = false
      remote.view.unverified = undefined
      remote.failures = 0
      setState(remote, 'connecting')
    }
    if ('refused' in envelope) return
    if ('restart' in envelope) {
      // Both sides waiting for the other: the lower id takes the initiator's role.
      if (!remote.initiator && self.id < remote.view.id) remote.initiator = true
      if (remote.initiator && envelope.attempt >= remote.attempt && remote.view.state !== 'connected') startAttempt(remote)
      return
    }
    if (remote.initiator && isOffer(envelope.signal)) {
      // Glare, both sides offering: the higher id yields and answers.
      if (self.id < remote.view.id) return
      remote.initiator = false
    }
    if (remote.initiator) {
      if (envelope.attempt === remote.attempt) remote.peer?.signal(envelope.signal)
    } else if (envelope.attempt > remote.attempt || (envelope.attempt === remote.attempt && !remote.peer && isOffer(envelope.signal))) {
      startAttempt(remote, envelope.attempt).signal(envelope.signal)
    } else if (envelope.attempt === remote.attempt) {
      remote.peer?.signal(envelope.signal)
    }
  }

  function send(remote: Remote, message: PeerMessage) {
    try {
      remote.lastSent = Date.now()
      remote.peer?.send(JSON.stringify(message))
    } catch {
      // The channel is closing; its 'close' follows, and the hello of the next one resumes the outbox.
    }
  }

  function receive(remote: Remote, raw: unknown) {
    remote.lastHeard = Date.now()
    if (raw instanceof Uint8Array) {
      if (!onBinary(remote.view.id, raw)) counters.dropped++
      return
    }
    const message = parsePeerMessage(raw, remote.view.id)
    if (!message) return void counters.dropped++
    switch (message.type) {
      case 'ping':
        return
      case 'hello':
        if (remote.view.state !== 'connected') return void (remote.earlyHello = message)
        return hello(remote, message)
      case 'name':
        return profile(remote, message.name, message.color)
      case 'chat':
        if (message.to !== undefined && message.to !== self.id) return void counters.dropped++
        if (seen.has(message.id) || message.seq <= remote.received) return void counters.duplicates++
        remote.received = message.seq
        remember(message.id)
        profile(remote, message.name)
        return onChat(remote.view.id, message)
      default:
        return onMessage(remote.view.id, message)
    }
  }

  function profile(remote: Remote, name: string, color?: string) {
    const changed = (name && name !== remote.view.name) || (color && color !== remote.view.color)
    if (!changed) return
    if (name) remote.view.name = name
    if (color) remote.view.color = color
    events.emit('peer-updated', view(remote))
  }

  function hello(remote: Remote, message: Hello) {
    greet(remote, message)
    onMessage(remote.view.id, message)
  }

  /** Their hello says what they have of mine: send the rest of the outbox (theirs only), then go live. */
  function greet(remote: Remote, hello: Hello) {
    profile(remote, hello.name, hello.color)
    const from = Math.max(hello.have, remote.baseline)
    for (const message of outbox) {
      if (message.seq > from && (message.to === undefined || message.to === remote.view.id)) send(remote, message)
    }
    remote.ready = true
  }

  function remember(id: string) {
    seen.add(id)
    if (seen.size > SEEN_IDS) seen.delete(seen.values().next().value!)
  }

  return {
    /** Someone joined after us: they initiate. */
    add: (info: PeerInfo) => add(info, false),
    remove,
    receiveSignal,

    /** A roster is the truth about who is in the room; `optimistic` ones (from a join reply) only add. */
    reconcile(peers: PeerInfo[], optimistic = false): void {
      const ids = new Set(peers.map((p) => p.id))
      // Connected peers missing from the roster are kept: after a server restart the roster fills up
      // as everyone re-joins, and their channels never needed the server.
      if (!optimistic) {
        for (const [id, remote] of [...remotes]) if (!ids.has(id) && remote.view.state !== 'connected') remove(id)
      }
      for (const info of peers) add(info, true)
    },

    /** Sends a chat message to everyone (or to `message.to` only), now or when they connect. */
    broadcast(message: ChatMessage): void {
      outbox.push(message)
      if (outbox.length > OUTBOX_MESSAGES) outbox.shift()
      remember(message.id)
      for (const remote of remotes.values()) {
        if (remote.ready && (message.to === undefined || message.to === remote.view.id)) send(remote, message)
      }
    },

    /** Sends to one connected peer (or every one without `to`); no outbox: for the moment only. */
    sendNow(message: PeerMessage, to?: string): string[] {
      const sent: string[] = []
      for (const remote of remotes.values()) {
        if (remote.ready && (to === undefined || to === remote.view.id)) {
          send(remote, message)
          sent.push(remote.view.id)
        }
      }
      return sent
    },

    /** Binary to one connected peer, waiting while its channel's buffer is full. False if it went. */
    async sendBinary(to: string, bytes: Uint8Array): Promise<boolean> {
      const remote = remotes.get(to)
      const peer = remote?.peer
      if (!remote?.ready || !peer) return false
      await whenDrained(peer)
      if (remote.peer !== peer || !remote.ready) return false
      try {
        peer.send(bytes as unknown as string)
        remote.lastSent = Date.now()
        return true
      } catch {
        return false
      }
    },

    /** Everyone whose channel is open and greeted. */
    connected: (): string[] => [...remotes.values()].filter((r) => r.ready).map((r) => r.view.id),

    announceName(): void {
      // Every open channel, ready or not: a hello sent before the rename carried the old name.
      for (const remote of remotes.values()) {
        if (remote.view.state === 'connected') {
          send(remote, { type: 'name', name: self.name, ...(self.color ? { color: self.color } : {}) })
        }
      }
    },

    views: (): PeerView[] => [...remotes.values()].map(view),

    away: (id: string) => setAway(id, true),
    back: (id: string) => setAway(id, false),

    /**
     * The server dropped them after the grace period. A channel that still carries their pings says
     * they are here all the same (their stream is what broke): keep them, as away, until it dies.
     */
    timedOut(id: string): void {
      const remote = remotes.get(id)
      if (remote && remote.view.state === 'connected' && Date.now() - remote.lastHeard < SILENCE_MS) remote.away = true
      else remove(id)
    },

    /** Their signals do not open: stop connecting to them and show them as failed. */
    unverified(id: string): void {
      const remote = remotes.get(id)
      if (!remote || remote.unverified) return
      remote.unverified = true
      remote.view.unverified = true
      dropPeer(remote)
      setState(remote, 'failed')
    },

    /** Sends an envelope outside any connection attempt. */
    signalRaw(id: string, envelope: SignalEnvelope): void {
      if (remotes.has(id)) signal(id, envelope)
    },

    setCode(id: string, code: string): void {
      const remote = remotes.get(id)
      if (!remote || remote.view.state !== 'connected' || remote.view.code === code) return
      remote.view.code = code
      events.emit('peer-updated', view(remote))
    },

    /** The server knows no such peer: unless a live channel says otherwise, they are gone. */
    unknown(id: string): void {
      if (remotes.get(id)?.view.state !== 'connected') remove(id)
    },

    /** Closes every connection quietly (leaving, or re-joining with a new identity). */
    reset(): void {
      for (const remote of remotes.values()) dropPeer(remote)
      remotes.clear()
      remembered.clear()
      stopPinging()
    },

    stats: () => ({
      ...counters,
      connections: [...remotes.values()].filter((r) => r.peer).length,
      outbox: outbox.length,
    }),
  }
}
