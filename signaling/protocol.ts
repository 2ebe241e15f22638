/**
 * Wire types of the Parley signaling protocol (HTTP POST in, Server-Sent Events out).
 * The browser imports this file with `import type` only, so nothing here may be a runtime value.
 * signaling/PROTOCOL.md specifies every shape below, with examples (sections 3–5).
 */

/** A member of a room as others see it. `meta` is opaque to the server (clients encrypt it). */
export interface PeerInfo {
  id: string
  meta?: string
}

/** POST /join. Send `Authorization: Bearer <token>` to add a peer to an existing session (one stream). */
export interface JoinRequest {
  room: string
  /** Re-claim a peer id this session was issued earlier (after a `reset`); others see no leave/join. */
  peer?: string
  meta?: string
  /**
   * Proof of the room link: HKDF of the link's secret (never the sealing key), base64url. The room's
   * first joiner registers it; every later new peer must bring the same one (`BAD_VERIFIER`).
   */
  verifier?: string
  /**
   * 16–64 random base64url characters naming this join, so that POST /leave `{nonce}` can cancel it
   * without its token (a page that goes away while the join is in flight never learns the token).
   * Used once: a second join with it is `NONCE_USED`; one cancelled first is `JOIN_CANCELLED`.
   */
  nonce?: string
}

export interface JoinResponse {
  session: string
  /** Authorizes POSTs for every peer of the session. Keep it secret. */
  token: string
  /** Opens the session's event stream: GET /stream?key=<key>. It cannot send signals. */
  key: string
  peer: string
  room: string
  /** Everyone else in the room right now; the stream's `roster` event repeats it. */
  peers: PeerInfo[]
  iceServers: IceServer[]
  /** How long the TURN credentials in `iceServers` stay valid; refresh with POST /ice before then. */
  iceServersTtlS?: number
  heartbeatMs: number
  graceMs: number
  /** Seconds `token` and `key` stay valid; renew them with POST /renew before then. */
  credentialsTtlS: number
}

/** POST /renew (with the token): the session's credentials, valid afresh. */
export interface RenewResponse {
  token: string
  key: string
  credentialsTtlS: number
}

/** POST /ice `{peer}`: fresh ICE servers (and TURN credentials) for one of the session's peers. */
export interface IceResponse {
  iceServers: IceServer[]
  iceServersTtlS?: number
}

/** RTCIceServer as the server hands it out (TURN credentials are short-lived). */
export interface IceServer {
  urls: string | string[]
  username?: string
  credential?: string
}

/**
 * POST /signal. The sender is `peer` (one of the session's peers); a `from` in the body is ignored.
 * Either one signal (`to`, `data`) or a `batch` of them, relayed in order.
 */
export type SignalRequest = ({ peer: string } & SignalItem) | { peer: string; batch: SignalItem[] }

export interface SignalItem {
  to: string
  data: unknown
}

/** 200 answer to a batch in which some items could not be delivered (their targets left). */
export interface SignalBatchResponse {
  failed: Array<{ index: number; error: ErrorCode; message: string }>
}

/**
 * POST /leave. `token` in the body serves `navigator.sendBeacon`, which cannot set headers. `nonce`
 * (no token needed) cancels the join that carried it: its peer leaves at once, now or when it lands.
 */
export interface LeaveRequest {
  peer?: string
  token?: string
  nonce?: string
}

export type LeaveReason = 'leave' | 'timeout'

/** Every SSE event names the session's own peer it concerns in `to` (one stream carries many peers). */
export type ServerEvent =
  | { type: 'roster'; data: { to: string; room: string; peers: PeerInfo[] } }
  | { type: 'peer-joined'; data: { to: string; peer: PeerInfo } }
  | { type: 'peer-left'; data: { to: string; peer: string; reason: LeaveReason } }
  /** Presence hints: the peer's stream dropped (it stays in the room for the grace period) / is back. */
  | { type: 'peer-away'; data: { to: string; peer: string } }
  | { type: 'peer-back'; data: { to: string; peer: string } }
  | { type: 'signal'; data: { to: string; from: string; data: unknown } }
  | { type: 'reset'; data: { reason: ResetReason } }

/**
 * `reset` means the server cannot replay what the stream missed: the buffer overflowed (`gap`), or the
 * server no longer knows the session (`unknown-session`, e.g. after a restart). Re-join every room,
 * re-claiming your peer ids; connections already open stay valid.
 */
export type ResetReason = 'gap' | 'unknown-session'

export type ServerEventType = ServerEvent['type']

export type ErrorCode =
  | 'BAD_JSON'
  | 'BAD_REQUEST'
  | 'BAD_ROOM'
  | 'BAD_PEER'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN_ORIGIN'
  | 'NOT_YOUR_PEER'
  | 'UNKNOWN_PEER'
  | 'NOT_IN_ROOM'
  | 'ROOM_FULL'
  | 'TOO_MANY_PEERS'
  | 'RATE_LIMITED'
  | 'REQUEST_TIMEOUT'
  | 'BAD_VERIFIER'
  | 'TOO_MANY_SEATS'
  | 'JOIN_CANCELLED'
  | 'NONCE_USED'
  | 'EXPIRED'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'PRECONDITION_FAILED'
  | 'RANGE_NOT_SATISFIABLE'
  | 'SHUTTING_DOWN'
  | 'UNAVAILABLE'
  | 'INTERNAL'

export interface ErrorBody {
  error: ErrorCode
  message: string
}

export interface HealthBody {
  status: 'ok' | 'shutting-down'
  rooms: number
  peers: number
  sessions: number
  streams: number
}
