import type { JoinResponse } from '../../../signaling/protocol'
import { createEmitter } from '../emitter'
import type { Membership, MembershipHandlers, Signaling, SignalingEvents, SignalingJoinOptions, SignalingStatus } from '../types'
import { createSerialQueue } from '../util'
import { createEventStream } from './event-stream'
import { createSignalingHttp, SignalingError, type SignalingHttp } from './http'
import { createSignalQueue } from './signal-queue'

// Renew the session's credentials at 80% of their lifetime; after a failed try, again in a minute.
const RENEW_AT = 0.8
const RENEW_RETRY_MS = 60_000

interface Joined {
  room: string
  meta: string | undefined
  handlers: MembershipHandlers
  verifier: string | undefined
  /** Told each re-claim's nonce too: its tab cancels the re-claim in flight when it leaves. */
  nonces: JoinNonces | undefined
}

const membershipOf = (joined: JoinResponse): Membership => ({
  peer: joined.peer,
  peers: joined.peers,
  iceServers: joined.iceServers,
  token: joined.token,
  ...(joined.iceServersTtlS ? { iceServersTtlS: joined.iceServersTtlS } : {}),
})

/**
 * The session's token, renewed with the stream key at RENEW_AT of its lifetime; a session the server no
 * longer accepts (a long sleep) is `expired`.
 */
function createSession(
  http: Pick<SignalingHttp, 'renew' | 'leave'>,
  stream: Pick<ReturnType<typeof createEventStream>, 'renewKey' | 'listen' | 'end'>,
  closed: () => boolean,
  expired: () => void,
) {
  let token: string | undefined
  let renewTimer: ReturnType<typeof setTimeout> | undefined

  function end() {
    token = undefined
    clearTimeout(renewTimer)
    stream.end()
  }

  function scheduleRenewal(ttlS: number) {
    clearTimeout(renewTimer)
    renewTimer = setTimeout(() => void renew(), ttlS * 1000 * RENEW_AT)
  }

  async function renew() {
    if (closed() || !token) return
    try {
      const renewed = await http.renew()
      if (!token) return
      token = renewed.token
      stream.renewKey(renewed.key)
      scheduleRenewal(renewed.credentialsTtlS)
    } catch (err) {
      if (err instanceof SignalingError && err.status === 401) return void expired()
      clearTimeout(renewTimer)
      renewTimer = setTimeout(() => void renew(), RENEW_RETRY_MS)
    }
  }

  return {
    token: () => token,

    joined(joined: JoinResponse) {
      // A join with our token adds to the same session: its key may be a renewed one, not a new stream.
      if (token !== undefined) stream.renewKey(joined.key)
      token = joined.token
      stream.listen(joined.key)
      if (joined.credentialsTtlS) scheduleRenewal(joined.credentialsTtlS)
    },

    /** Forgets the token and ends the stream: the next join starts a fresh session. */
    end,

    /**
     * `peer` leaves; with no `others` (peers, or joins under way, which may carry the token and be
     * seated in this session) the whole session does. True if it ended.
     */
    leave(peer: string | undefined, others: boolean) {
      if (!token) return false
      if (!others) {
        http.leave({ token })
        end()
        return true
      }
      if (peer) http.leave({ token, peer })
      return false
    },

    stopRenewing: () => clearTimeout(renewTimer),
  }
}

/** The nonces of a join that its tab must be able to cancel (shared-signaling.ts, worker.ts). */
export interface JoinNonces {
  /** The first attempt's: the tab chose it. */
  first: string
  /** Each attempt's (and each re-claim's, after a `reset`), as its POST leaves. */
  sent(nonce: string): void
  /** A re-claim was answered (seated or refused): nothing of it is in flight to cancel any more. */
  settled(): void
  /** True once the tab that asked went: the join stops trying. */
  gone(): boolean
}

export interface SignalingClientJoinOptions extends SignalingJoinOptions {
  /**
   * For a tab that may have to cancel the join (shared-signaling.ts): the first attempt's nonce, which
   * it chose, and each attempt's as its POST leaves.
   */
  nonces?: JoinNonces | undefined
}

export type SignalingClient = Omit<Signaling, 'join' | 'flush'> & {
  join(room: string, meta: string | undefined, handlers: MembershipHandlers, options?: SignalingClientJoinOptions): Promise<Membership>
  flush(from: string): void
  networkChanged(online: boolean): void
}

/** Follows the page's online/offline events until the function returned is called. */
function watchNetwork(changed: (online: boolean) => void): () => void {
  const onOnline = () => changed(true)
  const onOffline = () => changed(false)
  // Node has no window events: there the stream's own errors are all there is.
  globalThis.addEventListener?.('online', onOnline)
  globalThis.addEventListener?.('offline', onOffline)
  return () => {
    globalThis.removeEventListener?.('online', onOnline)
    globalThis.removeEventListener?.('offline', onOffline)
  }
}

