import { mark } from '../lib/marks'
import { showRoom } from './chat-page'
import { showLanding } from './landing-page'
import { ROOM_PATH } from './links'
import { applyTheme } from './theme'

mark('script-start')
applyTheme()
const match = ROOM_PATH.exec(location.pathname)
if (match) showRoom(match[1]!)
else showLanding()

// The app shell offline and installable (client/page/sw.ts); a failure only costs those.
if ('serviceWorker' in navigator) void navigator.serviceWorker.register('/sw.js').catch(() => {})
