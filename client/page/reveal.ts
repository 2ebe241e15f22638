import type { Room } from '../lib'
import { whenMarked } from '../lib/marks'
import { SIGNAL_GATHER_MS } from '../lib/signaling/signal-queue'
import { sleep } from '../lib/util'
import { $ } from './dom'

// Styling, laying out and painting the room page holds the main thread for tens of milliseconds (more on a
// phone), and the join's answer and first offers would wait behind it (measured: test/bench/README.md,
// "Showing the page after the offers"). So the page appears once the join has sent its offers, or found
// nobody to send them to, or failed; and at the latest this long after the page started joining (a slow or
// unreachable server: its banner shows then).
const REVEAL_LATEST_MS = 250

/**
 * Shows the room page (hidden until then) once the room's join no longer needs the main thread before the
 * page does, with the focus in the message box and the newest line in view: neither can be set while hidden.
 */
export function revealWhenJoined(room: Room, page: { focus(): void; follow(): void }): void {
  let shown = false
  const once = () => {
    if (shown) return
    shown = true
    clearTimeout(latest)
    $('room').hidden = false
    if (room.status === 'online' && document.activeElement === document.body) page.focus()
    page.follow()
  }
  const latest = setTimeout(once, REVEAL_LATEST_MS)
  void (async () => {
    await whenMarked('roster-applied')
    // The join reply's roster is in the mesh, and this page offers to everyone already there (mesh.ts): its
    // offers leave once their candidates are gathered, or SIGNAL_GATHER_MS after the first at the latest.
    if (room.peers.length > 0) {
      await whenMarked('offer-sent')
      await Promise.race([whenMarked('signals-flushed'), sleep(SIGNAL_GATHER_MS)])
    }
    once()
  })()
  room.on('status', (status) => status === 'closed' && once())
}
