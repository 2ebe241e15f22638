import { whenMarked } from '../lib/marks'

// A page alone in its room (nobody to connect to), or whose join fails or is slow, gets its extras this long
// after it asked: past a join on an idle machine, soon enough that the QR code of an empty room is not missed.
const EXTRAS_LATEST_MS = 500

/** The extras' scripts (room-extras and the chunks only it imports), space-separated, set by the build (build.mjs). */
declare const __PARLEY_LATER__: string

export type Extras = typeof import('./room-extras')

/** Runs `use` with the room page's extras: at once when they are loaded, else once they are, in call order. */
export type UseExtras = (use: (extras: Extras) => void) => void

/**
 * The room page's extras (room-extras.ts), fetched and run once this page is connected to someone (the
 * room's `connected` mark), so they do not compete with the join for the CPU: run as soon as the join
 * request left, their work and the layout it dirties land between the join's answer and the first channel.
 * Sooner if the person presses a key or a pointer first: by then the chunk is fetched (or one request away),
 * and a press comes before its click. Until then, what uses them waits in line.
 */
export function loadExtras(): UseExtras {
  // Fetched (not run) as soon as the join request has left, while the server is surely there: a page that
  // loses it before its extras run (the server restarting) still has them.
  void whenMarked('join-sent').then(() => {
    for (const href of __PARLEY_LATER__.split(' ').filter(Boolean))
      document.head.append(Object.assign(document.createElement('link'), { rel: 'modulepreload', href }))
  })
  let extras: Extras | undefined
  const waiting: Array<(extras: Extras) => void> = []
  /** Resolves at the person's next key or pointer press, or when the browser is back online. */
  const nextPress = (also: string[] = []) =>
    new Promise<void>((resolve) => {
      const types = ['pointerdown', 'keydown', ...also]
      const done = () => {
        for (const type of types) removeEventListener(type, done, true)
        resolve()
      }
      for (const type of types) addEventListener(type, done, true)
    })
  const load = (when: Promise<unknown>): void => {
    when
      .then(() => import('./room-extras'))
      .then(
        (loaded) => {
          extras = loaded
          for (const use of waiting.splice(0)) use(loaded)
        },
        // The chunk could not be had (offline before the shell was cached, a network error): chat works
        // without; the next press, or coming back online, tries again.
        () => load(nextPress(['online'])),
      )
  }
  const latest = new Promise<void>((resolve) => setTimeout(resolve, EXTRAS_LATEST_MS))
  load(Promise.race([whenMarked('connected'), nextPress(), latest]))
  return (use) => (extras ? use(extras) : void waiting.push(use))
}
