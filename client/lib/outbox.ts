import type { ChatMessage } from './peer-protocol'

/** Messages kept for peers that are not (yet, or not any more) connected. */
export const OUTBOX_MESSAGES = 1_000
const SEEN_IDS = 10_000

/**
 * What this browser has said (kept for whoever connects later) and which chat messages it has already
 * seen (from anyone, over any channel), so a message resent after a reconnection is shown once.
 */
export function createOutbox() {
  const messages: ChatMessage[] = []
  const seen = new Set<string>()

  function remember(id: string) {
    seen.add(id)
    if (seen.size > SEEN_IDS) seen.delete(seen.values().next().value!)
  }

  return {
    /** Keeps one of our messages; it is seen (ours) from now on. */
    push(message: ChatMessage): void {
      messages.push(message)
      if (messages.length > OUTBOX_MESSAGES) messages.shift()
      remember(message.id)
    },

    /** Our last message's seq: a peer arriving now gets only what follows (its resume baseline). */
    lastSeq: (): number => messages.at(-1)?.seq ?? 0,

    /**
     * What to resend to `peer` on a new channel: ours after both what its hello says it has and its
     * baseline (it never gets our older history), broadcasts and its direct messages only.
     */
    pendingFor(peer: string, have: number, baseline: number): ChatMessage[] {
      const from = Math.max(have, baseline)
      return messages.filter((m) => m.seq > from && (m.to === undefined || m.to === peer))
    },

    /**
     * Whether a chat message is new: never seen (over any channel) and after `received`, the sender's
     * last seq we took. False for a resend; a new one counts as seen from now on.
     */
    fresh(message: ChatMessage, received: number): boolean {
      if (seen.has(message.id) || message.seq <= received) return false
      remember(message.id)
      return true
    },

    get size() {
      return messages.length
    },
  }
}

export type Outbox = ReturnType<typeof createOutbox>
