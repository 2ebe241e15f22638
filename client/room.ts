import type { IceServer } from '../signaling/protocol'
import { createConversation, type ChatView, type Receipt } from './conversation'
import { createEmitter } from './emitter'
import { createFiles, type FileTransfer } from './files'
import { createHistory, type HistoryStore } from './history'
import { createIdentity, type Identity } from './identity'
import { createMesh, type CreatePeer, type PeerView } from './mesh'
import { cleanName, cleanText, MAX_TEXT_CHARS } from './peer-protocol'
import { createSealer, type Sealer } from './sealer'
import { createSignalPath } from './signal-path'
import { createSignaling, type MembershipHandlers, type Signaling, type SignalingStatus } from './signaling'
import { createSimplePeer, warmUp } from './webrtc'

export type { ChatMessage } from './peer-protocol'
export type { PeerView, PeerState, CreatePeer } from './mesh'
export type { ChatView, Receipt } from './conversation'
export type { FileTransfer } from './files'
export type { HistoryStore, LogEntry } from './history'

export type RoomStatus = 'joining' | 'online' | 'reconnecting' | 'closed'

export type RoomEvents = {
  'peer-joined': PeerView
  'peer-connected': PeerView
  /** Name, colour, connection state, route or verification code changed. */
  'peer-updated': PeerView
  'peer-left': PeerView
  /** A chat message from someone else, or from history (your own are returned by `send`). */
  message: ChatView
  /** Someone confirmed receiving one of your messages. */
  receipt: Receipt
  /** Who is typing right now. */
  typing: { peers: PeerView[] }
  /** A file transfer started (either way). */
  file: FileTransfer
  'file-progress': FileTransfer
  status: RoomStatus
  error: Error
}

export interface JoinOptions {
  room: string
  /** The room secret from the link's fragment: it keys every signal; the server never sees it. */
  secret: string
  name: string
  /** #rrggbb shown with your name. */
  color?: string
  /** Base URL of the signaling API. Default: `/v1` on the page's origin. */
  server?: string
  /** Share a signaling connection between rooms (and tabs); created per room when omitted. */
  signaling?: Signaling
  /** Keeps the room's history between visits (the chat page uses IndexedDB). */
  store?: HistoryStore
  /** Replaces simple-peer (tests inject fakes). */
  createPeer?: CreatePeer
  /** Replaces the room's encryption (unit tests inject a clear one; see client/sealer.ts). */
  sealer?: Sealer
  /** Replaces the session's signing key (unit tests inject one that trusts everything). */
  identity?: Identity
}

export interface Room {
  readonly id: string
  /** This person's server-issued peer id ('' until joined), name and colour. */
  readonly self: { id: string; name: string; color?: string }
  readonly status: RoomStatus
  /** Everyone else in the room, with their connection state. */
  readonly peers: PeerView[]
  /**
   * Sends to everyone, or with `to` to one person only (a direct message). Null (nothing sent) when
   * empty, too long, or not joined yet.
   */
  send(text: string, options?: { to?: string }): ChatView | null
  /** Call on every keystroke: the others see "typing" (throttled, expiring). */
  typing(): void
  /** Sends a file to everyone connected, or to one person; resolves when everyone has it all. */
  sendFile(file: Blob & { name?: string }, options?: { to?: string }): Promise<FileTransfer>
  /** Stops a file transfer: one you send (`from` omitted), or one `from` someone is sending you. */
  cancelFile(id: string, from?: string): void
  setName(name: string): void
  setColor(color: string): void
  leave(): void
  on: ReturnType<typeof createEmitter<RoomEvents>>['on']
  off: ReturnType<typeof createEmitter<RoomEvents>>['off']
  /** Counters for diagnostics and tests. */
  stats(): { dropped: number; duplicates: number; forged: number; connections: number; outbox: number }
}

// Refresh TURN credentials at 80% of their lifetime; after a failed refresh, try again in a minute.
const ICE_REFRESH_AT = 0.8
const ICE_RETRY_S = 60
const COLOR = /^#[0-9a-f]{6}$/i

