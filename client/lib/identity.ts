import { base64url, fromBase64url, utf8, VERSION } from './crypto'
import type { ChatMessage } from './peer-protocol'
import { SignalingError } from './signaling/http'
import type { KeyStore } from './stored'
import type { Identity } from './types'

// Ed25519, not ECDSA P-256: a verify costs ~0.2 ms against ~0.9 ms in Chromium, and a chat message
// is signed and verified on its way to the screen. Signatures are deterministic, so vectors are fixed.
const ED25519 = 'Ed25519'
const KEY_STORE_WAIT_MS = 3_000
// Imported public keys kept: the room's present peers and relayed authors (see history.ts) fit many times over.
const CACHED_KEYS = 1024

/**
 * What a signature covers: everything a reader sees, plus the room (no replay into another room). A
 * plain chat line keeps the first form; one about another message (re) has its own tag and fields.
 */
export const signedText = (room: string, m: ChatMessage) => {
  const base = [m.id, m.from, m.name, m.text, m.time, m.lamport, m.to ?? null]
  if (!m.re) return JSON.stringify([`${VERSION} chat`, room, ...base])
  const { act, id } = m.re
  const [emoji, on] = m.re.act === 'react' ? [m.re.emoji, m.re.on] : [null, null]
  return JSON.stringify([`${VERSION} event`, room, ...base, act, id, emoji, on])
}
const signedBytes = (room: string, m: ChatMessage) => utf8.encode(signedText(room, m))

const newKeyPair = () =>
  crypto.subtle.generateKey(ED25519, false, ['sign', 'verify']).catch(() => {
    throw new SignalingError('UNSUPPORTED_BROWSER', 'this browser cannot make Ed25519 signatures: update it')
  })

/**
 * The room's signing key as `keys` kept it (the chat page: IndexedDB), so the others, and their mute
 * and block lists, know this browser again after a reload; a new one, then kept, where there is none.
 * The private key stays non-extractable: the store holds the CryptoKey, never its bytes.
 */
export async function keptIdentity(room: string, keys?: KeyStore): Promise<Identity> {
  // A store that does not answer (now and then some browser's IndexedDB never does) must not hold the
  // room up, which waits for this key: past this, a new key for this visit (kept if the store, once it
  // answers, has none).
  const late = keys && new Promise<undefined>((resolve) => setTimeout(resolve, KEY_STORE_WAIT_MS))
  const kept = await Promise.race([keys?.load(room).catch(() => undefined), late])
  if (kept?.privateKey?.algorithm?.name === ED25519 && kept.publicKey) return createIdentity(room, kept)
  const made = await newKeyPair()
  // Tabs opening a new room at once each make a pair: the one kept first is the one all of them sign
  // with, as tabs opened later do. A first visit's key is ready one transaction later (the roster waits
  // for it, see room.ts): measured, still before the join's answer comes.
  const first = await Promise.race([keys?.save(room, made).catch(() => undefined), late])
  return createIdentity(room, first || made)
}

/**
 * A signing key (per session, or per room through keptIdentity): messages carry the sender's Ed25519 signature, so a peer passing on
 * history cannot rewrite what someone else said (see history.ts for how keys are trusted). `pair` is
 * for tests and vectors; a browser without Ed25519 (before Chromium 137, Firefox 130, Safari 17)
 * fails with `UNSUPPORTED_BROWSER`.
 */
export async function createIdentity(room: string, pair?: CryptoKeyPair): Promise<Identity> {
  pair ??= await newKeyPair()
  const { privateKey, publicKey } = pair
  const key = base64url(new Uint8Array(await crypto.subtle.exportKey('raw', publicKey)))
  const imported = new Map<string, Promise<CryptoKey | null>>()
  const importKey = (raw: string) => {
    let found = imported.get(raw)
    if (!found) {
      const bytes = fromBase64url(raw)
      found = bytes ? crypto.subtle.importKey('raw', bytes, ED25519, false, ['verify']).catch(() => null) : Promise.resolve(null)
      imported.set(raw, found)
      // Junk entries each bring a fresh key: the oldest imports go, so they cannot grow this map.
      if (imported.size > CACHED_KEYS) imported.delete(imported.keys().next().value!)
    }
    return found
  }
  return {
    key,
    async sign(message) {
      return base64url(new Uint8Array(await crypto.subtle.sign(ED25519, privateKey, signedBytes(room, message))))
    },
    async verify(message, raw) {
      const publicKey = await importKey(raw)
      const signature = message.sig && fromBase64url(message.sig)
      if (!publicKey || !signature) return false
      return crypto.subtle.verify(ED25519, publicKey, signature, signedBytes(room, message)).catch(() => false)
    },
  }
}
