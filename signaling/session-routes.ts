import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Headers, RouteContext } from './api-options'
import { HttpError } from './errors'
import { bearer, readJson, sendJson, sendNoContent } from './http'
import type { JoinFailure } from './hub'
import { createRateLimiter, takeOrRefuse } from './limits'
import type { IceResponse, IceServer, JoinResponse, RenewResponse } from './protocol'
import { createTurnCredentials } from './turn'
import { parseJoin, parseLeave, sessionFrom } from './validate'

function joinFailure(code: JoinFailure, options: RouteContext['options']): HttpError {
  switch (code) {
    case 'ROOM_FULL':
      return new HttpError(409, code, `room is full (${options.maxPeersPerRoom} peers)`)
    case 'TOO_MANY_PEERS':
      return new HttpError(409, code, `a session may hold at most ${options.maxPeersPerSession} peers`)
    case 'TOO_MANY_SEATS':
      return new HttpError(
        409,
        code,
        `at most ${options.maxSeatsPerSession} peers per session and ${options.maxSeatsPerIp} per address in one room`,
      )
    case 'BAD_VERIFIER':
      return new HttpError(403, code, 'this room admits holders of its link only')
    case 'BAD_PEER':
      return new HttpError(403, code, 'that peer id belongs elsewhere')
  }
}

// The hubs keep a digest, never the verifier: their storage (Redis) cannot hand out a usable one.
const verifierDigest = (verifier: string) => createHash('sha256').update(verifier).digest('base64url')

/**
 * POST /join, /ice and /leave as plain Node handlers `(req, res, headers)` (`headers`: the answer's
 * CORS headers). Each throws (or rejects with) what the client is told; the API maps it.
 */
export function createSessionRoutes({ options, credentials, hub, observer, clientIp }: RouteContext) {
  const turn = options.turn && createTurnCredentials(options.turn)
  const joinLimiter = createRateLimiter(options.joinsPerSec, options.joinBurst)
  const ttl = options.turn ? { iceServersTtlS: options.turn.ttlS } : {}
  const bodyTimeoutMs = options.bodyTimeoutS * 1000
  const credentialsTtlS = () => Math.floor(credentials.validForMs() / 1000)

  /** The ICE servers one peer may use: the configured ones, plus its own TURN credentials. */
  const iceServersFor = (peer: string): IceServer[] => {
    if (!turn) return options.iceServers
    observer.turnIssued()
    return [...options.iceServers, turn(peer)]
  }

  async function join(req: IncomingMessage, res: ServerResponse, headers: Headers) {
    const body = await readJson(req, options.maxBodyBytes, bodyTimeoutMs)
    const address = clientIp(req)
    takeOrRefuse(joinLimiter, address, 'joins from this address')
    const token = bearer(req.headers.authorization)
    const request = parseJoin(body)
    const id = token === undefined ? credentials.newSession() : sessionFrom(credentials, token)
    if (request.peer !== undefined && (token === undefined || !credentials.ownsPeer(id, request.room, request.peer))) {
      throw new HttpError(403, 'BAD_PEER', 'that peer id was not issued to this session in this room')
    }
    const admission = { address, ...(request.verifier === undefined ? {} : { verifier: verifierDigest(request.verifier) }) }
    const result = await hub.join(id, request.room, request.meta, request.peer, admission)
    if (!result.ok) throw joinFailure(result.code, options)
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
      credentialsTtlS: credentialsTtlS(),
    }
    sendJson(res, 200, answer, headers)
  }

  // Stateless, like the credentials: a valid token for a session the hub forgot renews too (its
  // stream then gets `reset` and the client re-joins).
  async function renew(req: IncomingMessage, res: ServerResponse, headers: Headers) {
    const id = sessionFrom(credentials, bearer(req.headers.authorization))
    const answer: RenewResponse = { token: credentials.token(id), key: credentials.streamKey(id), credentialsTtlS: credentialsTtlS() }
    sendJson(res, 200, answer, headers)
  }

  // Fresh TURN credentials for a long stay (the join's expire after the configured TTL).
  async function ice(req: IncomingMessage, res: ServerResponse, headers: Headers) {
    const body = await readJson(req, options.maxBodyBytes, bodyTimeoutMs)
    const id = sessionFrom(credentials, bearer(req.headers.authorization))
    const { peer } = parseLeave(body)
    if (peer === undefined) throw new HttpError(400, 'BAD_REQUEST', 'missing field "peer"')
    if (!(await hub.hasPeer(id, peer))) throw new HttpError(403, 'NOT_YOUR_PEER', `peer ${peer} is not joined on this session`)
    const answer: IceResponse = { iceServers: iceServersFor(peer), ...ttl }
    sendJson(res, 200, answer, headers)
  }

  // Also a beacon (text/plain): the token may come in the body, where sendBeacon can put it.
  async function leave(req: IncomingMessage, res: ServerResponse, headers: Headers) {
    const request = parseLeave(await readJson(req, options.maxBodyBytes, bodyTimeoutMs, true))
    const id = sessionFrom(credentials, bearer(req.headers.authorization) ?? request.token)
    await hub.leave(id, request.peer)
    sendNoContent(res, headers)
  }

  return {
    routes: { join, ice, leave, renew },
    /** Forgets rate-limit buckets that have refilled; call it on a timer. */
    sweep: () => joinLimiter.sweep(),
    limitKeys: () => joinLimiter.size,
  }
}
