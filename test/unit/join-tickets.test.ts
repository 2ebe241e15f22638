import { describe, expect, it } from 'vitest'
import { createMemoryTickets, TICKET_TTL_MS, ticketTtlMs } from '../../signaling/join-tickets'

// The memory tickets' bounds; their rules, shared with the Redis tickets, are in hub-contract.test.ts.
describe('createMemoryTickets', () => {
  it('holds at most `max` tickets: the oldest goes first, whatever its state', () => {
    const tickets = createMemoryTickets(() => 0, 3)
    tickets.cancel('a')
    tickets.claim('b')
    tickets.settle('b', { session: 's', peer: 'p' })
    tickets.claim('c')
    tickets.claim('d')
    expect(tickets.claim('a')).toBe('ok')
    // Re-claiming 'a' made room by pushing out 'b', the oldest then.
    expect(tickets.cancel('b')).toBeNull()
    expect([tickets.claim('d'), tickets.claim('a')]).toEqual(['used', 'used'])
  })

  it('a ticket keeps its first sighting: later changes do not extend its minute', () => {
    let t = 0
    const tickets = createMemoryTickets(() => t)
    tickets.claim('a')
    t = TICKET_TTL_MS - 1
    tickets.settle('a', { session: 's', peer: 'p' })
    tickets.cancel('other')
    t = TICKET_TTL_MS
    expect(tickets.cancel('a')).toBeNull()
    expect(tickets.claim('a')).toBe('cancelled')
    expect(tickets.claim('other')).toBe('cancelled')
    t += TICKET_TTL_MS - 1
    expect(tickets.claim('other')).toBe('ok')
  })

  it('forgets expired tickets as new ones arrive, so an idle minute frees everything', () => {
    let t = 0
    const tickets = createMemoryTickets(() => t, 2)
    tickets.claim('a')
    tickets.claim('b')
    t = TICKET_TTL_MS
    tickets.claim('c')
    tickets.claim('d')
    // Both old ones were expired and pruned: the two new ones fit without evicting each other.
    expect([tickets.claim('c'), tickets.claim('d')]).toEqual(['used', 'used'])
  })

  it('on a server whose bodies may take their longest (300 s), a cancel still refuses a join claimed after it', () => {
    let t = 0
    const tickets = createMemoryTickets(() => t, undefined, ticketTtlMs(300))
    expect(tickets.cancel('slow')).toBeNull()
    t = 300_000 + 1_000
    expect(tickets.claim('slow')).toBe('cancelled')
  })
})
