import { nanoid } from 'nanoid'
import type { IceServer, PeerInfo } from '../signaling/protocol'
import { sdpFingerprint, verificationCode } from './crypto'
import { createEmitter } from './emitter'
import { createMesh, type CreatePeer, type PeerView } from './mesh'
import { cleanName, cleanText, MAX_TEXT_CHARS, type ChatMessage } from './peer-protocol'
import { createSealer, type Sealer } from './sealer'
import {
  createSignaling,
  SignalingError,
  type MembershipEvent,
  type MembershipHandlers,
  type Signaling,
  type SignalingStatus,
} from './signaling'
import { createSimplePeer, warmUp } from './webrtc'

export type { ChatMessage } from './peer-protocol'
export type { PeerView, PeerState, CreatePeer } from './mesh'

export type RoomStatus = 'joining' | 'online' | 'reconnecting' | 'closed'

export type RoomEvents = {
  'peer-joined': PeerView
  'peer-connected': PeerView
  /** Name or connection state changed. */
  'peer-updated': PeerView
  'peer-left': PeerView
  /** A chat message from someone else (your own are returned by `send`). */
  message: ChatMessage
  status: RoomStatus
  error: Error
}

export interface JoinOptions {
  room: string
  /** The room secret from the link's fragment: it keys every signal; the server never sees it. */
  secret: string
  name: string
  /** Base URL of the signaling API. Default: `/v1` on the page's origin. */
  server?: string
  /** Share a signaling connection between rooms (and tabs); created per room when omitted. */
  signaling?: Signaling
  /** Replaces simple-peer (tests inject fakes). */
  createPeer?: CreatePeer
  /** Replaces the room's encryption (unit tests inject a clear one; see client/sealer.ts). */
  sealer?: Sealer
}

export interface Room {
  readonly id: string
  /** This person's server-issued peer id ('' until joined). */
  readonly self: { id: string; name: string }
  readonly status: RoomStatus
  /** Everyone else in the room, with their connection state. */
  readonly peers: PeerView[]
  /** Sends to everyone; null (nothing sent) when empty, too long, or not joined yet. */
  send(text: string): ChatMessage | null
  setName(name: string): void
  leave(): void
  on: ReturnType<typeof createEmitter<RoomEvents>>['on']
  off: ReturnType<typeof createEmitter<RoomEvents>>['off']
  /** Counters for diagnostics and tests. */
  stats(): { dropped: number; duplicates: number; connections: number; outbox: number }
}

// Refresh TURN credentials at 80% of their lifetime; after a failed refresh, try again in a minute.
const ICE_REFRESH_AT = 0.8
const ICE_RETRY_S = 60

const roomStatus = (s: SignalingStatus): RoomStatus => (s === 'online' ? 'online' : s === 'offline' ? 'reconnecting' : 'joining')

