import { deriveRoomKey, deriveVerifier, metaContext, open, sdpFingerprint, seal, signalContext } from './crypto'
import { parseEnvelope } from './peer-protocol'
import type { Sealer } from './types'

/**
 * Seals a room's signals and metadata with its key. Signals carry a counter per direction of each
 * pair, so the server can neither replay a signal to the same pair (the counter must grow) nor to
 * another pair or room (the associated data names room, sender and recipient).
 */
export function createSealer(secret: string, room: string): Sealer {
  const key = deriveRoomKey(secret, room)
  const sent = new Map<string, number>()
  const heard = new Map<string, number>()

  return {
    async sealSignal(self, to, envelope) {
      const pair = `${self} ${to}`
      const n = (sent.get(pair) ?? 0) + 1
      sent.set(pair, n)
      return seal(await key, signalContext(room, self, to), { n, envelope })
    },

    async openSignal(self, from, sealed) {
      const value = (await open(await key, signalContext(room, from, self), sealed)) as { n?: unknown; envelope?: unknown } | null
      const envelope = value && parseEnvelope(value.envelope)
      if (!value || !envelope || typeof value.n !== 'number' || !Number.isSafeInteger(value.n)) return { ok: false, reason: 'forged' }
      // Counted per direction of a pair: after a re-join under a new id, theirs to us starts over.
      const pair = `${from} ${self}`
      if (value.n <= (heard.get(pair) ?? 0)) return { ok: false, reason: 'replayed' }
      heard.set(pair, value.n)
      const signal = 'signal' in envelope ? (envelope.signal as { sdp?: unknown }) : undefined
      return { ok: true, envelope, fingerprint: sdpFingerprint(signal?.sdp) }
    },

    async sealMeta(name) {
      return seal(await key, metaContext(room), { name })
    },

    verifier: () => deriveVerifier(secret, room),

    async openMeta(meta) {
      if (meta === undefined) return null
      const value = (await open(await key, metaContext(room), meta)) as { name?: unknown } | null
      return typeof value?.name === 'string' ? value.name : null
    },
  }
}
