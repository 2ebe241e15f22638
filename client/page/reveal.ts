import type { Room } from '../lib'
import { whenMarked } from '../lib/marks'
import { SIGNAL_GATHER_MS } from '../lib/signaling/signal-queue'
import { sleep } from '../lib/util'
import { $ } from './dom'

// Styling, laying out and painting the room page holds the main thread for tens of milliseconds (more on a
// phone), and the join's answer and first offers would wait behind it (measured: test/bench/README.md,
// "Showing the page after the offers"). So the page appears once the join has sent its offers, or found
// nobody to send them to, or failed; and at the latest this long after the page started (a slow or
// unreachable server: its banner shows then; a page that failed to build: what it has).
const REVEAL_LATEST_MS = 250

/** The room page, hidden from now until `now()` or its join's offers have left (`whenJoined`), or the cap. */
export function createReveal() {
  let shown = false
  let joined: { room: Room; focus(): void; follow(): void } | undefined
  const now = () => {
    if (shown) return
    shown = true
    clearTimeout(latest)
    $('room').hidden = false
    // Neither could be set while the page was hidden.
    if (joined?.room.status === 'online' && document.activeElement === document.body) joined.focus()
    joined?.follow()
  }
  const latest = setTimeout(now, REVEAL_LATEST_MS)

  return {
    now,
    /** Shows the page once `room`'s join no longer needs the main thread first; then the message box takes the focus and the log its newest line. */
    whenJoined(room: Room, page: { focus(): void; follow(): void }) {
      joined = { room, ...page }
      room.on('status', (status) => status === 'closed' && now())
      void (async () => {
        await whenMarked('roster-applied')
        // The join reply's roster is in the mesh, and this page offers to everyone already there (mesh.ts): its
        // offers leave once their host candidates are out, or SIGNAL_GATHER_MS after the first at the latest.
        if (room.peers.length > 0) {
          await whenMarked('offer-sent')
          await Promise.race([whenMarked('signals-flushed'), sleep(SIGNAL_GATHER_MS)])
        }
        now()
      })()
    },
  }
}
