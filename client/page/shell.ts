import type { Room } from '../lib'
import { mark, whenMarked } from '../lib/marks'

// A room where someone stays on a first attempt settles this long after its join started.
const SETTLED_LATEST_MS = 10_000

/**
 * Registers the app shell's service worker (sw.ts), once: offline start and installing as an app.
 * A failure only costs those. Installing fetches the whole shell again, so a room page does it once
 * the room has settled (below), not while the join competes for the network, the server and the CPU.
 */
let registered = false
export function registerShell(): void {
  if (registered || !('serviceWorker' in navigator)) return
  registered = true
  void navigator.serviceWorker.register('/sw.js').catch(() => {})
}

/**
 * Marks the room `settled` once nobody in it is on a first attempt to connect any more (connected, failed,
 * unverified or gone; nobody there at all), or at the latest SETTLED_LATEST_MS after the join started. What
 * can wait for the join waits for that mark (the page's extras, later.ts). The shell installs then if the
 * page is connected to someone, else at SETTLED_LATEST_MS: a page alone would install it while the next
 * person joins. Returns what stops the 10 s cap, for a page that leaves first (the room's own teardown
 * drops the listeners).
 */
export function settleThenInstall(room: Room): () => void {
  const settled = () => room.peers.some((p) => p.state === 'connecting') || mark('settled')
  const latest = setTimeout(() => {
    mark('settled')
    registerShell()
  }, SETTLED_LATEST_MS)
  const offs = (['peer-connected', 'peer-updated', 'peer-left'] as const).map((type) => room.on(type, settled))
  void whenMarked('roster-applied').then(settled)
  void whenMarked('settled').then(() => {
    for (const off of offs) off()
    if (room.peers.some((p) => p.state === 'connected')) registerShell()
  })
  return () => clearTimeout(latest)
}
