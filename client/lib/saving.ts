import type { Added, RoomLog } from './history'
import type { ChatMessage } from './peer-protocol'
import type { HistoryStore, LogEntry } from './stored'
import type { Identity } from './types'

// What others say is written once a burst of it pauses, and at most this long apart while it goes on
// (a write copies the whole history on the page's thread, ~1 ms for 400).
const SAVE_DELAY_MS = 500
const SAVE_MAX_DELAY_MS = 5_000

/**
 * The room's history in this browser's store: written at once for what this person says to nobody,
 * once per burst of the rest, and at once when the page may be going (`flush`). Each write takes what is
 * in memory and starts in the calling task: a page that is going away runs no later task, not even a
 * microtask. Nothing is written before the stored history is back in the log, or the write would
 * replace it; nothing at all this visit if it cannot be read.
 */
export function createSaving(options: {
  room: string
  store: HistoryStore | undefined
  log: Promise<RoomLog>
  identity: Promise<Identity>
  /** Whether a direct message of ours still waits for its recipient's receipt. */
  unconfirmed: (id: string) => boolean
}) {
  const { room, store } = options
  let log: RoomLog | undefined
  let me: Identity | undefined
  void options.log.then((l) => (log = l)).catch(() => {})
  void options.identity.then((identity) => (me = identity)).catch(() => {})
  // Ours, not signed yet (signing is asynchronous): kept unsigned if the page goes first (see restore).
  const unsigned: ChatMessage[] = []
  let restored = false
  let timer: ReturnType<typeof setTimeout> | undefined
  // When the oldest unsaved change was made.
  let since = 0
  let unsaved = false
  // Direct messages of ours an earlier visit stored as not delivered: they stay so.
  const undelivered = new Set<string>()
  // Ours, written as not delivered while their receipt was due: written again once it comes.
  const due = new Set<string>()
  const stored = ({ message, key, mine }: LogEntry): LogEntry => {
    if (!mine || message.to === undefined) return { message, key, mine }
    if (options.unconfirmed(message.id)) due.add(message.id)
    return undelivered.has(message.id) || due.has(message.id) ? { message, key, mine, undelivered: true } : { message, key, mine }
  }

  const save = () => {
    clearTimeout(timer)
    timer = undefined
    if (!store) return
    unsaved = !restored || !log || !me
    if (unsaved) return
    const entries = [...log!.entries(), ...unsigned.map((message) => ({ message, key: me!.key, mine: true }))].map(stored)
    // Failed, it is tried again by the next write or flush.
    store.save(room, entries).catch(() => (unsaved = true))
  }

  const later = () => {
    if (!store) return
    if (!timer) since = Date.now()
    clearTimeout(timer)
    timer = setTimeout(save, Math.min(SAVE_DELAY_MS, since + SAVE_MAX_DELAY_MS - Date.now()))
  }

  return {
    /** Loads what this browser kept of the room into the log; `show` gets each entry that went in. */
    async restore(show: (added: Added, undelivered: boolean) => void): Promise<void> {
      if (!store) return
      let signed = false
      try {
        const log = await options.log
        // Read once more if it fails; failing again, this visit writes nothing, as a write would replace what is kept.
        const kept = await store.load(room).catch(() => store.load(room))
        for (const e of kept) if (e.mine && e.undelivered) undelivered.add(e.message.id)
        for (const mine of [true, false]) {
          const group = kept.filter((e) => e.mine === mine && e.message.sig).map(({ message, key }) => ({ message, key }))
          for (const added of (await log.merge(group, mine)).added) show(added, undelivered.has(added.entry.message.id))
        }
        // Said as the last page went, before it could sign them: signed now, with this room's kept key,
        // and handed on with the rest of the history.
        const identity = await options.identity
        for (const { message } of kept.filter((e) => e.mine && !e.message.sig && e.key === identity.key)) {
          message.lamport = log.tick()
          message.sig = await identity.sign(message)
          const added = await log.live(message, true)
          // A direct one never went out, and history will not take it.
          if (message.to !== undefined) undelivered.add(message.id)
          if (added) show(added, undelivered.has(message.id))
          signed = true
        }
        restored = true
      } finally {
        if (signed || unsaved) save()
      }
    },

    /** One of ours, on its way to be signed: written unsigned if the page goes before that. */
    signing: (message: ChatMessage) => void unsigned.push(message),
    signed(message: ChatMessage): void {
      const at = unsigned.indexOf(message)
      if (at >= 0) unsigned.splice(at, 1)
    },

    /**
     * This person said something (it is in the log): written at once when it reached nobody, as nobody
     * else holds it; else once the burst pauses, like what others say (the write copies the whole
     * history on this thread, and at once it would lengthen every round trip), as they hold it too.
     */
    said: (reached: boolean) => (reached ? later() : save()),

    /** Receipts for messages `ids` of ours came. */
    confirmed(ids: string[]): void {
      let changed = false
      for (const id of ids) if (due.has(id) && !options.unconfirmed(id)) changed = due.delete(id)
      if (changed) later()
    },

    /** Others said something: written once the burst pauses. */
    heard: later,

    /** Writes what is not written yet, now: the page is hidden or going, and may never run again. */
    flush(): void {
      if (timer || unsaved || unsigned.length > 0) save()
    },
  }
}
