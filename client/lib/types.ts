/**
 * The types the room's parts, the worker and the page share. A leaf: it imports only other leaves (wire
 * types), so any file may import it without making a cycle.
 */
import type { IceResponse, IceServer, LeaveReason, PeerInfo } from '../../signaling/protocol'
import type { Emitter } from './emitter'
import type { ChatMessage, SignalEnvelope } from './peer-protocol'
import type { HistoryStore, KeyStore } from './stored'

export type RoomStatus = 'joining' | 'online' | 'reconnecting' | 'closed'

export type PeerState = 'connecting' | 'connected' | 'reconnecting' | 'failed'

/** What outlives a pair's link (see the fields of PeerLink): a peer that comes back resumes where the pair was. */
export interface PairMemory {
  initiator: boolean
  attempt: number
  baseline: number
  received: number
  name: string
}

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
  /** They sent past their budget (floods, too many files, see budget.ts): the excess was dropped. */
  misbehaving?: true
  /**
   * The public signing key their own hello named (opaque). A hello can name anyone's key: a live
   * `message` event from them is what shows they hold it.
   */
  key?: string
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

/** `gathered`: the connection's host candidates have been signalled (later ones may follow), or gathering ended. */
export type CreatePeer = (options: { initiator: boolean; iceServers: IceServer[]; gathered?: () => void }) => PeerLike

/** This person in the room: the server-issued peer id ('' until joined), name, colour, signing key. */
export interface RoomSelf {
  id: string
  name: string
  color?: string
  key?: string
}

/** A chat message as the page shows it. */
export type ChatView = ChatMessage & {
  mine: boolean
  /** Passed on by someone's history (or loaded from this device's store), not straight from its author. */
  history?: true
  /** Id of the message this one goes before (history arrives out of order); none: at the end. */
  before?: string
  /**
   * The author's public key (whoever passed it on): the one its signature was checked against, or, for a
   * live line of an author whose key an earlier line proved, is checked against just after it is shown.
   */
  key?: string
  /**
   * A direct message of yours from an earlier visit that its recipient had not confirmed when that
   * page went: history never carries direct messages, so it will not reach them. Send it again.
   */
  undelivered?: true
}

/** What later events made of a message: its latest text, whether it is gone, who reacted with what. */
export interface Annotation {
  id: string
  /** The latest edit's text (undefined: never edited, or deleted). */
  text?: string
  edited: boolean
  deleted: boolean
  /** Emoji in code-point order, each with its reactors' peer ids in order. */
  reactions: Array<{ emoji: string; from: string[] }>
}

export interface Receipt {
  id: string
  /** Who the message was meant for (everyone in the room when it was sent, or the one addressee). */
  recipients: string[]
  /** Who has confirmed receiving it. */
  delivered: string[]
}

export interface FileTransfer {
  id: string
  name: string
  size: number
  mime: string
  /** Peer id of the sender ('' for files this browser sends). */
  from: string
  /** A direct transfer to one peer. */
  to?: string
  direction: 'out' | 'in'
  /** Bytes sent to every recipient so far (out), or received (in). */
  done: number
  /** Bytes in all (size times the recipients, for a file going out). */
  total: number
  state: 'sending' | 'receiving' | 'done' | 'failed' | 'cancelled'
  /** The received file, once complete and its SHA-256 matches the sender's. */
  blob?: Blob
}

export type RoomEvents = {
  'peer-joined': PeerView
  'peer-connected': PeerView
  /** Name, colour, connection state, route or verification code changed. */
  'peer-updated': PeerView
  'peer-left': PeerView
  /** A chat message from someone else, or from history (your own are returned by `send`). */
  message: ChatView
  /** A message was edited, deleted or reacted to (its whole new state). */
  annotation: Annotation
  /**
   * Messages (and edits, deletions, reactions) taken back: their author's own hello named another key
   * than the one they were signed with, so someone else wrote them in that author's name while the
   * author was away. Take them off screen.
   */
  retracted: { ids: string[] }
  /** Someone confirmed receiving one of your messages. */
  receipt: Receipt
  /** Who is typing right now. */
  typing: { peers: PeerView[] }
  /** A file transfer started (either way). */
  file: FileTransfer
  'file-progress': FileTransfer
  status: RoomStatus
  /** Joining failed for good (a refused join, no signing key): the room closes right after. */
  failed: Error
  /** A problem the room goes on after. */
  error: Error
}

/** What a part may tell the page: it emits room events, and never listens to them. */
export type Emit = Emitter<RoomEvents>['emit']

/** The mesh's news about one peer, for the room to act on and pass on. */
export type PeerEvent = 'peer-joined' | 'peer-connected' | 'peer-updated' | 'peer-left'

export interface Identity {
  /** This session's public key, announced in every hello (base64url, raw Ed25519, 32 bytes). */
  readonly key: string
  sign(message: ChatMessage): Promise<string>
  verify(message: ChatMessage, key: string): Promise<boolean>
}

