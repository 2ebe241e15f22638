// Waiting for a quiet machine between benchmark runs, so that no run pays for the last one's tail.
import { machineTicks } from './proc-info'
import { median, secs } from './stats'

/** Between runs: the previous run's tabs finish closing. */
const SETTLE_MS = 1_000
const QUIET_BUSY_PERCENT = 15
const QUIET_WINDOW_MS = 500
const QUIET_MAX_MS = 20_000

const waits: Array<{ ms: number; capped: boolean }> = []

export const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS))

/**
 * A run starts once the machine is quiet: SETTLE_MS, then until it was under QUIET_BUSY_PERCENT busy over
 * a QUIET_WINDOW_MS window (the last run's browsers closing, their service workers: the load average lags
 * too much to tell), at most QUIET_MAX_MS. Every contender waits alike; `printQuietWaits` says how long.
 */
export async function quiet(): Promise<void> {
  const start = performance.now()
  await settle()
  for (;;) {
    const before = machineTicks()
    await new Promise((resolve) => setTimeout(resolve, QUIET_WINDOW_MS))
    const after = machineTicks()
    const busy = (100 * (after.busy - before.busy)) / (after.total - before.total || 1)
    const calm = busy < QUIET_BUSY_PERCENT
    if (calm || performance.now() - start > QUIET_MAX_MS) {
      waits.push({ ms: performance.now() - start, capped: !calm })
      return
    }
  }
}

/** How long this part's runs waited for a quiet machine (then forgets them, for the next part). */
export function printQuietWaits(): void {
  const done = waits.splice(0)
  if (done.length === 0) return
  const ms = done.map((w) => w.ms).sort((a, b) => a - b)
  const capped = done.filter((w) => w.capped).length
  console.log(
    `\nEach run above began on a quiet machine: ${SETTLE_MS / 1000} s, then until under ${QUIET_BUSY_PERCENT} % busy over ` +
      `${QUIET_WINDOW_MS} ms (at most ${QUIET_MAX_MS / 1000} s): ${done.length} waits, median ${secs(median(ms) / 1000)}, ` +
      `longest ${secs(ms.at(-1)! / 1000)}${capped ? `, ${capped} cut at the cap` : ''}`,
  )
}
