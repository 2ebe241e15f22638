import type { PeerInfo } from '../../signaling/protocol'
import { sdpFingerprint, verificationCode } from './crypto'
import { mark } from './marks'
import type { SignalEnvelope } from './peer-protocol'
import type { Opened, PeerLike, RoomSelf, Sealer, Signaling } from './types'
import { createSerialQueue } from './util'

const typeOf = (signal: unknown) => (signal as { type?: unknown }).type
const signalType = (envelope: SignalEnvelope) => ('signal' in envelope ? typeOf(envelope.signal) : undefined)

/**
 * The room's signals as the server carries them: sealed on the way out (sent in order: sealing is
 * asynchronous), opened on the way in, names unsealed from rosters, and the DTLS fingerprints of each
 * pair kept for its verification code.
 */
export function createSealedSignals(options: {
  self: RoomSelf
  sealer: Sealer
  signaling: Signaling
  closed: () => boolean
  onError: (err: Error) => void
}) {
  const { self, sealer, signaling } = options
  const outgoing = createSerialQueue()
  const theirFingerprints = new Map<string, string>()
  const ourFingerprints = new Map<string, string>()
  // Our connections whose offer or answer is not out yet. While one is being made, what is queued waits
  // for it: a join's offers to everyone leave in one POST, not the first alone and the rest a round trip
  // later (the queue has one POST in flight).
  let preparing = 0
  /** After the signals given so far: the server may have them now, without waiting for more. */
  const flush = () => {
    const from = self.id
    if (preparing === 0) outgoing(async () => from === self.id && signaling.flush?.(from)).catch(options.onError)
  }

  return {
    send(to: string, envelope: SignalEnvelope): void {
      const from = self.id
      // Our side of the pair's verification code: the fingerprint this very connection offers.
      const ours = 'signal' in envelope ? sdpFingerprint((envelope.signal as { sdp?: unknown }).sdp) : null
      if (ours) ourFingerprints.set(to, ours)
      // Sealed at once (a join's offers to everyone together, not one WebCrypto trip after another; the
      // pair's counter is taken as it starts), sent in order.
      const sealing = sealer.sealSignal(from, to, envelope)
      sealing.catch(() => {})
      outgoing(async () => {
        const sealed = await sealing
        if (options.closed() || from !== self.id) return
        signaling.signal(from, to, sealed)
        if (signalType(envelope) === 'offer') mark('offer-sent')
      }).catch(options.onError)
      // The far end can answer an offer before any of our candidates arrive, and on a fresh page they
      // follow some 30 ms later: it leaves without them. An answer waits for its own (`gathered`).
      if (signalType(envelope) === 'offer') flush()
    },

    /** A connection of ours has signalled every candidate it has. */
    gathered: flush,

    /** Counts `peer` as preparing until its offer or answer is out, or it closes first. */
    track(peer: PeerLike): PeerLike {
      let described = false
      const done = () => {
        if (described) return false
        described = true
        preparing--
        return true
      }
      preparing++
      // Its description's own send flushes after it (below, in `send`); one that never comes, here.
      peer.on('signal', (signal) => (typeOf(signal) === 'offer' || typeOf(signal) === 'answer') && done())
      peer.on('close', () => done() && flush())
      return peer
    },

    async open(from: string, data: unknown): Promise<Opened> {
      const opened = await sealer.openSignal(self.id, from, data)
      if (opened.ok && opened.fingerprint) theirFingerprints.set(from, opened.fingerprint)
      if (opened.ok && signalType(opened.envelope) === 'answer') mark('answer-received')
      return opened
    },

    sealName: (name: string) => sealer.sealMeta(name),

    /** Peers as the server lists them, with the names their sealed metadata holds. */
    named: (peers: PeerInfo[]): Promise<PeerInfo[]> =>
      Promise.all(peers.map(async (p) => ({ id: p.id, meta: (await sealer.openMeta(p.meta)) ?? '' }))),

    /** Once connected, both ends can read the same code off the two DTLS fingerprints. */
    async code(peer: string): Promise<string | null> {
      const theirs = theirFingerprints.get(peer)
      const ours = ourFingerprints.get(peer)
      return theirs && ours ? verificationCode(ours, theirs) : null
    },
  }
}

export type SealedSignals = ReturnType<typeof createSealedSignals>
