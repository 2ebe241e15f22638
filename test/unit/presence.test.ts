import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { PeerView } from '../../client/lib'
import { createPresenceNotices } from '../../client/page/presence'

const peer = (id: string, name: string): PeerView => ({ id, name, state: 'connecting' })

/** The notices a page shows, and its presence, online with the roster's burst over. */
function online() {
  const told: string[] = []
  const presence = createPresenceNotices((text) => told.push(text))
  presence.online()
  presence.joined(peer('a', 'Ana'))
  vi.advanceTimersByTime(0)
  return { told, presence }
}

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

describe('presence notices', () => {
  it('tell no one who was there before us, and whoever comes after', () => {
    const { told, presence } = online()
    presence.joined(peer('b', 'Ben'))
    expect(told).toEqual(['Ben joined'])
  })

  it('tell who left once they have stayed away a few seconds', () => {
    const { told, presence } = online()
    presence.left(peer('a', 'Ana'))
    expect(told).toEqual([])
    vi.advanceTimersByTime(5_000)
    expect(told).toEqual(['Ana left'])
  })

  it('tell nothing of a reload: left and joined again under the same name within those seconds', () => {
    const { told, presence } = online()
    presence.left(peer('a', 'Ana'))
    vi.advanceTimersByTime(1_000)
    presence.joined(peer('a2', 'Ana'))
    vi.advanceTimersByTime(10_000)
    expect(told).toEqual([])
    // Later comings and goings are told again.
    presence.left(peer('a2', 'Ana'))
    vi.advanceTimersByTime(5_000)
    presence.joined(peer('a3', 'Ana'))
    expect(told).toEqual(['Ana left', 'Ana joined'])
  })

  it('tell each of two people of one name who left, when one of them comes back', () => {
    const { told, presence } = online()
    presence.joined(peer('b', 'Sam'))
    presence.left(peer('a', 'Sam'))
    presence.left(peer('b', 'Sam'))
    presence.joined(peer('b2', 'Sam'))
    vi.advanceTimersByTime(5_000)
    expect(told).toEqual(['Sam joined', 'Sam left'])
  })

  it('tell nothing after close', () => {
    const { told, presence } = online()
    presence.left(peer('a', 'Ana'))
    presence.close()
    vi.advanceTimersByTime(10_000)
    expect(told).toEqual([])
  })
})
