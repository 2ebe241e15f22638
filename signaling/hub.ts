import { timingSafeEqual } from 'node:crypto'
import { nanoid } from 'nanoid'
import type { JoinTickets } from './join-tickets'
import type { Observer } from './metrics'
import type { LeaveReason, PeerInfo, ResetReason, ServerEvent, ServerEventType } from './protocol'

/** Where a session's frames go while its stream is open (an HTTP response in production). */
export interface Sink {
  /** Returns false when the socket is backed up; the hub then drops the stream (the client resumes). */
  write(frame: string): boolean
  close(): void
}

export interface HubOptions {
  maxPeersPerRoom: number
  maxPeersPerSession: number
  /** Peers one session, and one client address, may hold in one room (unlimited when absent). */
  maxSeatsPerSession?: number
  maxSeatsPerIp?: number
  graceMs: number
  heartbeatMs: number
  /** How many events / bytes a session keeps for replay after a drop. */
  replayEvents: number
  replayBytes: number
  /** Generates peer ids; the credentials module supplies verifiable ones. */
  newPeerId: (session: string, room: string) => string
  /** How long a join nonce is remembered (join-tickets.ts ticketTtlMs). */
  ticketTtlMs?: number
  now?: () => number
  observer?: Observer
}

export type JoinFailure = 'ROOM_FULL' | 'TOO_MANY_PEERS' | 'BAD_PEER' | 'BAD_VERIFIER' | 'TOO_MANY_SEATS'

export type JoinResult = { ok: true; peer: string; peers: PeerInfo[] } | { ok: false; code: JoinFailure }

/**
 * Who is asking for a seat. `verifier`: a digest of what the joiner derived from the room link; the
 * room's first joiner registers it for as long as the room exists, and every new peer after must bring
 * the same (a room created without one stays open to all, for clients that predate verifiers).
 * `address`: the client's address, for the per-address seat cap.
 */
export interface Admission {
  verifier?: string
  address?: string
}

export type RelayResult = { ok: true } | { ok: false; code: 'NOT_YOUR_PEER' | 'UNKNOWN_PEER' | 'NOT_IN_ROOM' | 'BAD_DATA' }

type MaybePromise<T> = T | Promise<T>

/**
 * What the API needs of a hub: rooms, presence and each session's numbered, replayable events. The
 * in-memory hub (one process) and the Redis hub (any number of instances) keep this one contract;
 * test/integration/hub-contract.test.ts runs the same exact-frame suite against both.
 */
export interface Hub {
  /** Adds a peer to a room, creating the session if the hub does not know it (yet, or any more). */
  join(sessionId: string, room: string, meta: string | undefined, reclaim?: string, admission?: Admission): MaybePromise<JoinResult>
  /** Relays an opaque signal payload from one of the session's peers to a peer in the same room. */
  relay(sessionId: string, from: string, to: string, data: unknown): MaybePromise<RelayResult>
  /** One peer leaves, or (without `peer`) the whole session ends. Unknown ids are a no-op. */
  leave(sessionId: string, peer?: string): MaybePromise<void>
  /**
   * Attaches a stream to the session (replacing an older one) and replays what it missed since
   * `lastEventId`. A session the hub does not know is created empty and told to `reset`.
   */
  connect(sessionId: string, lastEventId: string | undefined, sink: Sink): MaybePromise<void>
  /** The stream's connection closed: the session's peers stay for the grace period. */
  disconnect(sessionId: string, sink: Sink): void
  hasPeer(sessionId: string, peer: string): MaybePromise<boolean>
  /** What became of each join nonce, kept where the rooms are so that a cancel reaches every instance. */
  readonly tickets: JoinTickets
  stats(): { rooms: number; peers: number; sessions: number; streams: number; timers: number }
  /** False while a backing store is unreachable (readiness). */
  ready(): boolean
  close(): void
}

