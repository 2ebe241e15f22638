import type { IncomingMessage, ServerResponse } from 'node:http'
import type { IceResponse, IceServer, JoinResponse, SignalBatchResponse } from './protocol'
import type { ApiOptions } from './api-options'
import type { Credentials } from './credentials'
import { HttpError, Unavailable } from './errors'
import type { Hub, RelayResult, Sink } from './hub'
import { bearer, readJson, sendJson, sendNoContent, STREAM_HEADERS } from './http'
import { createCounter, createRateLimiter } from './limits'
import type { Observer } from './metrics'
import { openEventStream } from './sse'
import { createTurnCredentials } from './turn'
import { parseJoin, parseLeave, parseSignal } from './validate'

type Settings = Omit<ApiOptions, 'clientIp' | 'observer' | 'log'>
type Headers = Readonly<Record<string, string>>

/** What the endpoints are handed by the API: its settings, its credentials, its hub. */
export interface RouteContext {
  options: Settings
  credentials: Credentials
  hub: Hub
  observer: Observer
  clientIp: (req: IncomingMessage) => string
}

const relayError = (code: Exclude<RelayResult, { ok: true }>['code'], from: string, to: string) =>
  code === 'NOT_YOUR_PEER'
    ? new HttpError(403, code, `peer ${from} is not joined on this session`)
    : code === 'UNKNOWN_PEER'
      ? new HttpError(404, code, `no peer ${to}`)
      : code === 'NOT_IN_ROOM'
        ? new HttpError(403, code, `peer ${to} is in another room`)
        : new HttpError(400, 'BAD_REQUEST', '"data" is nested too deeply')

/**
 * The five API endpoints as plain Node handlers `(req, res, headers)`: the one HTTP layer that both the
 * standalone server and the mountable Express router call. `headers` are the CORS headers of the answer.
 * Each throws (or rejects with) what the client is told; the API maps it with `toHttpError`.
 */
