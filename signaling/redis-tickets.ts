import { type JoinTickets, type Seat, TICKET_TTL_MS } from './join-tickets'

/**
 * Join tickets in Redis, so that a cancel reaching one instance finds a join another one served. One
 * hash per nonce, P n:<nonce> {state: pending | joined | cancelled, session?, peer?}, set to expire
 * `ttlMs` after the nonce was first seen; each transition is one atomic script. Every key expires
 * and both joins and cancels are rate-limited per address, which bounds
 * how many exist. ARGV as redis-store.ts's `run` passes it: prefix, (two the hub's scripts use), then
 * the nonce, the TTL in ms, and the script's own.
 */

const TICKET = `local key = ARGV[1] .. 'n:' .. ARGV[4]
local function first_sight(state) if not state then redis.call('PEXPIRE', key, ARGV[5]) end end
`

/** Returns 'ok' (now pending), or the state that refuses the join. */
export const CLAIM_TICKET = `${TICKET}
local state = redis.call('HGET', key, 'state')
if state then return state end
redis.call('HSET', key, 'state', 'pending')
first_sight(state)
return 'ok'
`

/** ARGV 6, 7: session, peer. Returns 0 when the ticket was cancelled meanwhile. */
export const SETTLE_TICKET = `${TICKET}
local state = redis.call('HGET', key, 'state')
if state == 'cancelled' then return 0 end
redis.call('HSET', key, 'state', 'joined', 'session', ARGV[6], 'peer', ARGV[7])
first_sight(state)
return 1
`

/** ARGV 6: '1' to leave an unknown nonce alone. Returns {session, peer} of a joined ticket (which must leave now), 0 for an unknown nonce left alone, else {}. */
export const CANCEL_TICKET = `${TICKET}
local seat = redis.call('HMGET', key, 'state', 'session', 'peer')
if not seat[1] and ARGV[6] == '1' then return 0 end
redis.call('HSET', key, 'state', 'cancelled')
first_sight(seat[1])
if seat[1] == 'joined' then return {seat[2], seat[3]} end
return {}
`

export const TICKET_SCRIPTS = { claimTicket: CLAIM_TICKET, settleTicket: SETTLE_TICKET, cancelTicket: CANCEL_TICKET }

type Run = <T>(name: keyof typeof TICKET_SCRIPTS, ...args: Array<string | number>) => Promise<T>

/** The tickets over the hub's Redis store (`run`: redis-store.ts's script runner, Unavailable when Redis is away). */
export function createRedisTickets(run: Run, ttlMs = TICKET_TTL_MS): JoinTickets {
  return {
    async claim(nonce) {
      const state = await run<string>('claimTicket', nonce, ttlMs)
      if (state === 'ok') return 'ok'
      return state === 'cancelled' ? 'cancelled' : 'used'
    },
    settle: async (nonce, { session, peer }) => (await run<number>('settleTicket', nonce, ttlMs, session, peer)) === 1,
    async cancel(nonce, onlyKnown = false): Promise<Seat | null | 'unknown'> {
      const reply = await run<string[] | 0>('cancelTicket', nonce, ttlMs, onlyKnown ? '1' : '0')
      if (reply === 0) return 'unknown'
      const [session, peer] = reply
      return session === undefined || peer === undefined ? null : { session, peer }
    },
  }
}
