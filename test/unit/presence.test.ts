import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { PeerView } from '../../client/lib'
import { createPresenceNotices } from '../../client/page/presence'

const peer = (id: string, name: string): PeerView => ({ id, name, state: 'connecting' })

/** A page's presence notices beside a stand-in room: who is here as the room's events say. */
function page() {
  const told: string[] = []
  const here: PeerView[] = []
  const presence = createPresenceNotices(
    (text) => told.push(text),
    () => here,
  )
  return {
    told,
    presence,
    join(id: string, name: string) {
      here.push(peer(id, name))
      presence.joined(peer(id, name))
    },
    leave(id: string, name: string) {
      here.splice(
        here.findIndex((p) => p.id === id),
        1,
      )
      presence.left(peer(id, name))
    },
  }
}

/** Online, with Ana there before us: the roster's burst is over. */
function online() {
  const room = page()
  room.presence.online()
  room.join('a', 'Ana')
  vi.advanceTimersByTime(0)
  return room
}

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

describe('presence notices', () => {
  it('tell no one who was there before us, and whoever comes after', () => {
    const room = online()
    room.join('b', 'Ben')
    expect(room.told).toEqual(['Ben joined'])
  })

  it('tell who left once they have stayed away a few seconds', () => {
    const room = online()
    room.leave('a', 'Ana')
    expect(room.told).toEqual([])
    vi.advanceTimersByTime(5_000)
    expect(room.told).toEqual(['Ana left'])
  })

  it('tell nothing of a reload: left and joined again under the same name within those seconds', () => {
    const room = online()
    room.leave('a', 'Ana')
    vi.advanceTimersByTime(1_000)
    room.join('a2', 'Ana')
    vi.advanceTimersByTime(10_000)
    expect(room.told).toEqual([])
    // Later comings and goings are told again.
    room.leave('a2', 'Ana')
    vi.advanceTimersByTime(5_000)
    room.join('a3', 'Ana')
    expect(room.told).toEqual(['Ana left', 'Ana joined'])
  })

  it('tell only the join when the new session comes before the old one leaves (its goodbye lost or late)', () => {
    const room = online()
    room.join('a2', 'Ana')
    vi.advanceTimersByTime(10_000)
    room.leave('a', 'Ana')
    vi.advanceTimersByTime(10_000)
    expect(room.told).toEqual(['Ana joined'])
  })

  it('tell who leaves soon after we joined, and cancel a leave by a join in the roster', () => {
    const room = page()
    room.presence.online()
    room.join('a', 'Ana')
    room.join('b', 'Ben')
    room.leave('b', 'Ben')
    room.join('b2', 'Ben')
    vi.advanceTimersByTime(0)
    room.leave('a', 'Ana')
    vi.advanceTimersByTime(5_000)
    expect(room.told).toEqual(['Ana left'])
  })

  it('tell of two people of one name only the last one leaving, and nothing when one of them comes back', () => {
    const room = online()
    room.join('s1', 'Sam')
    room.join('s2', 'Sam')
    room.leave('s1', 'Sam')
    vi.advanceTimersByTime(5_000)
    room.leave('s2', 'Sam')
    vi.advanceTimersByTime(5_000)
    room.join('s3', 'Sam')
    expect(room.told).toEqual(['Sam joined', 'Sam joined', 'Sam left', 'Sam joined'])
  })

  it('tell nothing after close', () => {
    const room = online()
    room.leave('a', 'Ana')
    room.presence.close()
    vi.advanceTimersByTime(10_000)
    expect(room.told).toEqual([])
  })
})
