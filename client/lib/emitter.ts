/** mitt-style typed events: `type Events = { name: Payload }`. */
export type Handler<T> = (payload: T) => void

export interface Emitter<Events extends Record<string, unknown>> {
  on<K extends keyof Events>(type: K, handler: Handler<Events[K]>): () => void
  off<K extends keyof Events>(type: K, handler: Handler<Events[K]>): void
  emit<K extends keyof Events>(type: K, payload: Events[K]): void
  /** Drops every handler (part of an owner's teardown). */
  clear(): void
}

export function createEmitter<Events extends Record<string, unknown>>(): Emitter<Events> {
  const all = new Map<keyof Events, Set<Handler<never>>>()
  return {
    on(type, handler) {
      let set = all.get(type)
      if (!set) {
        set = new Set()
        all.set(type, set)
      }
      set.add(handler as Handler<never>)
      return () => this.off(type, handler)
    },
    off(type, handler) {
      all.get(type)?.delete(handler as Handler<never>)
    },
    emit(type, payload) {
      // A handler that throws must not starve the others or break the caller's state machine.
      for (const handler of [...(all.get(type) ?? [])]) {
        try {
          ;(handler as Handler<typeof payload>)(payload)
        } catch (err) {
          setTimeout(() => {
            throw err
          })
        }
      }
    },
    clear() {
      all.clear()
    },
  }
}
