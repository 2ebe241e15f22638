import { mark } from '../lib/marks'
import { showRoom } from './chat-page'
import { showLanding } from './landing-page'
import { ROOM_PATH } from './links'
import { registerShell } from './shell'
import { applyTheme } from './theme'

mark('script-start')
applyTheme()
const match = ROOM_PATH.exec(location.pathname)
if (match) showRoom(match[1]!)
else showLanding()
// A room page registers the shell once joined (chat-page.ts).
if (!match) addEventListener('load', registerShell, { once: true })
