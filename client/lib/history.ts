import type { ChatMessage, HistoryEntry } from './peer-protocol'
import type { LogEntry } from './stored'
import type { Identity } from './types'

/** How many recent messages a room keeps, hands to newcomers and stores. */
export const HISTORY_LIMIT = 500
// A history message stays well under the 64 KiB a data-channel message may carry.
const HISTORY_CHUNK_CHARS = 48 * 1024
/**
 * Lamport times are capped by the receiver's clock: 100 a second since 2020, plus 10,000. No room
 * sends 100 messages a second for years, so no honest clock comes near the cap; a forged one can
 * reach it but never run the room out of exact integers (that takes millions of years). A cap
 * relative to the highest Lamport time seen would not do: a peer could push one reader's clock ahead
 * of the others' bound, step by step, until the others refuse everything that reader says. For the
 * same reason our own clock takes a Lamport time only up to the cap less the slack: what we send next
 * stays within everyone's cap even when their clocks are up to 100 s behind ours.
 */
export const LAMPORT_PER_S = 100
export const LAMPORT_SLACK = 10_000
/** A live message's time may be this far from the receiver's clock either way (clocks are often off by minutes, never by a day). */
export const TIME_WINDOW_MS = 24 * 60 * 60 * 1000
/** Nothing in a history is older than Parley. */
export const OLDEST_TIME_MS = Date.UTC(2020, 0, 1)
/** Keys remembered for authors who are not here (only known from history): a bound on what junk can add. */
export const MAX_RELAYED_KEYS = 256
/** History entries for present peers whose hello has not arrived yet, waiting for their key. */
export const MAX_PENDING_ENTRIES = HISTORY_LIMIT

/** An entry that went into the log, and the id of the one it went before (undefined: last). */
export type Added = { entry: LogEntry; before: string | undefined }

/** The room's order: Lamport clock, then sender id, then message id — the same for everyone. */
export const before = (a: ChatMessage, b: ChatMessage) =>
  a.lamport !== b.lamport ? a.lamport < b.lamport : a.from !== b.from ? a.from < b.from : a.id < b.id

/** The highest Lamport time a message may carry when received at `now` (ms). */
export const lamportCap = (now: number) => Math.floor(((now - OLDEST_TIME_MS) / 1000) * LAMPORT_PER_S) + LAMPORT_SLACK

/**
 * Whether a message's claims fit the receiver's clock: its time within a day of now (live) or between
 * Parley's start and a day from now (history), its Lamport time under the cap.
 */
export function inRange(message: ChatMessage, live: boolean, now = Date.now()): boolean {
  const { time, lamport } = message
  if (time > now + TIME_WINDOW_MS || time < (live ? now - TIME_WINDOW_MS : OLDEST_TIME_MS)) return false
  return lamport <= lamportCap(now)
}

/**
 * The entries themselves, in the room's order and cut to `limit`, with the deletions that erase and the
 * Lamport clock they advance. Trusts what it is given: createRoomLog checks keys and signatures first.
 */
function createOrderedEntries(limit: number) {
  const entries: LogEntry[] = []
  const ids = new Set<string>()
  // A deletion erases its target and the target's edits, now and whenever they come again.
  const erasures = new Set<string>()
  const erased = ({ message, key }: LogEntry) =>
    erasures.has(JSON.stringify([message.id, message.from, key])) ||
    (message.re?.act === 'edit' && erasures.has(JSON.stringify([message.re.id, message.from, key])))
  let clock = 0

  function remove(id: string): void {
    const i = entries.findIndex((entry) => entry.message.id === id)
    if (i !== -1) entries.splice(i, 1)
  }

  return {
    /** Inserts in order; returns the id of the entry it now precedes (undefined: last), or null if known. */
    insert(entry: LogEntry): string | undefined | null {
      if (ids.has(entry.message.id)) return null
      clock = Math.max(clock, Math.min(entry.message.lamport, lamportCap(Date.now()) - LAMPORT_SLACK))
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
    },

    /** Takes back an entry whose signature failed after it went in (see heard); its id stays known, refused. */
    remove,

    /** Takes back the entries by `from` signed with another key than `key` (see announce); their ids. */
    signedElse(from: string, key: string): string[] {
      const ids = entries.filter((entry) => entry.message.from === from && entry.key !== key).map((entry) => entry.message.id)
      for (const id of ids) remove(id)
      return ids
    },

    tick: () => (clock = Math.min(clock + 1, Number.MAX_SAFE_INTEGER)),

    has: (id: string) => ids.has(id),

    entries: (): readonly LogEntry[] => entries,
  }
}

/** The shareable part (no direct messages), cut into data-channel-sized batches. */
function batchesOf(entries: readonly LogEntry[]): HistoryEntry[][] {
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
}

/**
 * The room's recent messages, merged from everyone and ordered the same way everywhere. History from
 * others is evidence, not authority: a peer's own hello is the only source of its key, so entries for a
 * present peer whose hello is pending wait for it (`present`); a key that only arrived with history is
 * trusted for an absent author as first seen (at most MAX_RELAYED_KEYS of them), and anything signed for
 * them with another key is refused.
 */
