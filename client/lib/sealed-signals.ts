import type { PeerInfo } from '../../signaling/protocol'
import { sdpFingerprint, verificationCode } from './crypto'
import { mark } from './marks'
import type { SignalEnvelope } from './peer-protocol'
import type { Opened, RoomSelf, Sealer, Signaling } from './types'
import { createSerialQueue } from './util'

// What is given while no connection of ours is being made (late candidates from a STUN or TURN server, a
// restart) waits this long for what follows it in a burst (every first POST's wait before the page could
// say), not the signaling's longer one for a word from the page that will not come.
const LATE_GATHER_MS = 8

const signalType = (envelope: SignalEnvelope) => ('signal' in envelope ? (envelope.signal as { type?: unknown }).type : undefined)

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
  // Our connections being made whose host candidates are not all out yet. While one is, what is queued waits
  // for it (at most SIGNAL_GATHER_MS): a description leaves with its candidates (measured behind a
  // 50 ms RTT, an offer sent ahead of them cost the join a round trip), and a join's offers to everyone
  // leave together.
  let unfinished = 0
  // The flush of a burst given while none is (LATE_GATHER_MS after its first signal).
  let late: ReturnType<typeof setTimeout> | undefined

  return {
    send(to: string, envelope: SignalEnvelope): void {
      const from = self.id
      // Given while no connection of ours is being made: no word from the page will send it (LATE_GATHER_MS).
      // Taken now: a description's connection may be done before the description is sealed.
      const alone = !unfinished
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
        if (alone && late === undefined) {
          late = setTimeout(() => {
            late = undefined
            if (!unfinished) signaling.flush?.(from)
          }, LATE_GATHER_MS)
        }
        if (signalType(envelope) === 'offer') mark('offer-sent')
      }).catch(options.onError)
    },

    /** A connection of ours is being made: call what this returns once its host candidates are out, or it closed. */
    making(): () => void {
      let finished = false
      unfinished++
      return () => {
        if (finished) return
        finished = true
        const from = self.id
        if (--unfinished > 0 || !from) return
        // After the signals given so far, for the peer id they were given for.
        outgoing(async () => {
          if (from !== self.id || options.closed()) return
          signaling.flush?.(from)
          mark('signals-flushed')
        }).catch(options.onError)
      }
    },

    async open(from: string, data: unknown): Promise<Opened> {
      const opened = await sealer.openSignal(self.id, from, data)
      if (opened.ok && opened.fingerprint) theirFingerprints.set(from, opened.fingerprint)
      if (opened.ok && signalType(opened.envelope) === 'answer') mark('answer-received')
      return opened
    },

    sealName: (name: string) => sealer.sealMeta(name),

    /** The room left: no flush is due any more. */
    close: () => clearTimeout(late),

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
