import type { HistoryStore, LogEntry } from '../lib'

const DB = 'parley'
const STORE = 'history'

// Opened once and kept: history is saved every few hundred ms while people talk.
let opened: Promise<IDBDatabase> | undefined

function database(): Promise<IDBDatabase> {
  opened ??= new Promise<IDBDatabase>((resolve, reject) => {
    const request = indexedDB.open(DB, 1)
    request.onupgradeneeded = () => request.result.createObjectStore(STORE)
    request.onsuccess = () => {
      const db = request.result
      // Another tab upgrading (a newer version of the page) needs this connection gone.
      db.onversionchange = () => {
        db.close()
        opened = undefined
      }
      resolve(db)
    }
    request.onerror = () => {
      opened = undefined
      reject(request.error)
    }
  })
  return opened
}

function run<T>(mode: IDBTransactionMode, work: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  return database().then(
    (db) =>
      new Promise<T>((resolve, reject) => {
        const tx = db.transaction(STORE, mode)
        const request = work(tx.objectStore(STORE))
        tx.oncomplete = () => resolve(request.result)
        tx.onerror = () => reject(tx.error)
      }),
  )
}

/**
 * A room's history in this browser's IndexedDB (one record per room id), so a returning person sees
 * the past and brings it to the others. Unavailable storage (private modes) just means no memory.
 */
export function createIndexedDbStore(): HistoryStore | undefined {
  if (typeof indexedDB === 'undefined') return undefined
  return {
    async load(room) {
      const value = await run<unknown>('readonly', (store) => store.get(room))
      return Array.isArray(value) ? (value as LogEntry[]) : []
    },
    async save(room, entries) {
      await run('readwrite', (store) =>
        store.put(
          entries.map(({ message, key, mine }) => ({ message, key, mine })),
          room,
        ),
      )
    },
  }
}
