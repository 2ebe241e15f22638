import type { ChatMessage, HistoryEntry } from './peer-protocol'
import type { Identity, LogEntry } from './types'

/** How many recent messages a room keeps, hands to newcomers and stores. */
export const HISTORY_LIMIT = 500
// A history message stays well under the 64 KiB a data-channel message may carry.
const HISTORY_CHUNK_CHARS = 48 * 1024

/** The room's order: Lamport clock, then sender id, then message id — the same for everyone. */
export const before = (a: ChatMessage, b: ChatMessage) =>
  a.lamport !== b.lamport ? a.lamport < b.lamport : a.from !== b.from ? a.from < b.from : a.id < b.id

/**
 * The room's recent messages, merged from everyone and ordered the same way everywhere. Whose key may
 * sign as whom: a peer's own hello is authoritative; a key that only arrived with history is trusted
 * for that author as first seen, and anything signed for them with another key is refused.
 */
export function createRoomLog(identity: Identity, limit = HISTORY_LIMIT) {
  const entries: LogEntry[] = []
  const ids = new Set<string>()
  const announced = new Map<string, string>()
  const relayedKeys = new Map<string, string>()
  // A deletion erases its target and the target's edits, now and whenever they come again.
  const erasures = new Set<string>()
  const erased = ({ message, key }: LogEntry) =>
    erasures.has(JSON.stringify([message.id, message.from, key])) ||
    (message.re?.act === 'edit' && erasures.has(JSON.stringify([message.re.id, message.from, key])))
  let clock = 0

  /** Inserts in order; returns the id of the entry it now precedes (undefined: last), or null if known. */
  function insert(entry: LogEntry): string | undefined | null {
    if (ids.has(entry.message.id)) return null
    clock = Math.max(clock, entry.message.lamport)
    if (entry.message.re?.act === 'delete') {
      erasures.add(JSON.stringify([entry.message.re.id, entry.message.from, entry.key]))
      for (let j = entries.length - 1; j >= 0; j--) if (erased(entries[j]!)) entries.splice(j, 1)
    }
    if (erased(entry)) {
      ids.add(entry.message.id)
      return null
    }
    let i = entries.length
    while (i > 0 && before(entry.message, entries[i - 1]!.message)) i--
    entries.splice(i, 0, entry)
    ids.add(entry.message.id)
    if (entries.length > limit) ids.delete(entries.shift()!.message.id)
    return entries[i + 1]?.message.id
  }

  function keyFor(author: string, offered: string): string | null {
    const trusted = announced.get(author) ?? relayedKeys.get(author)
    return trusted === undefined || trusted === offered ? offered : null
  }

  return {
    /** A peer's hello named its key: that is the only key for its messages from now on. */
    announce(peer: string, key: string): void {
      announced.set(peer, key)
    },

    keyOf: (peer: string) => announced.get(peer),

    /** The next Lamport time for a message of ours. */
    tick: () => ++clock,

    has: (id: string) => ids.has(id),

    /** A message straight from its author (their channel), signature checked against their hello's key. */
    async live(message: ChatMessage, mine = false): Promise<{ entry: LogEntry; before: string | undefined } | null> {
      const key = mine ? identity.key : announced.get(message.from)
      if (!key || (!mine && !(await identity.verify(message, key)))) return null
      const entry = { message, key, mine }
      const at = insert(entry)
      return at === null ? null : { entry, before: at }
    },

    /** Entries someone passed on (or this browser stored); each one's signature is checked. */
    async merge(incoming: HistoryEntry[], mine = false): Promise<{ added: Array<{ entry: LogEntry; before: string | undefined }>; refused: number }> {
      const added: Array<{ entry: LogEntry; before: string | undefined }> = []
      let refused = 0
      for (const { message, key } of incoming) {
        if (ids.has(message.id)) continue
        const trusted = keyFor(message.from, key)
        if (!trusted || !(await identity.verify(message, trusted))) {
          refused++
          continue
        }
        if (!announced.has(message.from)) relayedKeys.set(message.from, trusted)
        const entry = { message, key: trusted, mine }
        const at = insert(entry)
        if (at !== null) added.push({ entry, before: at })
      }
      return { added, refused }
    },

    /** The shareable part (no direct messages), cut into data-channel-sized batches. */
    batches(): HistoryEntry[][] {
      const batches: HistoryEntry[][] = []
      let batch: HistoryEntry[] = []
      let size = 0
      for (const { message, key } of entries) {
        if (message.to !== undefined) continue
        const cost = JSON.stringify(message).length + key.length + 32
        if (size + cost > HISTORY_CHUNK_CHARS && batch.length > 0) {
          batches.push(batch)
          batch = []
          size = 0
        }
        batch.push({ message, key })
        size += cost
      }
      if (batch.length > 0) batches.push(batch)
      return batches
    },

    entries: (): readonly LogEntry[] => entries,
  }
}

export type RoomLog = ReturnType<typeof createRoomLog>
