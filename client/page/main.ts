import { mark } from '../lib/marks'
import { showRoom } from './chat-page'
import { showLanding } from './landing-page'
import { ROOM_PATH } from './links'
import { applyTheme } from './theme'

// A join takes well under this; the service worker can wait for it.
const SHELL_AFTER_JOIN_MS = 3_000

mark('script-start')
applyTheme()
const match = ROOM_PATH.exec(location.pathname)
if (match) showRoom(match[1]!)
else showLanding()

// The app shell offline and installable (client/page/sw.ts); a failure only costs those. Installing
// fetches the whole shell again: on a room page, not while the join competes for the network and CPU.
if ('serviceWorker' in navigator) {
  const register = () => void navigator.serviceWorker.register('/sw.js').catch(() => {})
  addEventListener('load', () => setTimeout(register, match ? SHELL_AFTER_JOIN_MS : 0), { once: true })
}
