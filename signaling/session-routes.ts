import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Headers, RouteContext } from './api-options'
import { HttpError } from './errors'
import { bearer, readJson, sendJson, sendNoContent } from './http'
import type { JoinFailure } from './hub'
import type { Claim, Seat } from './join-tickets'
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

const cancelled = () => new HttpError(409, 'JOIN_CANCELLED', 'this join was cancelled (POST /leave with its nonce)')

function refuseClaim(claim: Claim): void {
  if (claim === 'cancelled') throw cancelled()
  if (claim === 'used') throw new HttpError(409, 'NONCE_USED', 'an earlier join carried this nonce; send a fresh one')
}

// The hubs keep a digest, never the verifier: their storage (Redis) cannot hand out a usable one.
const verifierDigest = (verifier: string) => createHash('sha256').update(verifier).digest('base64url')

/**
 * Cancels of a join by its nonce (POST /leave {nonce}), and their rate limits: at the join rate, since a page
 * may cancel every join it makes.
 */
function createCancels(hub: RouteContext['hub'], options: RouteContext['options']) {
  const cancelLimiter = createRateLimiter(options.joinsPerSec, options.joinBurst)
  // Cancels of nonces not seen yet that come with a token: a bucket per address of their own, which
  // cancels without a token cannot spend.
  const unseenLimiter = createRateLimiter(options.joinsPerSec, options.joinBurst)
  return {
    /** Cancels a join whether it is yet to come, in flight or done (then its peer leaves). */
    async cancel(nonce: string, session: string | undefined, address: string) {
      let seat: Seat | null | 'unknown' = 'unknown'
      if (session !== undefined) {
        // A session's cancels of the joins the server knows are its own to spend: many tabs behind one
        // address may leave at once after a reset, each with a re-claim's nonce, and a refused cancel would
        // let that re-claim seat a ghost.
        takeOrRefuse(cancelLimiter, session, 'cancels from this session')
        seat = await hub.tickets.cancel(nonce, true)
      }
      if (seat === 'unknown') {
        // A nonce not seen yet is remembered until its join comes: that memory is its address's to spend,
        // however many sessions the address holds. A re-claim's cancel can overtake its join; with its token
        // it first spends a bucket that whoever shares the address cannot drain without one.
        if (session === undefined || unseenLimiter.take(address) > 0) takeOrRefuse(cancelLimiter, address, 'cancels from this address')
        seat = await hub.tickets.cancel(nonce)
      }
      if (seat && seat !== 'unknown') await hub.leave(seat.session, seat.peer)
    },
    sweep() {
      cancelLimiter.sweep()
      unseenLimiter.sweep()
    },
    size: () => cancelLimiter.size + unseenLimiter.size,
  }
}

/**
 * POST /join, /ice and /leave as plain Node handlers `(req, res, headers)` (`headers`: the answer's
 * CORS headers). Each throws (or rejects with) what the client is told; the API maps it.
 */
export function createSessionRoutes({ options, credentials, hub, observer, clientIp }: RouteContext) {
  const turn = options.turn && createTurnCredentials(options.turn)
  const joinLimiter = createRateLimiter(options.joinsPerSec, options.joinBurst)
  const cancels = createCancels(hub, options)
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
    const { nonce } = request
    if (nonce !== undefined) refuseClaim(await hub.tickets.claim(nonce))
    const result = await hub.join(id, request.room, request.meta, request.peer, admission)
    if (!result.ok) throw joinFailure(result.code, options)
    // The seat, and a session made for it alone.
    const unseat = async () => hub.leave(id, token === undefined ? undefined : result.peer)
    let settled = true
    try {
      if (nonce !== undefined) settled = await hub.tickets.settle(nonce, { session: id, peer: result.peer })
    } catch (err) {
      // Seated, but the page hears only the error and retries with a fresh join: left seated, its peer
      // would haunt the room for the grace period. A re-claim's peer was the page's before and stays.
      // When Redis is away altogether this leave fails too, and the grace period it is.
      if (request.peer === undefined) await unseat().catch(() => {})
      throw err
    }
    if (!settled) {
      // Cancelled in flight: the page that sent it is gone, and so is a session made for it alone.
      await unseat()
      throw cancelled()
    }
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

  // Also a beacon (text/plain): the token may come in the body, where sendBeacon can put it. A nonce
  // needs no token: the answer does not say whether the server knew it (it may say the cancels are spent).
  async function leave(req: IncomingMessage, res: ServerResponse, headers: Headers) {
    const { peer, token: inBody, nonce } = parseLeave(await readJson(req, options.maxBodyBytes, bodyTimeoutMs, true))
    const token = bearer(req.headers.authorization) ?? inBody
    // A token that no longer holds must not stop the cancel beside it (it needs none): its error waits.
    let session: string | undefined
    let invalid: unknown
    try {
      session = sessionFrom(credentials, token)
    } catch (err) {
      invalid = err
    }
    // Refused or failed, the cancel still lets the token's leave through: a refused leave leaves a ghost.
    let refused: unknown
    if (nonce !== undefined) {
      try {
        await cancels.cancel(nonce, session, clientIp(req))
      } catch (err) {
        refused = err
      }
    }
    if (session !== undefined) await hub.leave(session, peer)
    else if (token !== undefined || nonce === undefined) throw invalid
    if (refused) throw refused
    sendNoContent(res, headers)
  }

  return {
    routes: { join, ice, leave, renew },
    /** Forgets rate-limit buckets that have refilled; call it on a timer. */
    sweep: () => {
      joinLimiter.sweep()
      cancels.sweep()
    },
    limitKeys: () => joinLimiter.size + cancels.size(),
  }
}
