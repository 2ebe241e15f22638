import express, { type Request, type Response } from 'express'
import type { IceResponse, IceServer, JoinResponse, SignalBatchResponse } from './protocol'
import { createCredentials } from './credentials'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { cors, corsHeaders } from './cors'
import { createFastPath } from './fast-path'
import { NO_OBSERVER, type Observer } from './metrics'
import { createTurnCredentials, type TurnOptions } from './turn'
import { HttpError, errorHandler } from './errors'
import { createHub, type HubLike, type RelayResult, type Sink } from './hub'
import { createRedisHub, Unavailable } from './redis-hub'
import { createCounter, createRateLimiter } from './limits'
import { createLogger, type Logger } from './log'
import { openEventStream } from './sse'
import { bearer, parseJoin, parseLeave, parseSignal } from './validate'

export interface SignalingOptions {
  /** Signs session tokens and peer ids. Keep it stable across restarts so clients resume seamlessly. */
  secret: string
  maxPeersPerRoom: number
  maxPeersPerSession: number
  maxBodyBytes: number
  maxStreamsPerIp: number
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
  /** The client's address for the fast path (the app applies its "trust proxy" setting). */
  clientIp: (req: IncomingMessage) => string
  /** Headers for the fast path's answers, to match the app's other ones (none when embedded). */
  securityHeaders: Record<string, string>
  observer: Observer
  log: Logger
}

export const DEFAULT_SIGNALING: Omit<SignalingOptions, 'secret'> = {
  maxPeersPerRoom: 16,
  maxPeersPerSession: 32,
  maxBodyBytes: 64 * 1024,
  maxStreamsPerIp: 32,
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
  clientIp: (req) => req.socket.remoteAddress ?? 'unknown',
  securityHeaders: {},
  observer: NO_OBSERVER,
  log: createLogger(),
}

const SWEEP_MS = 30_000

export type Signaling = ReturnType<typeof createSignaling>

/**
 * The signaling endpoints as an Express router, to mount under any path:
 * `app.use('/parley', createSignaling({ secret }).router)`. Call `close()` on shutdown.
 */