export function createRoutes({ options, credentials, hub, observer, clientIp }: RouteContext) {
  const turn = options.turn && createTurnCredentials(options.turn)
  const joinLimiter = createRateLimiter(options.joinsPerSec, options.joinBurst)
  const signalLimiter = createRateLimiter(options.signalsPerSec, options.signalBurst)
  const streamsPerIp = createCounter(options.maxStreamsPerIp)
  const ttl = options.turn ? { iceServersTtlS: options.turn.ttlS } : {}

  /** The ICE servers one peer may use: the configured ones, plus its own TURN credentials. */
  const iceServersFor = (peer: string): IceServer[] => {
    if (!turn) return options.iceServers
    observer.turnIssued()
    return [...options.iceServers, turn(peer)]
  }

  const limit = (limiter: ReturnType<typeof createRateLimiter>, key: string, what: string, count = 1) => {
    const wait = limiter.take(key, count)
    if (wait > 0) throw new HttpError(429, 'RATE_LIMITED', `too many ${what}; retry later`, wait)
  }

  const session = (token: string | undefined): string => {
    const id = token === undefined ? null : credentials.verifyToken(token)
    if (id === null) throw new HttpError(401, 'UNAUTHORIZED', 'missing or invalid session token')
    return id
  }

  const joinFailure = (code: 'ROOM_FULL' | 'TOO_MANY_PEERS' | 'BAD_PEER') =>
    code === 'ROOM_FULL'
      ? new HttpError(409, code, `room is full (${options.maxPeersPerRoom} peers)`)
      : code === 'TOO_MANY_PEERS'
        ? new HttpError(409, code, `a session may hold at most ${options.maxPeersPerSession} peers`)
        : new HttpError(403, code, 'that peer id belongs elsewhere')

  async function join(req: IncomingMessage, res: ServerResponse, headers: Headers) {
    const body = await readJson(req, options.maxBodyBytes)
    limit(joinLimiter, clientIp(req), 'joins from this address')
    const token = bearer(req.headers.authorization)
    const request = parseJoin(body)
    const id = token === undefined ? credentials.newSession() : session(token)
    if (request.peer !== undefined && (token === undefined || !credentials.ownsPeer(id, request.room, request.peer))) {
      throw new HttpError(403, 'BAD_PEER', 'that peer id was not issued to this session in this room')
    }
    const result = await hub.join(id, request.room, request.meta, request.peer)
    if (!result.ok) throw joinFailure(result.code)
    const answer: JoinResponse = {
      session: id,
      token: credentials.token(id),
      key: credentials.streamKey(id),
      peer: result.peer,
      room: request.room,
      peers: result.peers,
      iceServers: iceServersFor(result.peer),
      ...ttl,
      heartbeatMs: options.heartbeatMs,
      graceMs: options.graceMs,
    }
    sendJson(res, 200, answer, headers)
  }

  // Fresh TURN credentials for a long stay (the join's expire after the configured TTL).
  async function ice(req: IncomingMessage, res: ServerResponse, headers: Headers) {
    const body = await readJson(req, options.maxBodyBytes)
    const id = session(bearer(req.headers.authorization))
    const { peer } = parseLeave(body)
    if (peer === undefined) throw new HttpError(400, 'BAD_REQUEST', 'missing field "peer"')
    if (!(await hub.hasPeer(id, peer))) throw new HttpError(403, 'NOT_YOUR_PEER', `peer ${peer} is not joined on this session`)
    const answer: IceResponse = { iceServers: iceServersFor(peer), ...ttl }
    sendJson(res, 200, answer, headers)
  }

  /** One signal or a batch: 204 when all were delivered, else the failed items (batch only). */
  async function signal(req: IncomingMessage, res: ServerResponse, headers: Headers) {
    const token = bearer(req.headers.authorization)
    const body = await readJson(req, options.maxBodyBytes)
    const id = session(token)
    const { peer, items, batch } = parseSignal(body)
    if (!(await hub.hasPeer(id, peer))) throw relayError('NOT_YOUR_PEER', peer, '')
    // A batch costs at most a full bucket, so one larger than the burst can still go through.
    limit(signalLimiter, peer, 'signals from this peer', Math.min(items.length, options.signalBurst))
    const failed: SignalBatchResponse['failed'] = []
    for (const [index, item] of items.entries()) {
      const result = await hub.relay(id, peer, item.to, item.data)
      if (result.ok) continue
      const error = relayError(result.code, peer, item.to)
      if (!batch) throw error
      failed.push({ index, error: error.code, message: error.message })
    }
    if (failed.length === 0) return sendNoContent(res, headers)
    const answer: SignalBatchResponse = { failed }
    sendJson(res, 200, answer, headers)
  }

  async function leave(req: IncomingMessage, res: ServerResponse, headers: Headers) {
    const request = parseLeave(await readJson(req, options.maxBodyBytes, true))
    const id = session(bearer(req.headers.authorization) ?? request.token)
    await hub.leave(id, request.peer)
    sendNoContent(res, headers)
  }

  /** Opens the session's event stream on `res`; errors are thrown before any byte is written. */
  function stream(req: IncomingMessage, res: ServerResponse, headers: Headers, query: URLSearchParams) {
    const key = query.get('key')
    const id = key === null ? null : credentials.verifyStreamKey(key)
    if (id === null) throw new HttpError(401, 'UNAUTHORIZED', 'missing or invalid stream key')
    for (const name in STREAM_HEADERS) res.setHeader(name, STREAM_HEADERS[name]!)
    for (const name in headers) res.setHeader(name, headers[name]!)
    if (req.method === 'HEAD') {
      // A bodiless answer must not become the session's stream.
      res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform' })
      return void res.end()
    }
    if (!hub.ready()) throw new Unavailable('signaling storage is unavailable')
    const address = clientIp(req)
    if (!streamsPerIp.acquire(address)) {
      throw new HttpError(429, 'RATE_LIMITED', `at most ${options.maxStreamsPerIp} streams per address`, options.retryMs)
    }
    const header = req.headers['last-event-id']
    const lastEventId = typeof header === 'string' ? header : (query.get('lastEventId') ?? undefined)
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

  return {
    join,
    ice,
    signal,
    leave,
    stream,
    /** Forgets rate-limit buckets that have refilled; call it on a timer. */
    sweep(): void {
      joinLimiter.sweep()
      signalLimiter.sweep()
    },
    stats: () => ({ rateLimitKeys: joinLimiter.size + signalLimiter.size, ipsWithStreams: streamsPerIp.size }),
  }
}
