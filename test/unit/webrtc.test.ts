import { EventEmitter } from 'node:events'
import type SimplePeer from 'simple-peer'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { closedPeer, onGathered } from '../../client/lib/webrtc'

/** simple-peer's events, fired by hand. */
const handPeer = () => Object.assign(new EventEmitter(), { destroyed: false })
const asPeer = (peer: ReturnType<typeof handPeer>) => peer as unknown as SimplePeer.Instance
const candidate = { candidate: { candidate: 'candidate:1 1 udp 2122260223 192.0.2.1 50000 typ host', sdpMid: '0' } }

describe('onGathered', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('says the host candidates are out once 2 ms pass without another, once, though gathering ends later', () => {
    const peer = handPeer()
    const gathered = vi.fn()
    onGathered(asPeer(peer), gathered)
    peer.emit('signal', { type: 'offer', sdp: 'v=0' })
    vi.advanceTimersByTime(10)
    expect(gathered).not.toHaveBeenCalled() // a description alone: its candidates are still to come
    peer.emit('signal', candidate)
    vi.advanceTimersByTime(1)
    peer.emit('signal', candidate) // Firefox's next timer step
    vi.advanceTimersByTime(1)
    expect(gathered).not.toHaveBeenCalled()
    vi.advanceTimersByTime(1)
    expect(gathered).toHaveBeenCalledTimes(1)
    peer.emit('signal', candidate) // a later one (STUN, TURN) goes in a POST of its own
    peer.emit('_iceComplete')
    vi.advanceTimersByTime(10)
    expect(gathered).toHaveBeenCalledTimes(1)
  })

  it('says so at the end of gathering when no candidate came, and never for a destroyed connection', () => {
    const ended = handPeer()
    const gathered = vi.fn()
    onGathered(asPeer(ended), gathered)
    ended.emit('_iceComplete')
    expect(gathered).toHaveBeenCalledTimes(1)

    const destroyed = handPeer()
    const never = vi.fn()
    onGathered(asPeer(destroyed), never)
    destroyed.emit('signal', candidate)
    destroyed.destroyed = true
    vi.advanceTimersByTime(10)
    destroyed.emit('_iceComplete')
    expect(never).not.toHaveBeenCalled()
  })
})

it('closedPeer: a connection that could not be made closes at once, and takes nothing', async () => {
  const peer = closedPeer()
  const closed = vi.fn()
  peer.on('close', closed)
  expect(() => peer.signal({ type: 'offer', sdp: 'v=0' })).not.toThrow()
  expect(closed).not.toHaveBeenCalled() // its owner has set up its handlers by then
  await Promise.resolve()
  expect(closed).toHaveBeenCalledTimes(1)
})
