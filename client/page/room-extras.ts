// What a room page needs only once its join is on its way, in one chunk that later.ts loads then: the QR
// code, the "You" settings, search, the message toolbar, @mentions and the alerts of a hidden tab.
export { createAlerts } from './alerts'
export { createMentions } from './mentions'
export { createMessageActions } from './message-actions'
export { qrDataUrl } from './qr'
export { createSearchView } from './search-view'
export { bindSettings } from './settings'
