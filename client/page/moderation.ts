import type { Room } from '../lib'

// Peer ids are per session: a room's lists stay short, and a long-gone id is worth little.
const MAX_LISTED = 256
const KEY = (room: string) => `parley:moderation:${room}`

interface Lists {
  muted: string[]
  blocked: string[]
}

// Storage may be disabled: then the lists last as long as the page.
function load(room: string): Lists {
  try {
    const value: unknown = JSON.parse(localStorage.getItem(KEY(room)) ?? '{}')
    const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string').slice(-MAX_LISTED) : [])
    const lists = value as Record<string, unknown> | null
    return { muted: list(lists?.muted), blocked: list(lists?.blocked) }
  } catch {
    return { muted: [], blocked: [] }
  }
}

/**
 * Whom this person muted (their messages and files are not shown; the connection stays) and blocked
 * (no connection at all), kept per room in this browser.
 */
export function createModeration(roomId: string) {
  const lists = load(roomId)
  const save = () => {
    try {
      localStorage.setItem(KEY(roomId), JSON.stringify(lists))
    } catch {
      // Storage blocked.
    }
  }
  const add = (list: string[], id: string) => {
    if (list.includes(id)) return
    list.push(id)
    if (list.length > MAX_LISTED) list.shift()
    save()
  }
  return {
    muted: (id: string) => lists.muted.includes(id),
    mute: (id: string) => add(lists.muted, id),
    /** Blocks `id` in `room`, and everyone blocked before in this room (call once joined). */
    block(room: Room, id?: string): void {
      if (id !== undefined) add(lists.blocked, id)
      for (const blocked of lists.blocked) room.block(blocked)
    },
  }
}

export type Moderation = ReturnType<typeof createModeration>
