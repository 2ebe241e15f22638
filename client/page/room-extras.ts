// What a room page needs only once it is joined, in one chunk that later.ts loads then: the QR code, search,
// the message toolbar, @mentions and the alerts of a hidden tab. (The "You" settings stay with the page: on a
// wide screen they are in view from the start.)
export { createAlerts } from './alerts'
export { createMentions } from './mentions'
export { createMessageActions } from './message-actions'
export { qrDataUrl } from './qr'
export { createSearchView } from './search-view'