// Events stay replayable a little longer than the grace period: a stream away longer than that is
// a departed session anyway.
export const RETENTION_SLACK_MS = 5_000
// An epoch only has to differ from the session's previous one: 36 bits of nanoid are plenty.
export const EPOCH_CHARS = 6

export const retentionMs = (options: Pick<HubOptions, 'graceMs'>) => options.graceMs + RETENTION_SLACK_MS

/** Names one incarnation of a session, so Last-Event-IDs from an earlier one are recognised. */
export const newEpoch = () => nanoid(EPOCH_CHARS)

/** What a hub knows of a session when a stream attaches. */
export interface ResumeState {
  /** The hub created the session just now for this stream. */
  isNew: boolean
  epoch: string
  /** Sequence number of the session's latest event (0: none yet). */
  seq: number
  /** Sequence number of the oldest event still stored (seq + 1 when none is). */
  firstKept: number
}

/**
 * The resume rule: the sequence number after which to replay, or why the stream must reset. An id is
 * "<epoch>-<seq>"; a foreign epoch or an impossible seq is an unknown session; a resume whose missed
 * events are no longer all stored is a gap. Without an id, everything stored is replayed (if complete).
 */
export function resumeFrom(state: ResumeState, lastEventId: string | undefined): number | ResetReason {
  if (state.isNew) return 'unknown-session'
  const complete = (from: number) => from >= state.seq || state.firstKept <= from + 1
  if (lastEventId === undefined || lastEventId === '') return complete(0) ? 0 : 'gap'
  const dash = lastEventId.lastIndexOf('-')
  const from = Number(lastEventId.slice(dash + 1))
  if (lastEventId.slice(0, dash) !== state.epoch || !Number.isSafeInteger(from) || from < 0 || from > state.seq) {
    return 'unknown-session'
  }
  return complete(from) ? from : 'gap'
}

/** Equal verifier digests, compared in constant time (both are digests of one length, or absent). */
export function sameVerifier(registered: string, given: string | undefined): boolean {
  if (given === undefined || given.length !== registered.length) return false
  return timingSafeEqual(Buffer.from(given), Buffer.from(registered))
}

/** The payload as JSON text, or null when it cannot be written (BAD_DATA). */
export function encodeData(data: unknown): string | null {
  try {
    return JSON.stringify(data)
  } catch {
    // JSON.parse accepted it, but stringify recurses: a payload nested thousands deep overflows.
    return null
  }
}

type DataOf<T extends ServerEventType> = Extract<ServerEvent, { type: T }>['data']

/**
 * The JSON `data` of every event, built in one place from protocol.ts's shapes (the Lua of
 * redis-scripts.ts builds the same bytes; the contract suite holds them equal). Ids are URL-safe
 * (validated at the boundary), so they are spliced in without escaping: this runs once per signal.
 */
export const eventData = {
  roster: (to: string, room: string, peers: DataOf<'roster'>['peers']) =>
    `{"to":"${to}","room":"${room}","peers":${JSON.stringify(peers)}}`,
  'peer-joined': (to: string, peer: DataOf<'peer-joined'>['peer']) => `{"to":"${to}","peer":${JSON.stringify(peer)}}`,
  'peer-left': (to: string, peer: string, reason: LeaveReason) => `{"to":"${to}","peer":"${peer}","reason":"${reason}"}`,
  'peer-away': (to: string, peer: string) => `{"to":"${to}","peer":"${peer}"}`,
  'peer-back': (to: string, peer: string) => `{"to":"${to}","peer":"${peer}"}`,
  /** `json`: the payload as encodeData wrote it. */
  signal: (to: string, from: string, json: string) => `{"to":"${to}","from":"${from}","data":${json}}`,
  reset: (reason: ResetReason) => `{"reason":"${reason}"}`,
} satisfies Record<ServerEventType, (...args: never[]) => string>

export function peerInfo(id: string, meta: string | undefined): PeerInfo {
  return meta === undefined ? { id } : { id, meta }
}
