import { HttpError } from './errors'

/** Token buckets keyed by client IP or peer id. Full buckets are forgotten, so idle keys cost nothing. */
export function createRateLimiter(ratePerSec: number, burst: number, now: () => number = Date.now) {
  const buckets = new Map<string, { tokens: number; at: number }>()

  const refill = (bucket: { tokens: number; at: number }, t: number) => {
    bucket.tokens = Math.min(burst, bucket.tokens + ((t - bucket.at) * ratePerSec) / 1000)
    bucket.at = t
  }

  return {
    /** Takes `count` tokens; returns 0 when allowed, else the milliseconds until they are available. */
    take(key: string, count = 1): number {
      const t = now()
      let bucket = buckets.get(key)
      if (!bucket) {
        bucket = { tokens: burst, at: t }
        buckets.set(key, bucket)
      } else refill(bucket, t)
      if (bucket.tokens >= count) {
        bucket.tokens -= count
        return 0
      }
      return Math.ceil(((count - bucket.tokens) * 1000) / ratePerSec)
    },
    /** Drops buckets that have refilled; call it on a timer. */
    sweep(): void {
      const t = now()
      for (const [key, bucket] of buckets) {
        refill(bucket, t)
        if (bucket.tokens >= burst) buckets.delete(key)
      }
    },
    get size() {
      return buckets.size
    },
  }
}

/** Counts open things (streams) per key, forgetting keys that reach zero. */
export function createCounter(max: number) {
  const counts = new Map<string, number>()
  return {
    /** Returns false (and counts nothing) when `key` is at the limit. */
    acquire(key: string): boolean {
      const n = counts.get(key) ?? 0
      if (n >= max) return false
      counts.set(key, n + 1)
      return true
    },
    release(key: string): void {
      const n = (counts.get(key) ?? 0) - 1
      if (n > 0) counts.set(key, n)
      else counts.delete(key)
    },
    get size() {
      return counts.size
    },
  }
}

export type RateLimiter = ReturnType<typeof createRateLimiter>

/** Takes `count` tokens for `key`, or refuses with RATE_LIMITED and how long to wait. */
export function takeOrRefuse(limiter: RateLimiter, key: string, what: string, count = 1): void {
  const wait = limiter.take(key, count)
  if (wait > 0) throw new HttpError(429, 'RATE_LIMITED', `too many ${what}; retry later`, wait)
}
