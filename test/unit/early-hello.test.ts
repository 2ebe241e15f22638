import { expect, it } from 'vitest'
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

it('answers a hello that arrives before its own channel opened only after sending its own', () => {
  const hand = handPeer()
  const mesh = createMesh({
    self: { id: 'me', name: 'Me', key: 'k'.repeat(87) },
    peerEvent: () => {},
    createPeer: () => hand.peer,
    iceServers: () => [],
    signal: () => {},
    onChat: () => {},
    onMessage: () => {},
    onBinary: () => false,
  })
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