export function createSignaling(input: Partial<SignalingOptions> & { secret: string }) {
  const options: SignalingOptions = { ...DEFAULT_SIGNALING, ...input }
  const { log } = options
  const credentials = createCredentials(options.secret)
  const hub: HubLike = options.redisUrl
    ? createRedisHub(options.redisUrl, { ...options, newPeerId: credentials.newPeer })
    : createHub({ ...options, newPeerId: credentials.newPeer })
  const turn = options.turn && createTurnCredentials(options.turn)
  const { observer } = options

  /** The ICE servers one peer may use: the configured ones, plus its own TURN credentials. */
  const iceServersFor = (peer: string): IceServer[] => {
    if (!turn) return options.iceServers
    observer.turnIssued()
    return [...options.iceServers, turn(peer)]
  }
  const joinLimiter = createRateLimiter(options.joinsPerSec, options.joinBurst)
  const signalLimiter = createRateLimiter(options.signalsPerSec, options.signalBurst)
  const streamsPerIp = createCounter(options.maxStreamsPerIp)
  let closing = false

  const sweep = setInterval(() => {
    joinLimiter.sweep()
    signalLimiter.sweep()
  }, SWEEP_MS)
  sweep.unref()

  const ip = (req: Request) => req.ip ?? req.socket.remoteAddress ?? 'unknown'

  const limit = (limiter: ReturnType<typeof createRateLimiter>, key: string, what: string, count = 1) => {
    const wait = limiter.take(key, count)
    if (wait > 0) throw new HttpError(429, 'RATE_LIMITED', `too many ${what}; retry later`, wait)
  }

  const session = (token: string | undefined): string => {
    const id = token === undefined ? null : credentials.verifyToken(token)
    if (id === null) throw new HttpError(401, 'UNAUTHORIZED', 'missing or invalid session token')
    return id
  }

  const router = express.Router()

  // CORS first: an allowed page elsewhere must be able to read even the shutdown answer.
  router.use(cors(options.corsOrigins))
  router.use((_req, _res, next) => {
    next(closing ? new HttpError(503, 'SHUTTING_DOWN', 'server is shutting down; retry shortly') : undefined)
  })

  const json = express.json({ limit: options.maxBodyBytes, type: 'application/json' })
  // Leave also takes text/plain: navigator.sendBeacon cannot send application/json without CORS. Join
  // and signal do not, so that a foreign page cannot call them without passing a CORS preflight.
  const beaconJson = express.json({ limit: options.maxBodyBytes, type: ['application/json', 'text/plain'] })

  router.post('/join', json, async (req, res) => {
    limit(joinLimiter, ip(req), 'joins from this address')
    const token = bearer(req.get('authorization'))
    const request = parseJoin(req.body)
    const id = token === undefined ? credentials.newSession() : session(token)
    if (request.peer !== undefined && (token === undefined || !credentials.ownsPeer(id, request.room, request.peer))) {
      throw new HttpError(403, 'BAD_PEER', 'that peer id was not issued to this session in this room')
    }
    const result = await hub.join(id, request.room, request.meta, request.peer)
    if (!result.ok) {
      const [status, message] =
        result.code === 'ROOM_FULL'
          ? [409, `room is full (${options.maxPeersPerRoom} peers)`]
          : result.code === 'TOO_MANY_PEERS'
            ? [409, `a session may hold at most ${options.maxPeersPerSession} peers`]
            : [403, 'that peer id belongs elsewhere']
      throw new HttpError(status, result.code, message)
    }
    const body: JoinResponse = {
      session: id,
      token: credentials.token(id),
      key: credentials.streamKey(id),
      peer: result.peer,
      room: request.room,
      peers: result.peers,
      iceServers: iceServersFor(result.peer),
      ...(options.turn ? { iceServersTtlS: options.turn.ttlS } : {}),
      heartbeatMs: options.heartbeatMs,
      graceMs: options.graceMs,
    }
    res.json(body)
  })

  // Fresh TURN credentials for a long stay (the join's expire after the configured TTL).
  router.post('/ice', json, async (req, res) => {
    const id = session(bearer(req.get('authorization')))
    const { peer } = parseLeave(req.body)
    if (peer === undefined) throw new HttpError(400, 'BAD_REQUEST', 'missing field "peer"')
    if (!(await hub.hasPeer(id, peer))) throw new HttpError(403, 'NOT_YOUR_PEER', `peer ${peer} is not joined on this session`)
    const body: IceResponse = { iceServers: iceServersFor(peer), ...(options.turn ? { iceServersTtlS: options.turn.ttlS } : {}) }
    res.json(body)
  })

  /** Opens the session's event stream on `res` (errors thrown before any byte is written). */
  function attach(key: string | undefined, lastEventId: string | undefined, address: string, res: ServerResponse) {
    const id = key === undefined ? null : credentials.verifyStreamKey(key)
    if (id === null) throw new HttpError(401, 'UNAUTHORIZED', 'missing or invalid stream key')
    if (!hub.ready()) throw new HttpError(503, 'UNAVAILABLE', 'signaling storage is unavailable; retry shortly', options.retryMs)
    if (!streamsPerIp.acquire(address)) {
      throw new HttpError(429, 'RATE_LIMITED', `at most ${options.maxStreamsPerIp} streams per address`, options.retryMs)
    }
    // Jitter spreads the reconnects of many clients after a restart.
    openEventStream(res, Math.round(options.retryMs * (1 + Math.random())))
    const sink: Sink = {
      write(frame) {
        res.write(frame)
        return res.writableLength <= options.maxStreamBacklogBytes
      },
      close: () => res.end(),
    }
    res.on('close', () => {
      streamsPerIp.release(address)
      hub.disconnect(id, sink)
    })
    // A store that fails mid-connect ends the stream; the browser reconnects and resumes.
    void Promise.resolve(hub.connect(id, lastEventId, sink)).catch(() => res.end())
  }

  router.get('/stream', (req, res) => {
    if (req.method === 'HEAD') {
      // Express routes HEAD here; a bodiless response must not become the session's stream.
      const key = typeof req.query.key === 'string' ? req.query.key : undefined
      if (key === undefined || credentials.verifyStreamKey(key) === null) {
        throw new HttpError(401, 'UNAUTHORIZED', 'missing or invalid stream key')
      }
      res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform' })
      return void res.end()
    }
    const query = req.query.lastEventId
    const lastEventId = req.get('last-event-id') ?? (typeof query === 'string' ? query : undefined)
    attach(typeof req.query.key === 'string' ? req.query.key : undefined, lastEventId, ip(req), res)
  })

  const relayError = (code: Exclude<RelayResult, { ok: true }>['code'], from: string, to: string) =>
    code === 'NOT_YOUR_PEER'
      ? new HttpError(403, code, `peer ${from} is not joined on this session`)
      : code === 'UNKNOWN_PEER'
        ? new HttpError(404, code, `no peer ${to}`)
        : code === 'NOT_IN_ROOM'
          ? new HttpError(403, code, `peer ${to} is in another room`)
          : new HttpError(400, 'BAD_REQUEST', '"data" is nested too deeply')

  /** Relays one signal or a batch; null when all were delivered, else the failed items (batch only). */
  async function relay(token: string | undefined, body: unknown): Promise<SignalBatchResponse | null> {
    const id = session(token)
    const { peer, items, batch } = parseSignal(body)
    if (!(await hub.hasPeer(id, peer))) throw relayError('NOT_YOUR_PEER', peer, '')
    // A batch costs at most a full bucket, so one larger than the burst can still go through.
    limit(signalLimiter, peer, 'signals from this peer', Math.min(items.length, options.signalBurst))
    const failed: SignalBatchResponse['failed'] = []
    for (const [index, item] of items.entries()) {
      const result = await hub.relay(id, peer, item.to, item.data)
      if (result.ok) continue
      if (!batch) throw relayError(result.code, peer, item.to)
      const error = relayError(result.code, peer, item.to)
      failed.push({ index, error: error.code, message: error.message })
    }
    return failed.length === 0 ? null : { failed }
  }

  router.post('/signal', json, async (req, res) => {
    const failed = await relay(bearer(req.get('authorization')), req.body)
    if (failed === null) res.status(204).end()
    else res.json(failed)
  })

  router.post('/leave', beaconJson, async (req, res) => {
    const request = parseLeave(req.body)
    const id = session(bearer(req.get('authorization')) ?? request.token)
    await hub.leave(id, request.peer)
    res.status(204).end()
  })

  for (const path of ['/join', '/stream', '/signal', '/leave', '/ice']) {
    router.all(path, (req, res, next) => {
      res.setHeader('Allow', path === '/stream' ? 'GET' : 'POST')
      next(new HttpError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${path}`))
    })
  }
  router.use((err: unknown, _req: Request, _res: Response, next: (err: unknown) => void) => {
    next(err instanceof Unavailable ? new HttpError(503, 'UNAVAILABLE', 'signaling storage is unavailable; retry shortly', options.retryMs) : err)
  })
  router.use(errorHandler(log, observer))

  const fast = createFastPath(
    { relay, attach, corsHeaders: corsHeaders(options.corsOrigins), closing: () => closing },
    { maxBodyBytes: options.maxBodyBytes, clientIp: options.clientIp, headers: options.securityHeaders, observer, log },
  )

  return {
    router,
    /** Serves POST /signal and GET /stream straight from Node (`path`: below the mount point); false for the rest. */
    fast,
    stats: () => ({ ...hub.stats(), rateLimitKeys: joinLimiter.size + signalLimiter.size, ipsWithStreams: streamsPerIp.size }),
    ready: () => !closing && hub.ready(),
    /** Stops accepting requests and ends every stream; peers keep their grace with the next server. */
    close(): void {
      if (closing) return
      closing = true
      clearInterval(sweep)
      hub.close()
    },
  }
}
