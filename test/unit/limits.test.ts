import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createCounter, createRateLimiter } from '../../signaling/limits'

/** A clock the test moves by hand. */
function clock(start = 1_000_000) {
  let t = start
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms
    },
  }
}

describe('createRateLimiter', () => {
  it('allows a full burst at once, then refuses', () => {
    const { now } = clock()
    const limiter = createRateLimiter(2, 5, now)
    expect(Array.from({ length: 5 }, () => limiter.take('ip'))).toEqual([0, 0, 0, 0, 0])
    expect(limiter.take('ip')).toBeGreaterThan(0)
  })

  it('keeps one bucket per key', () => {
    const { now } = clock()
    const limiter = createRateLimiter(1, 1, now)
    expect(limiter.take('a')).toBe(0)
    expect(limiter.take('a')).toBeGreaterThan(0)
    expect(limiter.take('b')).toBe(0)
    expect(limiter.size).toBe(2)
  })

  it('answers the milliseconds until the next token', () => {
    const { now, advance } = clock()
    const limiter = createRateLimiter(2, 3, now) // one token per 500 ms
    for (let i = 0; i < 3; i++) limiter.take('k')
    expect(limiter.take('k')).toBe(500)
    advance(250)
    expect(limiter.take('k')).toBe(250)
    advance(250)
    expect(limiter.take('k')).toBe(0)
    expect(limiter.take('k')).toBe(500)
  })

  it('rounds the wait up to whole milliseconds for slow rates', () => {
    const { now } = clock()
    const slow = createRateLimiter(0.1, 1, now)
    slow.take('k')
    expect(slow.take('k')).toBe(10_000)
    const thirds = createRateLimiter(3, 1, now)
    thirds.take('k')
    expect(thirds.take('k')).toBe(334)
  })

  it('refills at the configured rate and never beyond the burst', () => {
    const { now, advance } = clock()
    const limiter = createRateLimiter(10, 4, now)
    for (let i = 0; i < 4; i++) expect(limiter.take('k')).toBe(0)
    advance(250) // 2.5 tokens
    expect([limiter.take('k'), limiter.take('k')]).toEqual([0, 0])
    expect(limiter.take('k')).toBe(50)
    advance(60 * 60 * 1000) // an hour later: full, but only 4
    expect(Array.from({ length: 4 }, () => limiter.take('k'))).toEqual([0, 0, 0, 0])
    expect(limiter.take('k')).toBe(100)
  })

  it('refused takes do not consume tokens', () => {
    const { now, advance } = clock()
    const limiter = createRateLimiter(1, 1, now)
    limiter.take('k')
    for (let i = 0; i < 10; i++) limiter.take('k')
    advance(1_000)
    expect(limiter.take('k')).toBe(0)
  })

  it('sweep forgets full buckets only, and a forgotten key starts with a full burst', () => {
    const { now, advance } = clock()
    const limiter = createRateLimiter(1, 2, now)
    limiter.take('busy')
    limiter.take('busy')
    limiter.take('idle')
    limiter.sweep()
    expect(limiter.size).toBe(2)
    advance(1_000) // idle is full again (2 tokens), busy has 1
    limiter.sweep()
    expect(limiter.size).toBe(1)
    // The sweep's refill does not disturb the accounting of the bucket it keeps.
    expect(limiter.take('busy')).toBe(0)
    expect(limiter.take('busy')).toBe(1_000)
    advance(2_000)
    limiter.sweep()
    expect(limiter.size).toBe(0)
    expect([limiter.take('idle'), limiter.take('idle'), limiter.take('idle')]).toEqual([0, 0, 1_000])
  })

  // Tokens are floating point, so after uneven refills the answer can be a millisecond short (never
  // more): the HTTP layer rounds it up to whole seconds for Retry-After anyway.
  it('after any sequence of takes, waiting the answered time (+1 ms of rounding) makes the next take succeed (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0.1, 0.5, 1, 2, 3, 7, 50, 1000),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.integer({ min: 0, max: 3_000 }), { maxLength: 40 }),
        (rate, burst, gaps) => {
          const { now, advance } = clock()
          const limiter = createRateLimiter(rate, burst, now)
          for (const gap of gaps) {
            advance(gap)
            const wait = limiter.take('k')
            if (wait > 0) {
              expect(Number.isInteger(wait)).toBe(true)
              expect(wait).toBeLessThanOrEqual(Math.ceil(1000 / rate) + 1)
              advance(wait + 1)
              expect(limiter.take('k')).toBe(0)
            }
          }
        },
      ),
    )
  })
})

describe('createCounter', () => {
  it('acquires up to the maximum per key, then refuses without counting', () => {
    const counter = createCounter(2)
    expect([counter.acquire('ip'), counter.acquire('ip'), counter.acquire('ip')]).toEqual([true, true, false])
    counter.release('ip')
    expect(counter.acquire('ip')).toBe(true)
    expect(counter.acquire('ip')).toBe(false)
  })

  it('counts keys independently and forgets keys that reach zero', () => {
    const counter = createCounter(1)
    expect(counter.acquire('a')).toBe(true)
    expect(counter.acquire('b')).toBe(true)
    expect(counter.size).toBe(2)
    counter.release('a')
    expect(counter.size).toBe(1)
    counter.release('b')
    expect(counter.size).toBe(0)
  })

  it('treats extra releases as harmless: the count never goes below zero', () => {
    const counter = createCounter(1)
    counter.release('never')
    counter.release('never')
    expect(counter.size).toBe(0)
    expect(counter.acquire('never')).toBe(true)
    expect(counter.acquire('never')).toBe(false)
  })
})
