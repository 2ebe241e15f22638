import type { PeerInfo } from '../../signaling/protocol'
import { mark } from './marks'
import type { Mesh } from './mesh'
import type { SealedSignals } from './sealed-signals'
import { SignalingError } from './signaling/http'
import type { MembershipEvent } from './types'
import { createSerialQueue } from './util'

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

type MeshControl = Pick<
  Mesh,
  'add' | 'remove' | 'reconcile' | 'timedOut' | 'away' | 'back' | 'receiveSignal' | 'unverified' | 'signalRaw' | 'unknown'
>

/**
 * What the server tells one membership, applied to the mesh in arrival order (opening a signal or a
 * name is asynchronous): presence, rosters, and signals that open, or warnings for those that do not.
 */
export function createMembershipEvents(options: {
  mesh: MeshControl
  sealed: SealedSignals
  closed: () => boolean
  onError: (err: Error) => void
  /** Settles before the first event is applied (room.ts: the signing key, whose failure closes the room). */
  ready?: Promise<unknown>
}) {
  const { mesh, sealed } = options
  const incoming = createSerialQueue()
  const warned = new Set<string>()

  function unverified(peer: string, reason: keyof typeof WARNINGS) {
    if (reason !== 'replayed') mesh.unverified(peer)
    if (warned.has(`${reason} ${peer}`)) return
    warned.add(`${reason} ${peer}`)
    // Tell them, once: they may never hear anything else from us that opens.
    if (reason === 'forged') mesh.signalRaw(peer, { attempt: 0, refused: true })
    const [code, message] = WARNINGS[reason]
    options.onError(Object.assign(new SignalingError(code, message), { peer }))
  }

  async function apply(event: MembershipEvent) {
    switch (event.type) {
      case 'roster':
        return mesh.reconcile(await sealed.named(event.peers))
      case 'peer-joined':
        return mesh.add((await sealed.named([event.peer]))[0]!)
      case 'peer-left':
        return event.reason === 'timeout' ? mesh.timedOut(event.peer) : mesh.remove(event.peer)
      case 'peer-away':
        return mesh.away(event.peer)
      case 'peer-back':
        return mesh.back(event.peer)
      case 'signal': {
        const opened = await sealed.open(event.from, event.data)
        if (!opened.ok) return unverified(event.from, opened.reason)
        if ('refused' in opened.envelope) return unverified(event.from, 'refused')
        return mesh.receiveSignal(event.from, opened.envelope)
      }
    }
  }

  // Its failure is the room's to handle (room.ts); here it only means nothing waits any longer.
  const ready = options.ready?.catch(() => {})
  // Bumped when a new join starts: what was queued for an earlier one (behind `ready`) is dropped.
  let generation = 0
  const enqueue = (task: () => unknown) => {
    const queuedIn = generation
    void incoming(async () => {
      await ready
      if (!options.closed() && queuedIn === generation) return task()
    }).catch(options.onError)
  }

  return {
    event: (event: MembershipEvent) => enqueue(() => apply(event)),
    /** The join reply's roster: it only adds (the stream's roster, which follows, is the truth). */
    roster: (peers: PeerInfo[]) =>
      enqueue(async () => {
        mesh.reconcile(await sealed.named(peers), true)
        mark('roster-applied')
      }),
    unknown: (peer: string) => enqueue(() => mesh.unknown(peer)),
    /** A new join starts (the server lost the last one): nothing still queued for an earlier one applies. */
    reset: () => void generation++,
  }
}
