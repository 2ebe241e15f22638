import type { PeerView, Room } from '../lib'

// Entries are public signing keys (and, for a peer whose page named none, its session id): a list per room.
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
 * (no connection at all), kept per room in this browser. A person is listed by their signing key once
 * they signed with it, so a reload (a new session id) does not undo it; a hello that merely names a
 * listed key is enough to be blocked, since naming someone's key can only get the namer blocked.
 */
export function createModeration(roomId: string) {
  const lists = load(roomId)
  // Blocked in this session: their lines still on their way are not shown either.
  const gone = new Set<string>()
  let room: Room | undefined
  const save = () => {
    try {
      localStorage.setItem(KEY(roomId), JSON.stringify(lists))
    } catch {
      // Storage blocked.
    }
  }
  const peer = (id: string) => room?.peers.find((p) => p.id === id)
  const listed = (list: string[], id: string, key = peer(id)?.key) => list.includes(id) || (key !== undefined && list.includes(key))
  const add = (list: string[], id: string) => {
    const who = peer(id)
    const entry = who?.signed ? who.key! : id
    if (list.includes(entry)) return
    list.push(entry)
    if (list.length > MAX_LISTED) list.shift()
    save()
  }
  const check = (view: PeerView) => listed(lists.blocked, view.id, view.key) && block(view.id)
  function block(id: string): void {
    gone.add(id)
    room?.block(id)
  }

  return {
    muted: (id: string) => gone.has(id) || listed(lists.muted, id) || listed(lists.blocked, id),
    mute: (id: string) => add(lists.muted, id),
    /** Blocks `id`; the first call (without `id`, once joined) also blocks whoever is listed as they show up. */
    block(joined: Room, id?: string): void {
      if (!room) {
        room = joined
        for (const entry of lists.blocked) joined.block(entry)
        joined.on('peer-updated', check)
      }
      if (id === undefined) return
      add(lists.blocked, id)
      block(id)
    },
  }
}

export type Moderation = ReturnType<typeof createModeration>
