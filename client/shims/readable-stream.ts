// HACK: simple-peer extends Node's stream.Duplex (readable-stream: ~12 KB gzipped in a browser bundle)
// but Parley only uses its `send()`/`data` event API. The page's copy of simple-peer emits 'data' itself
// and never ends either side (client/shims/simple-peer.mjs), so the stand-in is a bare EventEmitter.
// https://github.com/feross/simple-peer/blob/v9.11.1/index.js
import { EventEmitter } from './events'

export default { Duplex: EventEmitter }
