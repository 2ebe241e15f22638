import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { type HistoryStore, isLogEntry, type LogEntry } from '../lib/stored'
import { isObject } from '../lib/util'

/** History kept for the life of the process (what a fresh page without IndexedDB would have). */
export function createMemoryStore(): HistoryStore {
  const rooms = new Map<string, LogEntry[]>()
  return {
    load: async (room) => [...(rooms.get(room) ?? [])],
    save: async (room, entries) => void rooms.set(room, [...entries]),
  }
}

/**
 * History in one JSON file per store, keyed by room, so a bot that restarts still knows the room's
 * past. Entries are checked again on load (signatures), so a tampered file adds nothing.
 */
export function createFileStore(path: string): HistoryStore {
  let writing: Promise<unknown> = Promise.resolve()

  async function readAll(): Promise<Record<string, unknown>> {
    try {
      const value = JSON.parse(await readFile(path, 'utf8')) as unknown
      return isObject(value) ? value : {}
    } catch {
      return {}
    }
  }

  return {
    async load(room) {
      const entries = (await readAll())[room]
      return Array.isArray(entries) ? entries.filter(isLogEntry) : []
    },
    save(room, entries) {
      // Writes queue up; each goes to a temporary file first so a crash never leaves half a file.
      const run = writing.then(async () => {
        const all = await readAll()
        all[room] = [...entries]
        await mkdir(dirname(path), { recursive: true })
        await writeFile(`${path}.tmp`, JSON.stringify(all))
        await rename(`${path}.tmp`, path)
      })
      writing = run.catch(() => {})
      return run
    },
  }
}