/**
 * The signaling client of one page (or of the shared worker): one session, one event stream, any
 * number of rooms. Composes the session's POSTs (http.ts), its stream (event-stream.ts) and the
 * outgoing signals (signal-queue.ts).
 */
export interface SignalingClientOptions {
  /** Outside the browser (Node has no global EventSource): e.g. the `eventsource` package's. */
  EventSource?: typeof EventSource
}

export function createSignalingClient(server = '/v1', options: SignalingClientOptions = {}): SignalingClient {
  const events = createEmitter<SignalingEvents>()
  const memberships = new Map<string, Joined>()
  let status: SignalingStatus = 'connecting'
  let closed = false
  // Joins run one at a time: the first creates the session the others attach to.
  const joins = createSerialQueue()
  // The nonce of the join POST in flight (a first join or a re-claim), until its answer is handled.
  let inFlight: string | undefined
  let joining = 0

  const setStatus = (next: SignalingStatus) => {
    if (next === status) return
    status = next
    events.emit('status', next)
  }

  const http = createSignalingHttp(server, { token: () => session.token(), closed: () => closed, offline: () => setStatus('offline') })
  const stream = createEventStream({
    server,
    ...(options.EventSource ? { EventSource: options.EventSource } : {}),
    setStatus,
    deliver(to, event) {
      const member = memberships.get(to)
      member?.handlers.event(event)
      return member !== undefined
    },
    reset: () => void recover(),
    onError: (err) => events.emit('error', err),
  })
  const signals = createSignalQueue({
    post: http.post,
    isMember: (from) => memberships.has(from),
    unknown: (from, to) => memberships.get(from)?.handlers.unknown(to),
    closed: () => closed,
  })
  const session = createSession(
    http,
    stream,
    () => closed,
    () => void joins(async () => startOver()),
  )

  /** Each attempt's nonce, as its POST leaves: close() cancels it, and the tab that asked hears of it. */
  const sending = (nonces: JoinNonces | undefined) => (nonce: string) => {
    inFlight = nonce
    nonces?.sent(nonce)
  }

  /** The server no longer accepts this session: every membership is lost, and each room joins afresh. */
  function startOver() {
    const lost = [...memberships.values()]
    memberships.clear()
    session.end()
    for (const member of lost) member.handlers.lost()
  }

  /** After a `reset`, re-claim every peer id; if the server no longer accepts our token, start over. */
  function recover() {
    return joins(async () => {
      for (const [peer, { room, meta, handlers, verifier, nonces }] of memberships) {
        // Taken before: a leave of the session's last peer ends the session, token and all.
        const token = session.token()
        try {
          await http.join(room, meta, { peer, verifier, sent: sending(nonces), gone: () => !memberships.has(peer) })
          // Left while its re-claim was in flight, which seated it again.
          if (!memberships.has(peer) && token) http.leave({ token, peer })
        } catch (err) {
          // Closed (and the re-claim cancelled): this client is going.
          if (closed) return
          // Left meanwhile (its tab cancels the re-claim as it leaves): the others still need theirs.
          if (!memberships.has(peer)) continue
          if (err instanceof SignalingError && (err.status === 401 || err.code === 'BAD_PEER')) return startOver()
          memberships.delete(peer)
          handlers.lost()
        } finally {
          inFlight = undefined
          nonces?.settled()
        }
      }
    })
  }

  const left = (peer?: string) => {
    if (session.leave(peer, memberships.size > 0 || joining > 0)) setStatus('connecting')
  }

  const networkChanged = (online: boolean) => {
    if (!closed) stream.networkChanged(online, status)
  }
  const unwatchNetwork = watchNetwork(networkChanged)

  return {
    on: events.on,
    off: events.off,
    get status() {
      return status
    },

    join(room, meta, handlers, { verifier, nonces } = {}) {
      joining++
      return joins(async () => {
        try {
          const attempts = { verifier, nonce: nonces?.first, sent: sending(nonces), ...(nonces ? { gone: nonces.gone } : {}) }
          const joined = await http.join(room, meta, attempts)
          const membership = membershipOf(joined)
          memberships.set(joined.peer, { room, meta, handlers, verifier, nonces })
          // The stream first: it opens while the room handles the roster (nothing here yields to its events).
          session.joined(joined)
          handlers.joined(membership)
          for (const event of stream.takeEarly(joined.peer)) handlers.event(event)
          return membership
        } finally {
          inFlight = undefined
          joining--
          left()
        }
      })
    },

    signal: (from, to, data) => signals.push(from, to, data),
    flush: (from) => signals.flush(from),

    leave(peer) {
      stream.forget(peer)
      if (memberships.delete(peer)) left(peer)
    },

    refreshIce: (peer) => http.refreshIce(peer),

    networkChanged,

    close() {
      // A join whose answer will not be handled now (the page is going): its peer would wait out the grace.
      if (inFlight && !closed) http.cancel(inFlight)
      closed = true
      session.stopRenewing()
      unwatchNetwork()
      stream.close()
      signals.clear()
      events.clear()
    },
  }
}
