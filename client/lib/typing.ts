import type { PeerMessage } from './peer-protocol'
import type { Emit, PeerView } from './types'

// Typing: say so at most every few seconds while typing; others forget it a little after the last.
export const TYPING_EVERY_MS = 2_000
export const TYPING_SHOWN_MS = 5_000

/** Typing indicators both ways: ours throttled, theirs expiring. */
export function createTyping(mesh: { sendNow(message: PeerMessage, to?: string): string[]; views(): PeerView[] }, emit: Emit) {
  const typing = new Map<string, ReturnType<typeof setTimeout>>()
  let lastTyping = 0
  let lastTo: string | undefined

  function changed() {
    const views = mesh.views()
    emit('typing', { peers: [...typing.keys()].map((id) => views.find((v) => v.id === id)).filter((v) => v !== undefined) })
  }

  function stop(peer: string) {
    const timer = typing.get(peer)
    if (timer === undefined) return
    clearTimeout(timer)
    typing.delete(peer)
    changed()
  }

  return {
    /** We are typing (to `to` alone, privately), throttled: they hear it at most every TYPING_EVERY_MS. */
    local(to?: string): void {
      const now = Date.now()
      if (now - lastTyping < TYPING_EVERY_MS && to === lastTo) return
      lastTyping = now
      lastTo = to
      mesh.sendNow({ type: 'typing' }, to)
    },

    /** We sent a message: typing right after it is news again. */
    sent(): void {
      lastTyping = 0
    },

    /** They are typing, until TYPING_SHOWN_MS from now. */
    heard(peer: string): void {
      const known = typing.has(peer)
      clearTimeout(typing.get(peer))
      typing.set(
        peer,
        setTimeout(() => stop(peer), TYPING_SHOWN_MS),
      )
      if (!known) changed()
    },

    /** Their message arrived, or they left: they are not typing any more. */
    stop,

    close(): void {
      for (const timer of typing.values()) clearTimeout(timer)
      typing.clear()
    },
  }
}
