// HACK: simple-peer and the readable-stream stand-in need Node's EventEmitter, and the `events` package
// is 6 KB of minified code for the two methods the page uses: the page's copy of simple-peer only emits
// (its writable side cut and trickle always on, client/shims/simple-peer.mjs: no once or removeListener),
// and the page listens with on (webrtc.ts, peer-link.ts, room.ts).
// https://github.com/feross/simple-peer/blob/v9.11.1/index.js
type Listener = (...args: unknown[]) => void

export class EventEmitter {
  #listeners: Record<string | symbol, Listener[]> = {}

  on(type: string | symbol, listener: Listener): this {
    this.#listeners[type] = [...(this.#listeners[type] ?? []), listener]
    return this
  }

  emit(type: string | symbol, ...args: unknown[]): boolean {
    const list = this.#listeners[type] ?? []
    // As in Node: an 'error' nobody listens for is thrown, not lost.
    if (list.length === 0 && type === 'error') throw args[0]
    for (const listener of list) listener.apply(this, args)
    return list.length > 0
  }
}

export default EventEmitter
