// HACK: simple-peer extends Node's stream.Duplex (readable-stream: ~12 KB gzipped in a browser bundle)
// but Parley only uses its `send()`/`data` event API. This stand-in keeps the parts simple-peer touches:
// push() → 'data'/'end', end() → 'finish', and the two state flags its destroy() reads.
// https://github.com/feross/simple-peer/blob/v9.11.1/index.js
import { EventEmitter } from './events'

export class Duplex extends EventEmitter {
  readable = true
  writable = true
  _readableState = { ended: false }
  _writableState = { finished: false }

  push(chunk: unknown): boolean {
    if (chunk === null) {
      if (!this._readableState.ended) {
        this._readableState.ended = true
        this.emit('end')
      }
    } else {
      this.emit('data', chunk)
    }
    return true
  }

  end(): void {
    if (this._writableState.finished) return
    this._writableState.finished = true
    this.emit('finish')
  }
}

export default { Duplex }
