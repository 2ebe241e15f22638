import { nanoid } from 'nanoid'
import type { ErrorBody, IceResponse, JoinResponse, LeaveRequest, RenewResponse } from '../../../signaling/protocol'
import { backoffMs, sleep } from '../util'

export const BACKOFF_MIN_MS = 500
export const BACKOFF_MAX_MS = 10_000
// A join's nonce: 22 random base64url characters, 132 bits (nobody can guess another page's and cancel its join).
const NONCE_CHARS = 22

export const backoff = (attempt: number) => backoffMs(attempt, BACKOFF_MIN_MS, BACKOFF_MAX_MS)

export class SignalingError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 0,
  ) {
    super(message)
  }
}

/**
 * Says goodbye by beacon, which survives page unload; text/plain keeps it a simple (no preflight)
 * request. False where there is no sendBeacon (workers, which outlive the page anyway).
 */
export const leaveByBeacon = (server: string, body: LeaveRequest): boolean =>
  globalThis.navigator?.sendBeacon?.(`${server}/leave`, JSON.stringify(body)) ?? false

/** The error a refused request carries: the server's code and message when it sent them. */
export async function failure(res: Response): Promise<SignalingError> {
  const body = (await res.json().catch(() => null)) as Partial<ErrorBody> | null
  return new SignalingError(body?.error ?? 'HTTP_ERROR', body?.message ?? `HTTP ${res.status}`, res.status)
}

/** How long to wait before retrying: the server's Retry-After, or our backoff if that is longer. */
export const retryAfter = (res: Response, attempt: number) => Math.max(Number(res.headers.get('retry-after')) * 1000 || 0, backoff(attempt))

/** A join's name for cancelling it (POST /leave `{nonce}`), fresh for every attempt. */
export const newNonce = () => nanoid(NONCE_CHARS)

/** How POST /join is tried: what `join` sends beside the room, and who hears of each attempt. */
export interface JoinAttemptOptions {
  /** Re-claims this peer id (with the session's token), after a `reset`. */
  peer?: string | undefined
  verifier?: string | undefined
  /** The first attempt's nonce (the shared worker's joins carry the one their tab chose). */
  nonce?: string | undefined
  /** Each attempt's nonce, as its POST leaves, so that the join can be cancelled while in flight. */
  sent?: (nonce: string) => void
  /** True once nobody waits for this join any more (the shared worker's tab that asked for it went). */
  gone?: () => boolean
}

// A POST the server has not answered by then is given up as a network failure (and retried, where it
// is): a server or proxy that holds a request would otherwise hold every join or signal behind it.
export const POST_TIMEOUT_MS = 10_000

// NONCE_USED answers in a row after which a join gives up: one is the browser resending a POST whose
// connection dropped; every attempt refused so means something on the way resends every join.
const MAX_NONCE_USED = 2

/** The POSTs of one signaling session, authorised with its token once there is one. */
export function createSignalingHttp(server: string, session: { token(): string | undefined; closed(): boolean; offline(): void }) {
  function post(path: string, body: unknown): Promise<Response> {
    const token = session.token()
    return fetch(`${server}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(POST_TIMEOUT_MS),
    })
  }

  /** Cancels the join that carried `nonce` (its answer will never be handled), by beacon, without the token. */
  function cancel(nonce: string): void {
    if (leaveByBeacon(server, { nonce })) return
    const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ nonce }), keepalive: true }
    void fetch(`${server}/leave`, init).catch(() => {})
  }

  return {
    post,
    cancel,

    /**
     * POST /join, retried through outages and rate limits; permanent refusals throw. Every attempt
     * carries a nonce, `nonce` for the first and a fresh one for each retry (the server takes each once).
     */
    async join(room: string, meta: string | undefined, options: JoinAttemptOptions = {}): Promise<JoinResponse> {
      const { peer, verifier, sent, gone } = options
      let nonceUsed = 0
      for (let attempt = 0; ; attempt++) {
        if (session.closed() || gone?.()) throw new SignalingError('CLOSED', 'signaling closed')
        const nonce = attempt === 0 && options.nonce ? options.nonce : newNonce()
        sent?.(nonce)
        let res: Response | undefined
        let joined: JoinResponse | undefined
        try {
          res = await post('/join', {
            room,
            ...(meta === undefined ? {} : { meta }),
            ...(peer ? { peer } : {}),
            ...(verifier ? { verifier } : {}),
            nonce,
          })
          if (res.ok) joined = (await res.json()) as JoinResponse
        } catch {
          res = undefined
          // Said before there is a session only: then its stream says (a join given up while it is open, its
          // answer held, must not leave every tab offline until the stream happens to reopen).
          if (!session.token()) session.offline()
          // The join may have landed with its answer lost on the way: the retry seats another peer.
          cancel(nonce)
        }
        // Closed meanwhile: close() cancelled this join, so its peer is gone or going.
        if (session.closed()) throw new SignalingError('CLOSED', 'signaling closed')
        if (joined) return joined
        if (res && res.status !== 429 && res.status < 500) {
          const refused = await failure(res)
          // The browser sent this attempt twice (Chromium resends a POST whose connection dropped
          // unanswered): the first may have seated a peer nobody will hear of.
          if (refused.code !== 'NONCE_USED') throw refused
          cancel(nonce)
          if (++nonceUsed > MAX_NONCE_USED) throw refused
        } else {
          nonceUsed = 0
        }
        await sleep(res ? retryAfter(res, attempt) : backoff(attempt))
      }
    },

    /** POST /renew: the session's credentials, valid afresh. */
    async renew(): Promise<RenewResponse> {
      const res = await post('/renew', {})
      if (!res.ok) throw await failure(res)
      return (await res.json()) as RenewResponse
    },

    async refreshIce(peer: string): Promise<IceResponse> {
      const res = await post('/ice', { peer })
      if (!res.ok) throw await failure(res)
      return (await res.json()) as IceResponse
    },

    /** Leaves by beacon where possible (it outlives the page), else by a POST nobody waits for. */
    leave(body: { token: string; peer?: string }): void {
      if (leaveByBeacon(server, body)) return
      // The token in the body too: the session may have ended (and forgotten it) by the time this leaves.
      void post('/leave', body).catch(() => {})
    },
  }
}

export type SignalingHttp = ReturnType<typeof createSignalingHttp>
