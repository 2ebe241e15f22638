/**
 * End-to-end protection of everything a room sends through the server. The room secret travels only
 * in the link's fragment, which browsers never send to a server; the key is derived from it in the
 * browser (HKDF-SHA-256 → AES-256-GCM), so the server relays ciphertext it can neither read nor forge.
 */

/** The peer protocol's version in every key, seal and signature between clients (PROTOCOL.md 1). */
export const VERSION = 'parley/2'
// The admission verifier belongs to the HTTP API, still v1: old and new clients share a room and each
// shows the other as "cannot verify", rather than the later one being refused a room it has the link of.
const ADMIT_SALT = 'parley/1'
const IV_BYTES = 12
/** 16 random bytes: 128 bits, 22 characters of base64url. */
const SECRET_BYTES = 16
const SECRET = /^[A-Za-z0-9_-]{22,128}$/

export const utf8 = new TextEncoder()
export const utf8Text = new TextDecoder()

/** Lower-case hexadecimal, two digits a byte. */
export const hex = (bytes: ArrayBuffer | Uint8Array) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('')

export function base64url(bytes: Uint8Array): string {
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/**
 * The bytes of `value`, or null. Only the one spelling `base64url` gives them: the last character's unused
 * bits are not free, so a key or signature cannot be passed on spelled another way that still verifies
 * (a log that tells keys apart by their text would take that for another key).
 */
export function fromBase64url(value: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9_-]*$/.test(value)) return null
  try {
    const bytes = Uint8Array.from(atob(value.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0))
    return base64url(bytes) === value ? bytes : null
  } catch {
    return null
  }
}

/** A fresh room secret for a new room link. */
export function newRoomSecret(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)))
}

export const isRoomSecret = (value: string) => SECRET.test(value)

/** WebCrypto exists only in secure contexts (HTTPS, localhost). */
export const cryptoAvailable = () => typeof crypto !== 'undefined' && crypto.subtle !== undefined

export function deriveRoomKey(secret: string, room: string): Promise<CryptoKey> {
  return crypto.subtle
    .importKey('raw', utf8.encode(secret), 'HKDF', false, ['deriveKey'])
    .then((ikm) =>
      crypto.subtle.deriveKey(
        { name: 'HKDF', hash: 'SHA-256', salt: utf8.encode(VERSION), info: utf8.encode(`room ${room}`) },
        ikm,
        { name: 'AES-GCM', length: 256 },
        false,
        ['encrypt', 'decrypt'],
      ),
    )
}

/**
 * What proves to the server that a joiner holds the room link (PROTOCOL.md 3.1): HKDF of the secret
 * with its own info string, so it reveals nothing of the room key; 32 bytes, base64url.
 */
export async function deriveVerifier(secret: string, room: string): Promise<string> {
  const ikm = await crypto.subtle.importKey('raw', utf8.encode(secret), 'HKDF', false, ['deriveBits'])
  const params = { name: 'HKDF', hash: 'SHA-256', salt: utf8.encode(ADMIT_SALT), info: utf8.encode(`admit ${room}`) }
  return base64url(new Uint8Array(await crypto.subtle.deriveBits(params, ikm, 256)))
}

/** Associated data: a ciphertext only opens for the purpose, room and pair it was made for. */
export const signalContext = (room: string, from: string, to: string) => `${VERSION} signal ${room} ${from} ${to}`
export const metaContext = (room: string) => `${VERSION} meta ${room}`

export async function seal(key: CryptoKey, context: string, value: unknown): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES))
  const plaintext = utf8.encode(JSON.stringify(value))
  const ciphertext = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: utf8.encode(context) }, key, plaintext)
  const sealed = new Uint8Array(IV_BYTES + ciphertext.byteLength)
  sealed.set(iv)
  sealed.set(new Uint8Array(ciphertext), IV_BYTES)
  return base64url(sealed)
}

/** The sealed value, or null when it was made with another key, for another context, or altered. */
export async function open(key: CryptoKey, context: string, sealed: unknown): Promise<unknown> {
  if (typeof sealed !== 'string') return null
  const bytes = fromBase64url(sealed)
  if (!bytes || bytes.length <= IV_BYTES) return null
  try {
    const plaintext = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: bytes.subarray(0, IV_BYTES), additionalData: utf8.encode(context) },
      key,
      bytes.subarray(IV_BYTES),
    )
    return JSON.parse(utf8Text.decode(plaintext)) as unknown
  } catch {
    return null
  }
}

/** The DTLS certificate fingerprint an SDP announces (`a=fingerprint:sha-256 AB:CD:…`). */
export function sdpFingerprint(sdp: unknown): string | null {
  if (typeof sdp !== 'string') return null
  const match = /^a=fingerprint:(\S+) ([0-9A-Fa-f:]+)\s*$/m.exec(sdp)
  return match ? `${match[1]!.toLowerCase()} ${match[2]!.toUpperCase()}` : null
}

/**
 * A six-digit code both ends of a connection compute from the two DTLS fingerprints. If the codes
 * two people read to each other match, nobody sits between their browsers.
 */
export async function verificationCode(a: string, b: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', utf8.encode([a, b].sort().join('\n'))))
  const n = ((digest[0]! << 16) | (digest[1]! << 8) | digest[2]!) % 1_000_000
  const digits = String(n).padStart(6, '0')
  return `${digits.slice(0, 3)} ${digits.slice(3)}`
}
