import { showRoom } from './chat-page'
import { showLanding } from './landing-page'

const ROOM_PATH = /^\/r\/([A-Za-z0-9_-]{1,64})\/?$/

const match = ROOM_PATH.exec(location.pathname)
if (match) showRoom(match[1]!)
else showLanding()
