import type { IncomingMessage } from 'node:http'
import type { Credentials } from './credentials'
import type { Hub } from './hub'
import type { Logger } from './log'
import type { Observer } from './metrics'
import type { IceServer } from './protocol'
import type { TurnOptions } from './turn'

/** Everything the signaling API can be told; `createSignalingApi` takes any of it (`secret` is required). */
export interface ApiOptions {
  /** Signs session tokens and peer ids. Keep it stable across restarts so clients resume seamlessly. */
  secret: string
  maxPeersPerRoom: number
  maxPeersPerSession: number
  maxBodyBytes: number
  maxStreamsPerIp: number
  /** Requests (other than streams) one address may have in flight at once; more get RATE_LIMITED. */
  maxRequestsPerIp: number
  /** Seconds a request body may take to arrive; slower ones get REQUEST_TIMEOUT and are cut off. */
  bodyTimeoutS: number
  /** Peers one session, and one client address, may hold in one room (a room id alone seats nobody). */
  maxSeatsPerSession: number
  maxSeatsPerIp: number
  /** Signal buckets per session and per address, beside the per-peer one; each bursts 4 s worth. */
  sessionSignalsPerSec: number
  ipSignalsPerSec: number
  /** Seconds a token or stream key stays valid; clients renew before then (POST /renew). */
  credentialTtlS: number
  signalsPerSec: number
  signalBurst: number
  joinsPerSec: number
  joinBurst: number
  heartbeatMs: number
  graceMs: number
  retryMs: number
  replayEvents: number
  replayBytes: number
  /** A stream whose unsent backlog exceeds this is dropped; the client resumes from its buffer. */
  maxStreamBacklogBytes: number
  iceServers: IceServer[]
  /** Origins whose pages may use this API from elsewhere ("*": any). Empty: same origin only. */
  corsOrigins: string[]
  /** A TURN server sharing a secret with us: each peer gets its own expiring credentials. */
  turn: TurnOptions | undefined
  /** Share rooms with every instance using this Redis; rooms live in memory without it. */
  redisUrl: string | undefined
  /** The client's address, for per-address limits (the standalone app applies its "trust proxy"). */
  clientIp: ((req: IncomingMessage) => string) | undefined
  observer: Observer | undefined
  log: Logger | undefined
}

/** The defaults of every tunable; config.ts's flag table and the embedded router both read them here. */
export const API_DEFAULTS = {
  maxPeersPerRoom: 16,
  maxPeersPerSession: 32,
  maxBodyBytes: 64 * 1024,
  maxStreamsPerIp: 32,
  maxRequestsPerIp: 64,
  bodyTimeoutS: 10,
  // Eight tabs of one browser share a session (the signaling worker) and may sit in one room.
  maxSeatsPerSession: 8,
  maxSeatsPerIp: 12,
  sessionSignalsPerSec: 200,
  ipSignalsPerSec: 400,
  credentialTtlS: 24 * 3600,
  signalsPerSec: 50,
  signalBurst: 200,
  joinsPerSec: 2,
  joinBurst: 30,
  heartbeatMs: 15_000,
  graceMs: 10_000,
  retryMs: 1_000,
  replayEvents: 1_024,
  replayBytes: 1024 * 1024,
  maxStreamBacklogBytes: 1024 * 1024,
  iceServers: [{ urls: 'stun:stun.l.google.com:19302' }],
  corsOrigins: [],
  turn: undefined,
  redisUrl: undefined,
  clientIp: undefined,
  observer: undefined,
  log: undefined,
} satisfies Omit<ApiOptions, 'secret'>

/** What the API hands its endpoints (session-routes.ts, relay-routes.ts). */
export interface RouteContext {
  options: Omit<ApiOptions, 'clientIp' | 'observer' | 'log'>
  credentials: Credentials
  hub: Hub
  observer: Observer
  clientIp: (req: IncomingMessage) => string
}

/** The CORS headers of an answer, handed to every endpoint. */
export type Headers = Readonly<Record<string, string>>
