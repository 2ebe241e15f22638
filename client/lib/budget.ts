import { HISTORY_LIMIT } from './history'
import type { HistoryEntry } from './peer-protocol'
import type { PeerView } from './types'

/**
 * Text messages a peer may send: a person typing, receipts, pings and a history hand-over fit well
 * within this; a flood does not. Binary frames are not counted here: they are accepted only for a file
 * announced and within its size (files.ts), so the file budget bounds them.
 */
export const MESSAGES_PER_S = 100
export const MESSAGE_BURST = 400
/** Characters of text per second (a history hand-over is about 1 MiB at most, in one burst). */
export const CHARS_PER_S = 1024 * 1024
export const CHARS_BURST = 4 * 1024 * 1024
/** History entries taken from one peer per channel: twice a full history (theirs may overlap ours). */
export const HISTORY_ENTRIES_PER_CHANNEL = 2 * HISTORY_LIMIT
/**
 * History entries of one author taken from one relayer per channel: an honest hand-over holds at most
 * HISTORY_LIMIT entries in all, so never more of one author.
 */
export const HISTORY_ENTRIES_PER_AUTHOR = HISTORY_LIMIT

/** A token bucket: `burst` at once, refilled at `perS` a second. */
export function createBucket(perS: number, burst: number, now: () => number = Date.now) {
  let tokens = burst
  let at = now()
  return (cost = 1): boolean => {
    const t = now()
    tokens = Math.min(burst, tokens + ((t - at) / 1000) * perS)
    at = t
    if (tokens < cost) return false
    tokens -= cost
    return true
  }
}

/** What a peer sent past its budget, by kind: the counts behind "misbehaving". */
export interface Excess {
  messages: number
  chars: number
  hellos: number
  history: number
  files: number
}

interface PeerBudget {
  messages: (cost?: number) => boolean
  chars: (cost?: number) => boolean
  history: number
  /** Entries taken per author on this channel. */
  authors: Map<string, number>
  excess: Excess | undefined
}

/**
 * A budget for every remote peer: past it the excess is dropped and counted, and the peer is marked
 * misbehaving (`changed` tells the room, which shows it). The history budget starts again on a new
 * channel; rates and the mark last as long as the peer does.
 */
export function createBudget(options: { changed: (peer: string) => void; now?: () => number }) {
  const { changed, now = Date.now } = options
  const peers = new Map<string, PeerBudget>()
  let overBudget = 0

  function of(peer: string): PeerBudget {
    let budget = peers.get(peer)
    if (!budget) {
      budget = {
        messages: createBucket(MESSAGES_PER_S, MESSAGE_BURST, now),
        chars: createBucket(CHARS_PER_S, CHARS_BURST, now),
        history: 0,
        authors: new Map(),
        excess: undefined,
      }
      peers.set(peer, budget)
    }
    return budget
  }

  function exceeded(peer: string, kind: keyof Excess): false {
    const budget = of(peer)
    overBudget++
    const first = budget.excess === undefined
    budget.excess ??= { messages: 0, chars: 0, hellos: 0, history: 0, files: 0 }
    budget.excess[kind]++
    if (first) changed(peer)
    return false
  }

  return {
    /** One message off the channel (text or binary): false to drop it. */
    admit(peer: string, raw: unknown): boolean {
      if (typeof raw !== 'string') return true
      const budget = of(peer)
      if (!budget.messages()) return exceeded(peer, 'messages')
      return budget.chars(raw.length) || exceeded(peer, 'chars')
    },

    /** A second hello on one channel (the mesh drops it: answering would resend everything again). */
    hello: (peer: string) => void exceeded(peer, 'hellos'),

    /** A history message of `count` entries from them. */
    history(peer: string, count: number): boolean {
      const budget = of(peer)
      if (budget.history + count > HISTORY_ENTRIES_PER_CHANNEL) return exceeded(peer, 'history')
      budget.history += count
      return true
    },

    /** The entries of a history message from them that fit each author's cap; past it, counted. */
    authored(peer: string, entries: HistoryEntry[]): HistoryEntry[] {
      const { authors } = of(peer)
      const kept = entries.filter(({ message: { from } }) => {
        const taken = (authors.get(from) ?? 0) + 1
        authors.set(from, taken)
        return taken <= HISTORY_ENTRIES_PER_AUTHOR
      })
      if (kept.length < entries.length) exceeded(peer, 'history')
      return kept
    },

    /** A file they announced was refused (too many or too large at once, see files.ts). */
    file: (peer: string) => void exceeded(peer, 'files'),

    /** A new channel with them: a new history hand-over is due. */
    opened(peer: string): void {
      const budget = of(peer)
      budget.history = 0
      budget.authors.clear()
    },

    gone: (peer: string) => void peers.delete(peer),

    excess: (peer: string): Excess | undefined => (peers.get(peer)?.excess ? { ...peers.get(peer)!.excess! } : undefined),

    /** The view with the mark, for the page. */
    decorate(view: PeerView): PeerView {
      return peers.get(view.id)?.excess ? { ...view, misbehaving: true } : view
    },

    stats: () => ({ overBudget }),
  }
}

export type Budget = ReturnType<typeof createBudget>
