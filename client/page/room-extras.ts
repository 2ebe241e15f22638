// What a room page needs only once it is joined, in one chunk that later.ts loads then: the QR code (drawing
// it is the page's one costly start-up task), search, the message toolbar and @mentions. They take their
// elements and checks as options rather than importing the page's modules, which would split those into
// chunks of their own. The "You" settings stay with the page: on a wide screen they are in view from the start.
export { createMentions } from './mentions'
export { createMessageActions } from './message-actions'
export { qrDataUrl } from './qr'
export { createSearchView } from './search-view'
