import { whenMarked } from '../lib/marks'

/** The extras' scripts (room-extras and the chunks only it imports), space-separated, set by the build (build.mjs). */
declare const __PARLEY_LATER__: string

export type Extras = typeof import('./room-extras')

/** Runs `use` with the room page's extras: at once when they are loaded, else once they are, in call order. */
export type UseExtras = (use: (extras: Extras) => void) => void

/**
 * The room page's extras (room-extras.ts), fetched while the join is under way and run once the room has
 * settled (the `settled` mark, shell.ts: nobody on a first attempt to connect any more, or a 10 s cap), so
 * neither they nor the layout they dirty compete with the join's later connections for the CPU. Sooner
 * if the person presses a key or a pointer first: by then the chunk is fetched (or one request away), and
 * a press comes before its click. Until then, what uses them waits in line. A page that never joins (a
 * bad link) runs them at a press only.
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
  load(Promise.race([whenMarked('settled'), nextPress()]))
  return (use) => (extras ? use(extras) : void waiting.push(use))
}