export function createRoomLog(identity: Identity, limit = HISTORY_LIMIT) {
  const ordered = createOrderedEntries(limit)
  const announced = new Map<string, string>()
  const relayedKeys = new Map<string, string>()
  const pending: HistoryEntry[] = []
  const counters = { outOfRange: 0 }
  // Lines in the log whose signature is still being checked (see heard): not handed on yet.
  const unchecked = new Map<string, Promise<boolean>>()
  // Present peers a live line has shown to hold the key their hello named (see heard).
  const proven = new Set<string>()

  function keyFor(author: string, offered: string): string | null {
    const trusted = announced.get(author) ?? relayedKeys.get(author)
    return trusted === undefined || trusted === offered ? offered : null
  }

  async function accept(incoming: HistoryEntry, mine: boolean): Promise<Added | null | 'refused'> {
    const { message, key } = incoming
    if (ordered.has(message.id)) return null
    if (!mine && !inRange(message, false)) {
      counters.outOfRange++
      return 'refused'
    }
    const newAuthor = !announced.has(message.from) && !relayedKeys.has(message.from)
    if (newAuthor && relayedKeys.size >= MAX_RELAYED_KEYS) return 'refused'
    const trusted = keyFor(message.from, key)
    // The author's hello may have named their key while the signature was checked (see announce).
    if (!trusted || !(await identity.verify(message, trusted)) || keyFor(message.from, key) !== trusted) return 'refused'
    if (!announced.has(message.from)) relayedKeys.set(message.from, trusted)
    const entry = { message, key: trusted, mine }
    const at = ordered.insert(entry)
    return at === null ? null : { entry, before: at }
  }

  async function acceptAll(incoming: HistoryEntry[], mine = false, refused = 0): Promise<{ added: Added[]; refused: number }> {
    const added: Added[] = []
    for (const entry of incoming) {
      const result = await accept(entry, mine)
      if (result === 'refused') refused++
      else if (result) added.push(result)
    }
    return { added, refused }
  }

  return {
    /**
     * A peer's hello named its key: that is the only key for its messages from now on. Entries that
     * waited for it are checked now; what goes in is returned. Entries in its name signed with another
     * key (taken on a key first seen in history, while it was not here) were someone else's: they leave
     * the log (`dropped`, their ids), and stay known as refused.
     */
    async announce(peer: string, key: string): Promise<{ added: Added[]; refused: number; dropped: string[] }> {
      announced.set(peer, key)
      proven.delete(peer)
      relayedKeys.delete(peer)
      const dropped = ordered.signedElse(peer, key)
      const waiting: HistoryEntry[] = []
      for (let i = pending.length - 1; i >= 0; i--) if (pending[i]!.message.from === peer) waiting.unshift(...pending.splice(i, 1))
      return { ...(await acceptAll(waiting)), dropped }
    },

    /** They left: what waited for their hello will not be checked. */
    gone(peer: string): void {
      proven.delete(peer)
      for (let i = pending.length - 1; i >= 0; i--) if (pending[i]!.message.from === peer) pending.splice(i, 1)
    },

    /** Whether a live message's time and Lamport time are believable (refused ones are counted). */
    admits(message: ChatMessage): boolean {
      if (inRange(message, true)) return true
      counters.outOfRange++
      return false
    },

    counts: () => ({ ...counters, relayedKeys: relayedKeys.size, pending: pending.length }),

    /** The next Lamport time for a message of ours (never past the largest exact integer). */
    tick: ordered.tick,

    has: ordered.has,

    /** A message straight from its author (their channel), signature checked against their hello's key. */
    async live(message: ChatMessage, mine = false): Promise<Added | null> {
      const key = mine ? identity.key : announced.get(message.from)
      if (!key || (!mine && !(await identity.verify(message, key)))) return null
      if (!mine) proven.add(message.from)
      const entry = { message, key, mine }
      const at = ordered.insert(entry)
      return at === null ? null : { entry, before: at }
    },

    proven: (peer: string) => proven.has(peer), // a live line of theirs showed they hold their hello's key (see heard)
    knows: ordered.has, // an id in the log, or once in it (deleted, or refused after its check)

    /**
     * A chat line straight from its proven author's channel, in the log and shown at once; its signature is
     * checked after. Only its author writes on that channel (DTLS, set up through signals sealed for the
     * pair), and their first line proved the hello's key theirs (`live`: anyone can name anyone's key, and
     * the page keeps mute and block by it), so for this reader a later line's signature proves nothing
     * more. It is what lets the line be handed on: until `checked` resolves it is not, and a bad one leaves
     * the log and the proof. It may be stored before: what is stored is checked again as it is read back.
     * Waiting for the check put two trips to WebCrypto's thread on every message's way to the screen.
     */
    heard(message: ChatMessage): { added: Added; checked: Promise<boolean> } | null {
      const key = announced.get(message.from)
      if (!key || !proven.has(message.from)) return null
      const entry = { message, key, mine: false }
      const at = ordered.insert(entry)
      if (at === null) return null
      const checked = identity
        .verify(message, key)
        .catch(() => false)
        .then((ok) => {
          unchecked.delete(message.id)
          if (!ok) {
            ordered.remove(message.id)
            proven.delete(message.from)
          }
          return ok
        })
      unchecked.set(message.id, checked)
      return { added: { entry, before: at }, checked }
    },

    /**
     * Entries someone passed on (or this browser stored); each one's signature is checked. Those by a
     * `present` peer whose hello has not come yet wait for it (see announce).
     */
    async merge(
      incoming: HistoryEntry[],
      mine = false,
      present: (peer: string) => boolean = () => false,
    ): Promise<{ added: Added[]; refused: number }> {
      let overflow = 0
      const now = incoming.filter((item) => {
        if (mine || announced.has(item.message.from) || !present(item.message.from)) return true
        if (pending.length < MAX_PENDING_ENTRIES) pending.push(item)
        else overflow++
        return false
      })
      return acceptAll(now, mine, overflow)
    },

    /** What can be handed on, once the lines just heard have had their signatures checked (see heard). */
    async batches(): Promise<HistoryEntry[][]> {
      await Promise.all(unchecked.values())
      return batchesOf(ordered.entries().filter((entry) => !unchecked.has(entry.message.id)))
    },

    entries: ordered.entries,
  }
}

export type RoomLog = ReturnType<typeof createRoomLog>
