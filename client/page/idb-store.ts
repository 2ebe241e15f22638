import { mergeKept } from '../lib/kept-history'
import type { HistoryStore, KeyStore, LogEntry } from '../lib/stored'

const DB = 'parley'
const STORE = 'history'
const KEYS = 'keys'

// Opened once, early, and kept: history is saved every few hundred ms while people talk, and the last
// save, as the page goes away, must start its transaction in the same task (see run).
let opened: Promise<IDBDatabase> | undefined
let ready: IDBDatabase | undefined

function database(): Promise<IDBDatabase> {
  opened ??= new Promise<IDBDatabase>((resolve, reject) => {
    const request = indexedDB.open(DB, 2)
    request.onupgradeneeded = (event) => {
      if (event.oldVersion < 1) request.result.createObjectStore(STORE)
      if (event.oldVersion < 2) request.result.createObjectStore(KEYS)
    }
    request.onsuccess = () => {
      const db = request.result
      // Only while it is the current one: a write that failed on it may have opened the next already.
      const forget = () => {
        if (ready === db) opened = ready = undefined
      }
      // Another tab upgrading (a newer version of the page) needs this connection gone.
      db.onversionchange = () => {
        db.close()
        forget()
      }
      // The browser closed it (storage cleared, disk trouble): the next request opens a new one.
      db.onclose = forget
      ready = db
      resolve(db)
    }
    request.onerror = () => {
      opened = undefined
      reject(request.error)
    }
  })
  return opened
}

function transact<T>(
  db: IDBDatabase,
  mode: IDBTransactionMode,
  work: (store: IDBObjectStore) => IDBRequest<T>,
  name: string,
  commit: boolean,
) {
  return new Promise<T>((resolve, reject) => {
    const tx = db.transaction(name, mode)
    const request = work(tx.objectStore(name))
    tx.oncomplete = () => resolve(request.result)
    tx.onerror = tx.onabort = () => reject(tx.error)
    // A transaction commits by itself only once its requests' results are back in this page, which a
    // page being reloaded never sees: Chromium and Firefox then drop it (test/e2e/keep.test.ts lost
    // every line so). Committed now, it no longer needs the page: Firefox leaves a committing
    // transaction alone when it aborts a departing window's, and Chromium's backend finishes it.
    // Older browsers have no commit(): theirs commit on their own, as before. A transaction that
    // writes what it reads cannot be committed before it has read (see load).
    if (commit) tx.commit?.()
  })
}

/**
 * With the connection open, the transaction starts in this very task: a save from pagehide still counts.
 * `superseded`: a later write of the same record was started since, so this one must not run again.
 */
function run<T>(
  mode: IDBTransactionMode,
  work: (store: IDBObjectStore) => IDBRequest<T>,
  name = STORE,
  commit = true,
  superseded = () => false,
): Promise<T | undefined> {
  let used: IDBDatabase | undefined
  const once = (db: IDBDatabase) => {
    used = db
    return transact(db, mode, work, name, commit)
  }
  // A connection the browser is closing (site data cleared) fails what starts on it before its `close`
  // event comes: InvalidStateError at once, AbortError for what was under way. Each transaction here can
  // run twice, so it runs once more on a new connection rather than the line being lost with the page
  // (after any failure of IndexedDB's: another one, a full disk say, just fails twice); a save retried
  // after a later one would put older history over newer, so it does not.
  return (ready ? once(ready) : database().then(once)).catch((error: unknown) => {
    if (!(error instanceof DOMException)) throw error
    if (used && used === ready) {
      used.close()
      opened = ready = undefined
    }
    return database().then((db) => (superseded() ? undefined : once(db)))
  })
}

/**
 * A room's history in this browser's IndexedDB, so a returning person sees the past and brings it to
 * the others. Each page writes its whole history to a record of its own ([room id, a number of its
 * own]), so no tab's write replaces what another tab alone held. A write that read the stored record
 * first to merge into it could not be committed before the read came back, which a departing page
 * never sees (see transact): a save reads nothing. A load merges every record of the room (mergeKept)
 * and keeps the result as this page's, in one transaction, so records of closed tabs do not pile up.
 * Unavailable storage (private modes) just means no memory.
 */
export function createIndexedDbStore(): HistoryStore | undefined {
  if (typeof indexedDB === 'undefined') return undefined
  void database().catch(() => {})
  const tab = Math.random()
  // Saves started per room: a retried save checks it is still the last (see run).
  const saves = new Map<string, number>()
  return {
    async load(room) {
      let kept: LogEntry[] = []
      await run(
        'readwrite',
        (store) => {
          const range = IDBKeyRange.bound([room], [room, []])
          const tabs = store.getAll(range)
          // The one record of pages from before each had its own. Taken in here, it is gone for such a page
          // still open in another tab (or served by an older service worker): it shows no stored history,
          // and loses none.
          const whole = store.get(room)
          whole.onsuccess = () => {
            kept = mergeKept([...tabs.result, whole.result])
            store.delete(range)
            store.delete(room)
            // A room with nothing stored gets no record.
            if (kept.length > 0) store.put(kept, [room, tab])
          }
          return whole
        },
        STORE,
        false,
      )
      return kept
    },
    save(room, entries) {
      const nth = (saves.get(room) ?? 0) + 1
      saves.set(room, nth)
      const records = entries.map(({ message, key, mine, undelivered }) => ({
        message,
        key,
        mine,
        ...(undelivered ? { undelivered } : {}),
      }))
      return run(
        'readwrite',
        (store) => store.put(records, [room, tab]),
        STORE,
        true,
        () => saves.get(room) !== nth,
      ).then(() => {})
    },
  }
}

/** This browser's signing key pair per room (structured-cloned CryptoKeys: the private one never leaves as bytes). */
export function createIndexedDbKeys(): KeyStore | undefined {
  if (typeof indexedDB === 'undefined') return undefined
  return {
    load: (room) => run<CryptoKeyPair | undefined>('readonly', (store) => store.get(room), KEYS),
    // Read and written in one transaction: IndexedDB runs another tab's on this store before or after it, never between.
    save: (room, pair) => {
      const usable = (kept: CryptoKeyPair | undefined): kept is CryptoKeyPair =>
        kept?.privateKey?.algorithm?.name === pair.privateKey.algorithm.name && kept.publicKey !== undefined
      return run<CryptoKeyPair | undefined>(
        'readwrite',
        (store) => {
          const kept = store.get(room)
          kept.onsuccess = () => usable(kept.result) || store.put(pair, room)
          return kept
        },
        KEYS,
        false,
      ).then((kept) => (usable(kept) ? kept : pair))
    },
  }
}