/** Joins a room: a full mesh of data channels to everyone in it, introduced by the signaling server. */
export function joinRoom(options: JoinOptions): Room {
  const events = createEmitter<RoomEvents>()
  const ownsSignaling = !options.signaling
  const signaling = options.signaling ?? createSignaling(options.server)
  const self = { id: '', name: cleanName(options.name) }
  let status: RoomStatus = 'joining'
  let iceServers: IceServer[] = []
  let seq = 0
  let left = false
  let iceTimer: ReturnType<typeof setTimeout> | undefined

  const sealer = options.sealer ?? createSealer(options.secret, options.room)
  // Sealing and opening are asynchronous; these chains keep signals and events in their order.
  let outgoing: Promise<unknown> = Promise.resolve()
  let incoming: Promise<unknown> = Promise.resolve()
  const fingerprints = new Map<string, string>()
  const localFingerprints = new Map<string, string>()
  const warned = new Set<string>()

  const mesh = createMesh({
    self,
    events,
    createPeer: options.createPeer ?? createSimplePeer,
    iceServers: () => iceServers,
    signal(to, envelope) {
      const from = self.id
      // Our side of the pair's verification code: the fingerprint this very connection offers.
      const mine = 'signal' in envelope ? sdpFingerprint((envelope.signal as { sdp?: unknown }).sdp) : null
      if (mine) localFingerprints.set(to, mine)
      outgoing = outgoing
        .then(async () => {
          const sealed = await sealer.sealSignal(from, to, envelope)
          if (!left && from === self.id) signaling.signal(from, to, sealed)
        })
        .catch((err: Error) => events.emit('error', err))
    },
  })

  /** Peers as the server lists them, with the names their sealed metadata holds. */
  const named = (peers: PeerInfo[]) =>
    Promise.all(peers.map(async (p) => ({ id: p.id, meta: (await sealer.openMeta(p.meta)) ?? '' })))

  const WARNINGS = {
    forged: [
      'UNVERIFIED_PEER',
      'Cannot verify the connection details of someone in this room: they have a different link, or someone is tampering with the connection. Not connecting to them.',
    ],
    refused: [
      'UNVERIFIED_PEER',
      'Cannot verify the connection details of someone in this room: they cannot open ours (a different link, or tampering). Not connecting to them.',
    ],
    replayed: ['REPLAYED_SIGNAL', 'A repeated (replayed) connection message was refused.'],
  } as const

  function unverified(peer: string, reason: keyof typeof WARNINGS) {
    if (reason !== 'replayed') mesh.unverified(peer)
    if (warned.has(`${reason} ${peer}`)) return
    warned.add(`${reason} ${peer}`)
    // Tell them, once: they may never hear anything else from us that opens.
    if (reason === 'forged') mesh.signalRaw(peer, { attempt: 0, refused: true })
    const [code, message] = WARNINGS[reason]
    events.emit('error', Object.assign(new SignalingError(code, message), { peer }))
  }

  async function handle(event: MembershipEvent) {
    if (left) return
    switch (event.type) {
      case 'roster':
        return mesh.reconcile(await named(event.peers))
      case 'peer-joined':
        return mesh.add((await named([event.peer]))[0]!)
      case 'peer-left':
        return event.reason === 'timeout' ? mesh.timedOut(event.peer) : mesh.remove(event.peer)
      case 'peer-away':
        return mesh.away(event.peer)
      case 'peer-back':
        return mesh.back(event.peer)
      case 'signal': {
        const opened = await sealer.openSignal(self.id, event.from, event.data)
        if (!opened.ok) return unverified(event.from, opened.reason)
        if ('refused' in opened.envelope) return unverified(event.from, 'refused')
        if (opened.fingerprint) fingerprints.set(event.from, opened.fingerprint)
        return mesh.receiveSignal(event.from, opened.envelope)
      }
    }
  }

  const enqueue = (task: () => Promise<unknown> | unknown) => {
    incoming = incoming.then(task).catch((err: Error) => events.emit('error', err))
  }

  // Once connected, both ends can read the same code off the two DTLS fingerprints.
  events.on('peer-connected', (peer) => {
    const theirs = fingerprints.get(peer.id)
    const mine = localFingerprints.get(peer.id)
    if (theirs && mine) void verificationCode(mine, theirs).then((code) => mesh.setCode(peer.id, code))
  })

  const setStatus = (next: RoomStatus) => {
    if (status === next || status === 'closed') return
    status = next
    events.emit('status', next)
  }

  const offs = [
    signaling.on('status', (s) => self.id && setStatus(roomStatus(s))),
    signaling.on('error', (err) => events.emit('error', err)),
  ]

  const handlers: MembershipHandlers = {
    joined(membership) {
      if (left) return
      self.id = membership.peer
      iceServers = membership.iceServers
      scheduleIceRefresh(membership.iceServersTtlS)
      setStatus(signaling.status === 'offline' ? 'reconnecting' : 'online')
      enqueue(async () => mesh.reconcile(await named(membership.peers), true))
    },
    event: (event) => enqueue(() => handle(event)),
    lost: () => void enter(),
    unknown: (peer) => enqueue(() => mesh.unknown(peer)),
  }

  /** TURN credentials expire: fetch new ones well before, for the connections made after that. */
  function scheduleIceRefresh(ttlS: number | undefined) {
    clearTimeout(iceTimer)
    if (!ttlS) return
    iceTimer = setTimeout(() => {
      if (left || !self.id) return
      signaling
        .refreshIce(self.id)
        .then((ice) => {
          iceServers = ice.iceServers
          scheduleIceRefresh(ice.iceServersTtlS)
        })
        .catch(() => scheduleIceRefresh(ICE_RETRY_S))
    }, ttlS * ICE_REFRESH_AT * 1000)
  }

  async function enter() {
    self.id = ''
    mesh.reset()
    setStatus('joining')
    if (!options.createPeer) void warmUp()
    try {
      const meta = await sealer.sealMeta(self.name)
      if (left) return
      const joined = await signaling.join(options.room, meta, handlers)
      if (left) signaling.leave(joined.peer)
    } catch (err) {
      events.emit('error', err as Error)
      teardown()
    }
  }

  function teardown() {
    if (left) return
    left = true
    clearTimeout(iceTimer)
    for (const off of offs) off()
    mesh.reset()
    if (self.id) signaling.leave(self.id)
    if (ownsSignaling) signaling.close()
    setStatus('closed')
    status = 'closed'
    events.clear()
  }

  void enter()

  return {
    id: options.room,
    self,
    get status() {
      return status
    },
    get peers() {
      return mesh.views()
    },
    send(raw) {
      const text = cleanText(raw)
      if (left || !self.id || text.trim() === '' || text.length > MAX_TEXT_CHARS) return null
      const message: ChatMessage = {
        type: 'chat',
        id: nanoid(),
        from: self.id,
        name: self.name,
        text,
        time: Date.now(),
        seq: ++seq,
      }
      mesh.broadcast(message)
      return message
    },
    setName(name) {
      const clean = cleanName(name)
      if (!clean || clean === self.name) return
      self.name = clean
      mesh.announceName()
    },
    leave: teardown,
    on: events.on,
    off: events.off,
    stats: mesh.stats,
  }
}
