import type { Room } from '../lib'
import { readStored, writeStored } from './prefs'

// Entries are public signing keys (or, for a peer not known to hold one, its session id): one list per room.
const MAX_LISTED = 256
// Sessions remembered with their keys: a peer re-joining again and again cannot grow them.
const MAX_SEEN = 1024
const KEY = (room: string) => `parley:moderation:${room}`

interface Lists {
  muted: string[]
  blocked: string[]
}

// Storage may be disabled: then the lists last as long as the page.
function load(room: string): Lists {
  try {
    const value: unknown = JSON.parse(readStored(KEY(room)) ?? '{}')
    const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string').slice(-MAX_LISTED) : [])
    const lists = value as Record<string, unknown> | null
    return { muted: list(lists?.muted), blocked: list(lists?.blocked) }
  } catch {
    return { muted: [], blocked: [] }
  }
}

/**
 * Whom this person muted (their messages and files are not shown; the connection stays) and blocked
 * (no connection at all), kept per room in this browser. A person is listed by the signing key their
 * hello named once a live message of theirs verified with it, so a new session of theirs with that key
 * (a reload) is blocked as soon as its hello comes. Naming someone else's key gets only the namer
 * blocked; it is never listed without that proof.
 */
export function createModeration(roomId: string) {
  const lists = load(roomId)
  // Each peer's key as their hello named it (kept after they go: their last lines may still be on the
  // way), and who signed a live message with it (they hold it).
  const keys = new Map<string, string | undefined>()
  const signed = new Set<string>()
  const save = () => writeStored(KEY(roomId), JSON.stringify(lists))
  const listed = (list: string[], id: string) => list.includes(id) || list.includes(keys.get(id)!)
  const add = (list: string[], id: string) => {
    const entry = (signed.has(id) && keys.get(id)) || id
    if (list.includes(entry)) return
    list.push(entry)
    if (list.length > MAX_LISTED) list.shift()
    save()
  }

  return {
    /** Whether `id` (or whoever signs with `key`: their lines passed on after they left) is muted or blocked. */
    muted: (id: string, key = id) =>
      [...lists.muted, ...lists.blocked].includes(key) || listed(lists.muted, id) || listed(lists.blocked, id),
    /** How many this browser muted or blocked in the room. */
    count: () => new Set([...lists.muted, ...lists.blocked]).size,
    /** Forgets every mute and block of the room (the page then reloads, to reach everyone again). */
    clear(): void {
      lists.muted = []
      lists.blocked = []
      save()
    },
    /**
     * Mutes `id`, or unmutes them if muted (this session or their key). What they send while muted is
     * dropped (a flood would push everyone else's lines out); `on`: now muted; `lines`: a selector for the
     * log entries that hide, or show again.
     */
    mute(id: string): { on: boolean; lines: string } {
      const on = !listed(lists.muted, id)
      lists.muted = lists.muted.filter((entry) => entry !== id && entry !== keys.get(id))
      on ? add(lists.muted, id) : save()
      // Their lines of other sessions too, once their key is proven theirs (as the list holds it).
      const key = signed.has(id) && keys.get(id)
      return { on, lines: `[data-from="${CSS.escape(id)}"]${key ? `,[data-key="${CSS.escape(key)}"]` : ''}` }
    },
    /** Blocks `id`; without it (once, when joined), whoever is listed, now and as they show up. */
    block(room: Room, id?: string): void {
      if (id !== undefined) {
        add(lists.blocked, id)
        room.block(id)
        return
      }
      for (const entry of lists.blocked) room.block(entry)
      room.on('peer-updated', (view) => {
        keys.set(view.id, view.key)
        if (keys.size > MAX_SEEN) {
          const oldest = keys.keys().next().value!
          keys.delete(oldest)
          signed.delete(oldest)
        }
        if (listed(lists.blocked, view.id)) room.block(view.id)
      })
      room.on('message', (message) => message.history || signed.add(message.from))
    },
  }
}

export type Moderation = ReturnType<typeof createModeration>
