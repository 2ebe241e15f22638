import type { PeerInfo } from '../signaling/protocol'
import { sdpFingerprint, verificationCode } from './crypto'
import type { Emitter } from './emitter'
import type { createMesh } from './mesh'
import type { SignalEnvelope } from './peer-protocol'
import type { RoomEvents } from './room'
import type { Sealer } from './sealer'
import { SignalingError, type MembershipEvent, type Signaling } from './signaling'

const WARNINGS = {
  forged: [
    'UNVERIFIED_PEER',
    'Cannot verify the connection details of someone in this room: they have a different link, or someone is tampering with the connection. Not connecting to them.',
  ],
  refused: [
    'UNVERIFIED_PEER',
    'Cannot verify the connection details of someone in this room: they cannot open ours (a different link, or tampering). Not connecting to them.',
  ],
  replayed: ['REPLAYED_SIGNAL', 'A repeated (replayed) connection message was refused.'],
} as const

/**
 * Everything between the mesh and the server: signals sealed on the way out, opened (or refused) on the
 * way in, names unsealed from rosters, membership events applied in arrival order, and the pair codes.
 */
export function createSignalPath(options: {
  self: { id: string }
  sealer: Sealer
  signaling: Signaling
  events: Emitter<RoomEvents>
  mesh: () => ReturnType<typeof createMesh>
  closed: () => boolean
}) {
  const { self, sealer, signaling, events } = options
  // Sealing and opening are asynchronous; these chains keep signals and events in their order.
  let outgoing: Promise<unknown> = Promise.resolve()
  let incoming: Promise<unknown> = Promise.resolve()
  const theirFingerprints = new Map<string, string>()
  const ourFingerprints = new Map<string, string>()
  const warned = new Set<string>()

  /** Peers as the server lists them, with the names their sealed metadata holds. */
  const named = (peers: PeerInfo[]) =>
    Promise.all(peers.map(async (p) => ({ id: p.id, meta: (await sealer.openMeta(p.meta)) ?? '' })))

  function unverified(peer: string, reason: keyof typeof WARNINGS) {
    if (reason !== 'replayed') options.mesh().unverified(peer)
    if (warned.has(`${reason} ${peer}`)) return
    warned.add(`${reason} ${peer}`)
    // Tell them, once: they may never hear anything else from us that opens.
    if (reason === 'forged') options.mesh().signalRaw(peer, { attempt: 0, refused: true })
    const [code, message] = WARNINGS[reason]
    events.emit('error', Object.assign(new SignalingError(code, message), { peer }))
  }

  async function handle(event: MembershipEvent) {
    if (options.closed()) return
    const mesh = options.mesh()
    switch (event.type) {
      case 'roster':
        return mesh.reconcile(await named(event.peers))
      case 'peer-joined':
        return mesh.add((await named([event.peer]))[0]!)
      case 'peer-left':
        return event.reason === 'timeout' ? mesh.timedOut(event.peer) : mesh.remove(event.peer)
      case 'peer-away':
        return mesh.away(event.peer)
      case 'peer-back':
        return mesh.back(event.peer)
      case 'signal': {
        const opened = await sealer.openSignal(self.id, event.from, event.data)
        if (!opened.ok) return unverified(event.from, opened.reason)
        if ('refused' in opened.envelope) return unverified(event.from, 'refused')
        if (opened.fingerprint) theirFingerprints.set(event.from, opened.fingerprint)
        return mesh.receiveSignal(event.from, opened.envelope)
      }
    }
  }

  const enqueue = (task: () => Promise<unknown> | unknown) => {
    incoming = incoming.then(task).catch((err: Error) => events.emit('error', err))
  }

  // Once connected, both ends can read the same code off the two DTLS fingerprints.
  events.on('peer-connected', (peer) => {
    const theirs = theirFingerprints.get(peer.id)
    const ours = ourFingerprints.get(peer.id)
    if (theirs && ours) void verificationCode(ours, theirs).then((code) => options.mesh().setCode(peer.id, code))
  })

  return {
    send(to: string, envelope: SignalEnvelope): void {
      const from = self.id
      // Our side of the pair's verification code: the fingerprint this very connection offers.
      const ours = 'signal' in envelope ? sdpFingerprint((envelope.signal as { sdp?: unknown }).sdp) : null
      if (ours) ourFingerprints.set(to, ours)
      outgoing = outgoing
        .then(async () => {
          const sealed = await sealer.sealSignal(from, to, envelope)
          if (!options.closed() && from === self.id) signaling.signal(from, to, sealed)
        })
        .catch((err: Error) => events.emit('error', err))
    },
    sealName: (name: string) => sealer.sealMeta(name),
    event: (event: MembershipEvent) => enqueue(() => handle(event)),
    roster: (peers: PeerInfo[]) => enqueue(async () => options.mesh().reconcile(await named(peers), true)),
    unknown: (peer: string) => enqueue(() => options.mesh().unknown(peer)),
  }
}
