import type { PeerView } from '../lib'

// People already in the room arrive in one burst soon after joining (their names unsealed first); only
// later arrivals are news. An empty room has no burst: then this long after joining.
const SETTLE_MS = 1_500
// Someone who leaves and joins again under the same name within this long (a reload, a browser restarted
// after a crash) is told neither way: their row in People already went and came back.
const REJOIN_MS = 5_000

/**
 * Who came and who went, told in the log: not who was there before us, nor who comes straight back.
 * `here`: who is in the room now.
 */
export function createPresenceNotices(notice: (text: string) => void, here: () => PeerView[]) {
  let settling = true
  let settleTimer: ReturnType<typeof setTimeout> | undefined
  // "Left" notices not shown yet, by name.
  const leaving = new Map<string, ReturnType<typeof setTimeout>>()
  const settleIn = (ms: number) => {
    clearTimeout(settleTimer)
    settleTimer = setTimeout(() => (settling = false), ms)
  }

  return {
    /** The room is online (again): the roster's burst follows. */
    online: () => settleIn(SETTLE_MS),

    joined({ name }: PeerView): void {
      const left = leaving.get(name)
      clearTimeout(left)
      leaving.delete(name)
      // The roster comes as one synchronous burst: whoever comes after it is news.
      if (settling) settleIn(0)
      else if (!left) notice(`${name || 'Someone'} joined`)
    },

    left({ name }: PeerView): void {
      // Someone of that name is still here: their new session came first (the old one's goodbye was lost,
      // or late), or a namesake stays; either way "left" would read as wrong.
      if (here().some((p) => p.name === name)) return
      const told = setTimeout(() => {
        if (leaving.get(name) === told) leaving.delete(name)
        notice(`${name || 'Someone'} left`)
      }, REJOIN_MS)
      leaving.set(name, told)
    },

    close(): void {
      clearTimeout(settleTimer)
      for (const told of leaving.values()) clearTimeout(told)
      leaving.clear()
    },
  }
}
