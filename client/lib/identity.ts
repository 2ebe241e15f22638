import { base64url, fromBase64url } from './crypto'
import type { ChatMessage } from './peer-protocol'
import type { Identity } from './types'

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const
const SIGNATURE = { name: 'ECDSA', hash: 'SHA-256' } as const
const utf8 = new TextEncoder()
// Imported public keys kept: the room's present peers and relayed authors (see history.ts) fit many times over.
const CACHED_KEYS = 1024

/**
 * What a signature covers: everything a reader sees, plus the room (no replay into another room). A
 * plain chat line keeps the first form; one about another message (re) has its own tag and fields.
 */
export const signedText = (room: string, m: ChatMessage) => {
  const base = [m.id, m.from, m.name, m.text, m.time, m.lamport, m.to ?? null]
  if (!m.re) return JSON.stringify(['parley/1 chat', room, ...base])
  const { act, id } = m.re
  const [emoji, on] = m.re.act === 'react' ? [m.re.emoji, m.re.on] : [null, null]
  return JSON.stringify(['parley/1 event', room, ...base, act, id, emoji, on])
}
const signedBytes = (room: string, m: ChatMessage) => utf8.encode(signedText(room, m))

/**
 * A per-session signing key: messages carry the sender's ECDSA P-256 signature, so a peer passing on
 * history cannot rewrite what someone else said (see history.ts for how keys are trusted).
 */
export async function createIdentity(room: string): Promise<Identity> {
  const pair = (await crypto.subtle.generateKey(ALGORITHM, false, ['sign', 'verify'])) as CryptoKeyPair
  const key = base64url(new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey)))
  const imported = new Map<string, Promise<CryptoKey | null>>()
  const importKey = (raw: string) => {
    let found = imported.get(raw)
    if (!found) {
      const bytes = fromBase64url(raw)
      found = bytes ? crypto.subtle.importKey('raw', bytes, ALGORITHM, false, ['verify']).catch(() => null) : Promise.resolve(null)
      imported.set(raw, found)
      // Junk entries each bring a fresh key: the oldest imports go, so they cannot grow this map.
      if (imported.size > CACHED_KEYS) imported.delete(imported.keys().next().value!)
    }
    return found
  }
  return {
    key,
    async sign(message) {
      return base64url(new Uint8Array(await crypto.subtle.sign(SIGNATURE, pair.privateKey, signedBytes(room, message))))
    },
    async verify(message, raw) {
      const publicKey = await importKey(raw)
      const signature = message.sig && fromBase64url(message.sig)
      if (!publicKey || !signature) return false
      return crypto.subtle.verify(SIGNATURE, publicKey, signature, signedBytes(room, message)).catch(() => false)
    },
  }
}
