import { expect, it, vi } from 'vitest'
import { createMesh } from '../../client/lib/mesh'
import type { ChatMessage } from '../../client/lib/peer-protocol'
import type { PeerLike } from '../../client/lib/types'

/** A peer whose events the test fires by hand, recording what the mesh sends. */
function handPeer() {
  const handlers = new Map<string, (payload?: unknown) => void>()
  const sent: Array<Record<string, unknown>> = []
  const peer: PeerLike = {
    signal: () => {},
    send: (data) => void sent.push(JSON.parse(data) as Record<string, unknown>),
    destroy: () => {},
    on: ((event: string, handler: (payload?: unknown) => void) => handlers.set(event, handler)) as PeerLike['on'],
  }
  return { peer, sent, fire: (event: string, payload?: unknown) => handlers.get(event)?.(payload) }
}

/** A mesh whose every connection is a new hand peer, in `hands`. */
function handMesh() {
  const hands: Array<ReturnType<typeof handPeer>> = []
  const mesh = createMesh({
    self: { id: 'me', name: 'Me', key: 'k'.repeat(87) },
    peerEvent: () => {},
    createPeer: () => {
      hands.push(handPeer())
      return hands.at(-1)!.peer
    },
    iceServers: () => [],
    signal: () => {},
    onChat: () => {},
    onMessage: () => {},
    onBinary: () => false,
  })
  return { mesh, hands }
}

it('answers a hello that arrives before its own channel opened only after sending its own', () => {
  const { mesh, hands } = handMesh()
  const chat: ChatMessage = {
    type: 'chat',
    id: 'm1',
    from: 'me',
    name: 'Me',
    text: 'sent before they came',
    time: 1,
    seq: 1,
    lamport: 1,
    sig: 's',
  }
  mesh.reconcile([{ id: 'them', meta: 'Them' }])
  const hand = hands[0]!
  mesh.broadcast(chat)

  // Their side opened first: their hello is here, our 'connect' is not.
  hand.fire('data', JSON.stringify({ type: 'hello', name: 'Them', have: 0 }))
  expect(hand.sent).toEqual([])
  hand.fire('connect')
  // They check our chat against the key in our hello: it must come first.
  expect(hand.sent.map((m) => m.type)).toEqual(['hello', 'chat'])
  expect(mesh.connected()).toEqual(['them'])
  mesh.reset()
})

it('counts a channel as made once their hello is in, early or not: one that never brings it is given up with its attempt', async () => {
  vi.useFakeTimers()
  try {
    const { mesh, hands } = handMesh()
    // Their pings keep each channel from going silent (peer-link's 5 s check) for 16 s, past the attempt's 15.
    const pingedFor16s = async () => {
      for (let s = 0; s < 16; s++) {
        hands.at(-1)!.fire('data', JSON.stringify({ type: 'ping' }))
        await vi.advanceTimersByTimeAsync(1_000)
      }
    }
    mesh.reconcile([{ id: 'early', meta: 'Early' }])
    hands[0]!.fire('data', JSON.stringify({ type: 'hello', name: 'Early', have: 0 }))
    hands[0]!.fire('connect')
    await pingedFor16s()
    expect([hands.length, mesh.connected()]).toEqual([1, ['early']])
    mesh.reset()

    mesh.reconcile([{ id: 'mute', meta: 'Mute' }])
    hands[1]!.fire('connect')
    await pingedFor16s()
    // Given up at 15 s and, after the backoff, offered again: a new connection.
    expect([hands.length, mesh.connected()]).toEqual([3, []])
    mesh.reset()
  } finally {
    vi.useRealTimers()
  }
})
