// HACK: simple-peer and the readable-stream stand-in need Node's EventEmitter, and the `events` package
// is 6 KB of minified code for the four methods they call (on, once, removeListener, emit).
// https://github.com/feross/simple-peer/blob/v9.11.1/index.js
type Listener = ((...args: unknown[]) => void) & { original?: Listener }

export class EventEmitter {
  #listeners: Record<string | symbol, Listener[]> = {}

  on(type: string | symbol, listener: Listener): this {
    this.#listeners[type] = [...(this.#listeners[type] ?? []), listener]
    return this
  }

  once(type: string | symbol, listener: Listener): this {
    const wrapped: Listener = (...args) => {
      this.removeListener(type, wrapped)
      listener.apply(this, args)
    }
    wrapped.original = listener
    return this.on(type, wrapped)
  }

  /** Removes every registration of `listener` (simple-peer registers each at most once). */
  removeListener(type: string | symbol, listener: Listener): this {
    this.#listeners[type] = (this.#listeners[type] ?? []).filter((l) => l !== listener && l.original !== listener)
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
