import { afterEach, describe, expect, it, vi } from 'vitest'
import type { PeerState, Room } from '../../client/lib'

// What waits for the join (the page's extras, the shell's install) waits for `settled`: nobody in the room
// still on a first attempt to connect. A stand-in room: its peers' states, and the events the page hears.
function fakeRoom(states: PeerState[]) {
  const peers = states.map((state, i) => ({ id: `p${i}`, state }))
  const listeners = new Map<string, Set<() => void>>()
  const room = {
    get peers() {
      return peers
    },
    on(event: string, listener: () => void) {
      const heard = listeners.get(event) ?? new Set()
      listeners.set(event, heard.add(listener))
      return () => heard.delete(listener)
    },
  } as unknown as Room
  const emit = (event: 'peer-connected' | 'peer-updated' | 'peer-left') => {
    for (const listener of listeners.get(event) ?? []) listener()
  }
  const listening = () => [...listeners.values()].reduce((n, heard) => n + heard.size, 0)
  return { room, peers, emit, listening }
}

/** Marks are once per page: each case loads the modules afresh, with a service worker container to watch. */
async function page(states: PeerState[]) {
  vi.resetModules()
  const register = vi.fn(() => Promise.resolve())
  vi.stubGlobal('navigator', { serviceWorker: { register } })
  const marks = await import('../../client/lib/marks')
  const { settleThenInstall } = await import('../../client/page/shell')
  const fake = fakeRoom(states)
  const stop = settleThenInstall(fake.room)
  let settled = false
  void marks.whenMarked('settled').then(() => (settled = true))
  const flush = () => new Promise((resolve) => setTimeout(resolve, 0))
  return { ...fake, mark: marks.mark, register, stop, flush, settled: () => settled }
}

afterEach(() => {
  vi.useRealTimers()
  vi.unstubAllGlobals()
})

describe('the room settling', () => {
  it('settles at the join reply when nobody is there; alone, it installs the shell only after 10 s', async () => {
    vi.useFakeTimers()
    const p = await page([])
    await vi.advanceTimersByTimeAsync(0)
    expect(p.settled()).toBe(false)
    p.mark('roster-applied')
    await vi.advanceTimersByTimeAsync(0)
    expect(p.settled()).toBe(true)
    expect(p.register).not.toHaveBeenCalled()
    await vi.advanceTimersByTimeAsync(10_000)
    expect(p.register).toHaveBeenCalledTimes(1)
  })

  it('waits while anyone is on a first attempt: connected, failed and gone all count as done', async () => {
    const p = await page(['connecting', 'connecting', 'connecting'])
    p.mark('roster-applied')
    p.peers[0]!.state = 'connected'
    p.emit('peer-connected')
    p.peers[1]!.state = 'failed' // unreachable, or unverified: it will not hold the room up
    p.emit('peer-updated')
    await p.flush()
    expect(p.settled()).toBe(false)
    expect(p.register).not.toHaveBeenCalled()
    p.peers.pop()
    p.emit('peer-left')
    await p.flush()
    expect(p.settled()).toBe(true)
    // Connected to someone: the shell installs at once.
    expect(p.register).toHaveBeenCalledTimes(1)
    // Settled once for the page's life: the room's events are no longer heard.
    expect(p.listening()).toBe(0)
  })

  it('gives up waiting after 10 s, unless the page left first', async () => {
    vi.useFakeTimers()
    const p = await page(['connecting'])
    p.mark('roster-applied')
    await vi.advanceTimersByTimeAsync(9_999)
    expect(p.settled()).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(p.settled()).toBe(true)

    const left = await page(['connecting'])
    left.stop()
    await vi.advanceTimersByTimeAsync(20_000)
    expect(left.settled()).toBe(false)
  })
})
