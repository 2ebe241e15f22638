import type { Room } from '../lib'
import { mark, whenMarked } from '../lib/marks'

// A room where someone never connects settles this long after the page started.
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
 * Marks the room `settled` once everyone in it is connected, or nobody was there to connect to, or at the
 * latest SETTLED_LATEST_MS after the page started; then installs the shell. What can wait for the join waits
 * for that mark (the page's extras too, later.ts). Returns what stops the wait, for a page that leaves first.
 */
export function settleThenInstall(room: Room): () => void {
  const settled = () => room.peers.every((p) => p.state === 'connected') && mark('settled')
  const latest = setTimeout(() => mark('settled'), SETTLED_LATEST_MS)
  room.on('peer-connected', settled)
  void whenMarked('roster-applied').then(settled)
  void whenMarked('settled').then(registerShell)
  return () => clearTimeout(latest)
}
