import { expect, it } from 'vitest'
import { createMesh } from '../../client/lib/mesh'
import type { PeerLike, PeerView } from '../../client/lib/types'

// PROTOCOL.md: a peer whose signals do not open is shown as unverified ("cannot verify"), never left
// "connecting". That holds even when its unopenable signal arrives before the event that names it.
it('shows a peer whose signal did not open before it was known as unverified, and does not connect to it', () => {
  const created: PeerLike[] = []
  const views: PeerView[] = []
  const mesh = createMesh({
    self: { id: 'me', name: 'Me' },
    peerEvent: (_event, view) => void views.push(view),
    createPeer: () => {
      const peer: PeerLike = { signal: () => {}, send: () => {}, destroy: () => {}, on: (() => peer) as PeerLike['on'] }
      created.push(peer)
      return peer
    },
    iceServers: () => [],
    signal: () => {},
    onChat: () => {},
    onMessage: () => {},
    onBinary: () => false,
  })
  mesh.unverified('them')
  mesh.reconcile([{ id: 'them', meta: '' }])
  expect(mesh.views()).toMatchObject([{ id: 'them', state: 'failed', unverified: true }])
  expect(views.at(-1)).toMatchObject({ id: 'them', state: 'failed', unverified: true })
  expect(created).toEqual([])
  mesh.reset()
})
