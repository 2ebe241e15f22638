import { EventEmitter } from 'node:events'
import type SimplePeer from 'simple-peer'
import { describe, expect, it, vi } from 'vitest'
import { closedPeer, onGathered } from '../../client/lib/webrtc'

/** simple-peer's events, fired by hand. */
const handPeer = () => Object.assign(new EventEmitter(), { destroyed: false })
const asPeer = (peer: ReturnType<typeof handPeer>) => peer as unknown as SimplePeer.Instance
const candidate = { candidate: { candidate: 'candidate:1 1 udp 2122260223 192.0.2.1 50000 typ host', sdpMid: '0' } }

describe('onGathered', () => {
  it('says the host candidates are out just after the first one, once, though more follow and gathering ends', async () => {
    const peer = handPeer()
    const gathered = vi.fn()
    onGathered(asPeer(peer), gathered)
    peer.emit('signal', { type: 'offer', sdp: 'v=0' })
    await new Promise((resolve) => setTimeout(resolve, 5))
    expect(gathered).not.toHaveBeenCalled() // a description alone: its candidates are still to come
    peer.emit('signal', candidate)
    peer.emit('signal', candidate)
    expect(gathered).not.toHaveBeenCalled() // the rest of the host candidates come within the next moment
    await vi.waitFor(() => expect(gathered).toHaveBeenCalledTimes(1))
    peer.emit('_iceComplete')
    await new Promise((resolve) => setTimeout(resolve, 5))
    expect(gathered).toHaveBeenCalledTimes(1)
  })

  it('says so at the end of gathering when no candidate came, and never for a destroyed connection', async () => {
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
    destroyed.emit('_iceComplete')
    await new Promise((resolve) => setTimeout(resolve, 5))
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
