/** Small helpers every part of the client shares; this module imports nothing. */

const COLOR = /^#[0-9a-f]{6}$/i

/** A colour as people choose it: `#rrggbb`. */
export const isColor = (value: unknown): value is string => typeof value === 'string' && COLOR.test(value)

/** A plain object (not null, not an array): the first check on anything parsed from outside. */
export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** Exponential backoff with jitter: `minMs × 2^attempt`, capped at `maxMs`, then scaled by 0.5…1. */
export const backoffMs = (attempt: number, minMs: number, maxMs: number) =>
  Math.min(maxMs, minMs * 2 ** attempt) * (0.5 + Math.random() / 2)

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Runs tasks one after another, in the order they were queued, whatever each one awaits. A task that
 * fails rejects its own promise only; the next one still runs.
 */
export function createSerialQueue() {
  let tail: Promise<unknown> = Promise.resolve()
  return <T>(task: () => T | Promise<T>): Promise<T> => {
    const run = tail.then(task)
    tail = run.catch(() => {})
    return run
  }
}
