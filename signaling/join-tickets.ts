/**
 * Join tickets: what became of each join nonce (PROTOCOL.md 3.1, 3.5), so that a page which goes away
 * while its own join is in flight can cancel it without the token it never received. A ticket is
 * pending (its join is in flight), joined (it seated a peer of a session), or cancelled; cancelling
 * frees the seat of a joined ticket, and a pending one is refused when its join lands. Every ticket is
 * forgotten a while (ticketTtlMs) after its nonce was first seen, whatever happens to it meanwhile.
 */

// Beyond the body timeout: a join is claimed once its body is in, which may be the whole body timeout
// after its cancel was first seen; a cancel must not be forgotten before its join lands.
export const TICKET_TTL_MS = 60_000
/** How long tickets live on a server whose request bodies may take `bodyTimeoutS`. */
export const ticketTtlMs = (bodyTimeoutS: number) => bodyTimeoutS * 1000 + TICKET_TTL_MS
// A joined ticket with a 64-character nonce takes about 500 bytes of heap (measured), so this holds
// them under 20 MB. Joins, and cancels of nonces not seen yet (with a token, and without), are each
// rate-limited per address however many sessions it holds (by default a burst of 30, then 2/s), so
// pushing a live nonce out within its minute takes about 65 addresses at full rate; a nonce lost that
// way costs what every join cost before nonces: a ghost for the grace period.
export const MAX_TICKETS = 32_768

type MaybePromise<T> = T | Promise<T>

/** What a join carrying a nonce may do: go ahead, or be refused (JOIN_CANCELLED, NONCE_USED). */
export type Claim = 'ok' | 'cancelled' | 'used'

/** A peer a completed join seated, which its cancel makes leave. */
export interface Seat {
  session: string
  peer: string
}

export interface JoinTickets {
  /** A join with `nonce` arrived: the first one goes ahead; a cancelled nonce or a repeated one does not. */
  claim(nonce: string): MaybePromise<Claim>
  /** The claimed join seated `seat`: false when the nonce was cancelled meanwhile (unseat it). */
  settle(nonce: string, seat: Seat): MaybePromise<boolean>
  /**
   * Cancels the join with `nonce`: the seat it already holds, which must leave, or null. An unknown
   * nonce is remembered as cancelled (its join may be yet to come), unless `onlyKnown`: then it is
   * left alone and the answer is 'unknown'.
   */
  cancel(nonce: string, onlyKnown?: boolean): MaybePromise<Seat | null | 'unknown'>
}

type State = { state: 'pending' } | { state: 'cancelled' } | ({ state: 'joined' } & Seat)

/** The tickets of a single process: a Map in order of first sight, so the oldest are at its head. */
export function createMemoryTickets(now: () => number = Date.now, max = MAX_TICKETS, ttlMs = TICKET_TTL_MS): JoinTickets {
  const tickets = new Map<string, State & { at: number }>()

  /** Forgets what is past its minute, and the oldest beyond the cap. */
  function prune(): void {
    const expired = now() - ttlMs
    for (const [nonce, ticket] of tickets) {
      if (ticket.at > expired && tickets.size < max) return
      tickets.delete(nonce)
    }
  }

  const live = (nonce: string) => {
    const ticket = tickets.get(nonce)
    return ticket && ticket.at > now() - ttlMs ? ticket : undefined
  }

  /** Sets a ticket's state, keeping the time (and the place) of its first sighting. */
  function put(nonce: string, state: State): void {
    const at = live(nonce)?.at
    if (at === undefined) {
      tickets.delete(nonce)
      prune()
    }
    tickets.set(nonce, { ...state, at: at ?? now() })
  }

  return {
    claim(nonce) {
      const ticket = live(nonce)
      if (ticket) return ticket.state === 'cancelled' ? 'cancelled' : 'used'
      put(nonce, { state: 'pending' })
      return 'ok'
    },
    settle(nonce, seat) {
      if (live(nonce)?.state === 'cancelled') return false
      put(nonce, { state: 'joined', ...seat })
      return true
    },
    cancel(nonce, onlyKnown = false) {
      const ticket = live(nonce)
      if (!ticket && onlyKnown) return 'unknown'
      put(nonce, { state: 'cancelled' })
      return ticket?.state === 'joined' ? { session: ticket.session, peer: ticket.peer } : null
    },
  }
}
