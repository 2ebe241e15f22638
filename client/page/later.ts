import { whenMarked } from '../lib/marks'

// A page whose join never leaves (a refused link) still gets its extras, this long after it asked.
const EXTRAS_LATEST_MS = 2_000

export type Extras = typeof import('./room-extras')

/** Runs `use` with the room page's extras: at once when they are loaded, else once they are, in call order. */
export type UseExtras = (use: (extras: Extras) => void) => void

/**
 * The room page's extras (room-extras.ts), fetched and run once the join request has left, so they never
 * compete with it for the network or the CPU; sooner if the person presses a key or a pointer first (the
 * chunk is a few milliseconds away, less than a person notices). Until then, what uses them waits in line.
 */
export function loadExtras(): UseExtras {
  let extras: Extras | undefined
  const waiting: Array<(extras: Extras) => void> = []
  const firstUse = new Promise<void>((resolve) => {
    for (const type of ['pointerdown', 'keydown']) addEventListener(type, () => resolve(), { once: true, capture: true })
  })
  const latest = new Promise<void>((resolve) => setTimeout(resolve, EXTRAS_LATEST_MS))
  Promise.race([whenMarked('join-sent'), firstUse, latest])
    .then(() => import('./room-extras'))
    .then((loaded) => {
      extras = loaded
      for (const use of waiting.splice(0)) use(loaded)
    })
    // Only a page offline before its shell was ever cached can miss the chunk: chat still works without.
    .catch(() => {})
  return (use) => (extras ? use(extras) : void waiting.push(use))
}
