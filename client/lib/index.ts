/**
 * The room library: join a room, and everything a page needs to show it. The one public entry; the
 * files behind it are free to change.
 */

export { cryptoAvailable, isRoomSecret, newRoomSecret } from './crypto'
export { type ChatMessage, cleanName, isEmoji, MAX_NAME_CHARS, MAX_TEXT_CHARS, type Reference } from './peer-protocol'
export { joinRoom } from './room'
export { createSignalingClient, type SignalingClient } from './signaling/client'
export { SignalingError } from './signaling/http'
export type { HistoryStore, KeyStore, LogEntry } from './stored'
export type {
  Annotation,
  ChatView,
  CreatePeer,
  FileTransfer,
  Identity,
  JoinOptions,
  Membership,
  MembershipEvent,
  MembershipHandlers,
  PeerLike,
  PeerState,
  PeerView,
  Receipt,
  Room,
  RoomEvents,
  RoomStatus,
  Sealer,
  Signaling,
  SignalingEvents,
  SignalingJoinOptions,
  SignalingStatus,
} from './types'
export { isColor } from './util'