const roomStatus = (s: SignalingStatus): RoomStatus => (s === 'online' ? 'online' : s === 'offline' ? 'reconnecting' : 'joining')

/** Joins a room: a full mesh of data channels to everyone in it, introduced by the signaling server. */
export function joinRoom(options: JoinOptions): Room {
  const events = createEmitter<RoomEvents>()
  const ownsSignaling = !options.signaling
  const signaling = options.signaling ?? createSignaling(options.server)
  const self: { id: string; name: string; color?: string; key?: string } = { id: '', name: cleanName(options.name) }
  if (options.color && COLOR.test(options.color)) self.color = options.color.toLowerCase()
  let status: RoomStatus = 'joining'
  let iceServers: IceServer[] = []
  let left = false
  let iceTimer: ReturnType<typeof setTimeout> | undefined
  // Inbound data-channel messages are checked asynchronously (signatures): one chain keeps their order.
  let inbound: Promise<unknown> = Promise.resolve()

  const identity = options.identity ? Promise.resolve(options.identity) : createIdentity(options.room)
  const history = identity.then((id) => createHistory(id))
  const path = createSignalPath({
    self,
    sealer: options.sealer ?? createSealer(options.secret, options.room),
    signaling,
    events,
    mesh: () => mesh,
    closed: () => left,
  })

  const after = (task: () => Promise<unknown>) => {
    inbound = inbound.then(task).catch((err: Error) => events.emit('error', err))
  }

  const mesh = createMesh({
    self,
    events,
    createPeer: options.createPeer ?? createSimplePeer,
    iceServers: () => iceServers,
    signal: (to, envelope) => path.send(to, envelope),
    onChat: (from, message) => after(() => conversation.chat(from, message)),
    onMessage(from, message) {
      // A file offer must be in place before its first binary frame, which is handled at once.
      if (message.type === 'file') return files.offered(from, message)
      if (message.type === 'file-cancel') return files.cancelled(from, message.id)
      after(() => conversation.message(from, message))
    },
    onBinary: (from, bytes) => files.received(from, bytes),
  })
  const conversation = createConversation({ room: options.room, self, mesh, events, identity, history, store: options.store })
  const files = createFiles(mesh, events)

  events.on('peer-left', (peer) => {
    conversation.gone(peer.id)
    files.gone(peer.id)
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
      conversation.joined(membership.peer)
      iceServers = membership.iceServers
      scheduleIceRefresh(membership.iceServersTtlS)
      setStatus(signaling.status === 'offline' ? 'reconnecting' : 'online')
      path.roster(membership.peers)
    },
    event: (event) => path.event(event),
    lost: () => void enter(),
    unknown: (peer) => path.unknown(peer),
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
      const [meta, id] = await Promise.all([path.sealName(self.name), identity])
      self.key = id.key
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
    conversation.close()
    files.reset()
    if (self.id) signaling.leave(self.id)
    if (ownsSignaling) signaling.close()
    setStatus('closed')
    status = 'closed'
    events.clear()
  }

  void conversation.restore()
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
    send(raw, sendOptions) {
      const text = cleanText(raw)
      const to = sendOptions?.to
      if (left || !self.id || text.trim() === '' || text.length > MAX_TEXT_CHARS) return null
      if (to !== undefined && !mesh.views().some((p) => p.id === to)) return null
      return conversation.send(text, to)
    },
    typing: () => conversation.typing(),
    sendFile: (file, sendOptions) => files.send(file, sendOptions?.to),
    cancelFile: (id, from) => files.cancel(id, from),
    setName(name) {
      const clean = cleanName(name)
      if (!clean || clean === self.name) return
      self.name = clean
      mesh.announceName()
    },
    setColor(color) {
      if (!COLOR.test(color) || color.toLowerCase() === self.color) return
      self.color = color.toLowerCase()
      mesh.announceName()
    },
    leave: teardown,
    on: events.on,
    off: events.off,
    stats: () => ({ ...mesh.stats(), ...conversation.stats() }),
  }
}
