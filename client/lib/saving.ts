import type { RoomLog } from './history'
import type { ChatMessage } from './peer-protocol'
import type { HistoryStore, Identity, LogEntry } from './types'

// What others say is written once a burst of it pauses, and at most this long apart while it goes on
// (a write copies the whole history on the page's thread, ~1 ms for 400).
const SAVE_DELAY_MS = 500
const SAVE_MAX_DELAY_MS = 5_000

type Added = { entry: LogEntry; before: string | undefined }

/**
 * The room's history in this browser's store: written at once for what this person says, once per
 * burst of what others say, and at once when the page may be going (`flush`). Each write takes what is
 * in memory and starts in the calling task: a page that is going away runs no later task, not even a
 * microtask. Nothing is written before the stored history is back in the log, or the write would
 * replace it.
 */
export function createSaving(options: {
  room: string
  store: HistoryStore | undefined
  log: Promise<RoomLog>
  identity: Promise<Identity>
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

  const save = () => {
    clearTimeout(timer)
    timer = undefined
    if (!store) return
    unsaved = !restored || !log || !me
    if (unsaved) return
    const entries = [...log!.entries(), ...unsigned.map((message) => ({ message, key: me!.key, mine: true }))]
    store.save(room, entries).catch(() => {})
  }

  return {
    /** Loads what this browser kept of the room into the log; `show` gets each entry that went in. */
    async restore(show: (added: Added) => void): Promise<void> {
      if (!store) return
      let signed = false
      try {
        const log = await options.log
        const kept = await store.load(room).catch(() => [])
        for (const mine of [true, false]) {
          const group = kept.filter((e) => e.mine === mine && e.message.sig).map(({ message, key }) => ({ message, key }))
          for (const added of (await log.merge(group, mine)).added) show(added)
        }
        // Said as the last page went, before it could sign them: signed now, with this room's kept key,
        // and handed on with the rest of the history.
        const identity = await options.identity
        for (const { message } of kept.filter((e) => e.mine && !e.message.sig && e.key === identity.key)) {
          message.lamport = log.tick()
          message.sig = await identity.sign(message)
          const added = await log.live(message, true)
          if (added) show(added)
          signed = true
        }
      } finally {
        restored = true
        if (signed || unsaved) save()
      }
    },

    /** One of ours, on its way to be signed: written unsigned if the page goes before that. */
    signing: (message: ChatMessage) => void unsigned.push(message),
    signed: (message: ChatMessage) => void unsigned.splice(unsigned.indexOf(message), 1),

    /** This person said something (it is in the log): written at once, as nobody else may hold it yet. */
    said: save,

    /** Others said something: written once the burst pauses. */
    heard(): void {
      if (!store) return
      if (!timer) since = Date.now()
      clearTimeout(timer)
      timer = setTimeout(save, Math.min(SAVE_DELAY_MS, since + SAVE_MAX_DELAY_MS - Date.now()))
    },

    /** Writes what is not written yet, now: the page is hidden or going, and may never run again. */
    flush(): void {
      if (timer || unsaved || unsigned.length > 0) save()
    },
  }
}