export type Opened = { ok: true; envelope: SignalEnvelope; fingerprint: string | null } | { ok: false; reason: 'forged' | 'replayed' }

/** The room's encryption of what passes through the server (see sealer.ts). */
export interface Sealer {
  sealSignal(self: string, to: string, envelope: SignalEnvelope): Promise<string>
  openSignal(self: string, from: string, sealed: unknown): Promise<Opened>
  sealMeta(name: string): Promise<string>
  /** The name in a peer's metadata; null when it was not sealed with this room's key. */
  openMeta(meta: string | undefined): Promise<string | null>
  /** Proof of the room link for the server's admission check (crypto.ts deriveVerifier); absent: none. */
  verifier?(): Promise<string>
}

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

export interface SignalingJoinOptions {
  /** Proof of the room link for the server's admission check (crypto.ts deriveVerifier). */
  verifier?: string | undefined
}

/** How a room reaches the signaling server: one per page, or shared by tabs (see worker/). */
export interface Signaling extends Pick<Emitter<SignalingEvents>, 'on' | 'off'> {
  readonly status: SignalingStatus
  join(room: string, meta: string | undefined, handlers: MembershipHandlers, options?: SignalingJoinOptions): Promise<Membership>
  /** Queued per sender and retried; delivered in order, dropped only when the target is gone. */
  signal(from: string, to: string, data: unknown): void
  /** What `from` queued need not wait for more candidates (optional: without it, they wait SIGNAL_GATHER_MS). */
  flush?(from: string): void
  leave(peer: string): void
  /** Fresh ICE servers (new TURN credentials) for one of our peers. */
  refreshIce(peer: string): Promise<IceResponse>
  close(): void
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
  /** Keeps this browser's signing key for the room between visits (the chat page uses IndexedDB). */
  keys?: KeyStore
  /** Replaces simple-peer (tests inject fakes). */
  createPeer?: CreatePeer
  /** Replaces the room's encryption (unit tests inject a clear one; see lib/sealer.ts). */
  sealer?: Sealer
  /** Replaces the session's signing key (unit tests inject one that trusts everything). */
  identity?: Identity
}

export interface Room {
  readonly id: string
  /** This person's server-issued peer id ('' until joined), name, colour and public signing key (once made). */
  readonly self: { id: string; name: string; color?: string; key?: string }
  readonly status: RoomStatus
  /** Everyone else in the room, with their connection state. */
  readonly peers: PeerView[]
  /**
   * Sends to everyone, or with `to` to one person only (a direct message). A reply to a direct message
   * goes to its other end, whatever `to` says. Null (nothing sent) when empty, too long, not joined yet,
   * or when `to`, or the other end of the direct message replied to, is not in the room (left, or reloaded).
   */
  send(text: string, options?: { to?: string; replyTo?: string }): ChatView | null
  /** Turns your reaction `emoji` to message `id` on or off. Resolves false when nothing was sent. */
  react(id: string, emoji: string, on: boolean): Promise<boolean>
  /** Replaces the text of your message `id` (this session's only: they carry this session's key). */
  edit(id: string, text: string): Promise<boolean>
  /** Deletes your message `id` for everyone (this session's only); honest peers erase its text. */
  remove(id: string): Promise<boolean>
  /** What edits, deletions and reactions made of message `id` so far. */
  annotation(id: string): Annotation
  /** Call on every keystroke: the others (or `to` alone, writing privately) see "typing" (throttled, expiring). */
  typing(to?: string): void
  /** Sends a file to everyone connected, or to one person; resolves when everyone has it all. */
  sendFile(file: Blob & { name?: string }, options?: { to?: string }): Promise<FileTransfer>
  /** Stops a file transfer: one you send (`from` omitted), or one `from` someone is sending you. */
  cancelFile(id: string, from?: string): void
  setName(name: string): void
  setColor(color: string): void
  /**
   * Drops the connection to this peer and never connects to them again in this room session (the page
   * keeps the list per room). Muting, which keeps the connection, is the page's: it hides their messages.
   */
  block(peer: string): void
  /**
   * Writes what the history store does not have yet, starting the write at once once the store is open
   * and the stored history is back (README: flush): call it when the page is hidden (it may never run
   * again). `leave()` does it too.
   */
  flush(): void
  leave(): void
  on: Emitter<RoomEvents>['on']
  off: Emitter<RoomEvents>['off']
  /** Counters for diagnostics and tests. */
  stats(): {
    dropped: number
    duplicates: number
    forged: number
    connections: number
    outbox: number
    /** Messages whose time or Lamport time was out of range (see history.ts). */
    outOfRange: number
    /** Messages, hellos, history entries and files dropped past a peer's budget (see budget.ts). */
    overBudget: number
  }
}
