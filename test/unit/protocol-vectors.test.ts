import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  base64url,
  deriveRoomKey,
  fromBase64url,
  metaContext,
  open,
  sdpFingerprint,
  seal,
  signalContext,
  VERSION,
  verificationCode,
} from '../../client/lib/crypto'
import { createIdentity, signedText } from '../../client/lib/identity'
import type { ChatMessage } from '../../client/lib/peer-protocol'
import { createSealer } from '../../client/lib/sealer'

// The vectors are read from the specification itself, so the text and the code cannot drift apart.
const SPEC = new URL('../../signaling/PROTOCOL.md', import.meta.url)
const IV_BYTES = 12
const GCM_TAG_BYTES = 16

function vectors(markdown: string): Map<string, Record<string, unknown>> {
  const found = new Map<string, Record<string, unknown>>()
  for (const [, name, json] of markdown.matchAll(/<!-- vector: ([\w-]+) -->\s*```json\n([\s\S]*?)\n```/g)) {
    found.set(name!, JSON.parse(json!) as Record<string, unknown>)
  }
  return found
}

const all = vectors(readFileSync(SPEC, 'utf8'))
const vector = <T>(name: string) => {
  const value = all.get(name)
  if (!value) throw new Error(`PROTOCOL.md has no vector "${name}"`)
  return value as T
}

const utf8 = new TextEncoder()
const subtle = globalThis.crypto.subtle
const hex = (bytes: ArrayBuffer | Uint8Array) => Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString('hex')
const fromHex = (value: string) => Uint8Array.from(Buffer.from(value, 'hex'))

/** HKDF as the specification words it, with an exportable result (the real key is not). */
async function specRoomKey(ikm: Uint8Array<ArrayBuffer>, room: string): Promise<Uint8Array> {
  const base = await subtle.importKey('raw', ikm, 'HKDF', false, ['deriveBits'])
  const params = { name: 'HKDF', hash: 'SHA-256', salt: utf8.encode('parley/2'), info: utf8.encode(`room ${room}`) }
  return new Uint8Array(await subtle.deriveBits(params, base, 256))
}

const rawAesKey = (keyHex: string) => subtle.importKey('raw', fromHex(keyHex), 'AES-GCM', false, ['encrypt', 'decrypt'])

/** Seals as the specification describes, with a chosen IV (the real `seal` draws a random one). */
async function specSeal(key: CryptoKey, iv: Uint8Array<ArrayBuffer>, context: string, plaintext: string): Promise<string> {
  const ciphertext = await subtle.encrypt({ name: 'AES-GCM', iv, additionalData: utf8.encode(context) }, key, utf8.encode(plaintext))
  const sealed = new Uint8Array(IV_BYTES + ciphertext.byteLength)
  sealed.set(iv)
  sealed.set(new Uint8Array(ciphertext), IV_BYTES)
  return base64url(sealed)
}

interface RoomKeyVector {
  secret: string
  room: string
  salt: string
  info: string
  keyHex: string
  wrongKeyHex: string
}
interface SealedVector {
  secret: string
  room: string
  from?: string
  to?: string
  ivHex: string
  associatedData: string
  plaintext: string
  sealed: string
}
interface SignedChatVector {
  room: string
  privateJwk: JsonWebKey
  key: string
  message: ChatMessage
  signedText: string
  signedHex: string
}
interface PairCodeVector {
  sdpLineA: string
  sdpLineB: string
  fingerprintA: string
  fingerprintB: string
  hashedText: string
  digestHex: string
  code: string
}

describe('PROTOCOL.md test vectors', () => {
  it('has every vector the specification promises', () => {
    expect([...all.keys()].sort()).toEqual(['pair-code', 'room-key', 'sealed-meta', 'sealed-signal', 'signed-chat', 'signed-event'])
  })

  describe('room-key', () => {
    const v = vector<RoomKeyVector>('room-key')

    it('is HKDF-SHA-256 over the UTF-8 text of the secret, with the documented salt and info', async () => {
      expect(v.salt).toBe('parley/2')
      expect(VERSION).toBe(v.salt)
      expect(v.info).toBe(`room ${v.room}`)
      expect(hex(await specRoomKey(utf8.encode(v.secret), v.room))).toBe(v.keyHex)
      // Not over the secret's base64url-decoded bytes.
      expect(hex(await specRoomKey(fromBase64url(v.secret)!, v.room))).toBe(v.wrongKeyHex)
      expect(v.wrongKeyHex).not.toBe(v.keyHex)
    })

    it('is the key deriveRoomKey makes', async () => {
      const real = await deriveRoomKey(v.secret, v.room)
      const documented = await rawAesKey(v.keyHex)
      const context = 'parley/2 probe'
      expect(await open(real, context, await seal(documented, context, { probe: 1 }))).toEqual({ probe: 1 })
      expect(await open(documented, context, await seal(real, context, { probe: 2 }))).toEqual({ probe: 2 })
      expect(await open(await rawAesKey(v.wrongKeyHex), context, await seal(real, context, { probe: 3 }))).toBeNull()
    })
  })

  describe('sealed-signal', () => {
    const v = vector<SealedVector>('sealed-signal')
    const keyHex = vector<RoomKeyVector>('room-key').keyHex

    it('is IV ‖ ciphertext ‖ tag in unpadded base64url, with the documented associated data', async () => {
      expect(v.associatedData).toBe(signalContext(v.room, v.from!, v.to!))
      expect(await specSeal(await rawAesKey(keyHex), fromHex(v.ivHex), v.associatedData, v.plaintext)).toBe(v.sealed)
      const bytes = fromBase64url(v.sealed)!
      expect(hex(bytes.subarray(0, IV_BYTES))).toBe(v.ivHex)
      expect(bytes.length).toBe(IV_BYTES + utf8.encode(v.plaintext).length + GCM_TAG_BYTES)
      expect(v.sealed).toMatch(/^[A-Za-z0-9_-]+$/)
    })

    it('opens with the real sealer, for its recipient only', async () => {
      const real = await deriveRoomKey(v.secret, v.room)
      expect(await open(real, v.associatedData, v.sealed)).toEqual(JSON.parse(v.plaintext))
      const opened = await createSealer(v.secret, v.room).openSignal(v.to!, v.from!, v.sealed)
      expect(opened).toEqual({ ok: true, envelope: (JSON.parse(v.plaintext) as { envelope: unknown }).envelope, fingerprint: null })
      expect(await createSealer(v.secret, v.room).openSignal(v.from!, v.to!, v.sealed)).toEqual({ ok: false, reason: 'forged' })
    })

    it('is refused when padded', async () => {
      const real = await deriveRoomKey(v.secret, v.room)
      const padded = v.sealed + '='.repeat((4 - (v.sealed.length % 4)) % 4)
      expect(padded).not.toBe(v.sealed)
      expect(await open(real, v.associatedData, padded)).toBeNull()
      expect(await createSealer(v.secret, v.room).openSignal(v.to!, v.from!, padded)).toEqual({ ok: false, reason: 'forged' })
    })

    it('matches what the real seal produces, apart from its random IV', async () => {
      const real = await deriveRoomKey(v.secret, v.room)
      const sealed = fromBase64url(await seal(real, v.associatedData, JSON.parse(v.plaintext)))!
      const iv = sealed.slice(0, IV_BYTES)
      expect(base64url(sealed)).toBe(await specSeal(await rawAesKey(keyHex), iv, v.associatedData, v.plaintext))
    })
  })

  describe('sealed-meta', () => {
    const v = vector<SealedVector>('sealed-meta')
    const keyHex = vector<RoomKeyVector>('room-key').keyHex

    it('seals {"name"} with the meta associated data', async () => {
      expect(v.associatedData).toBe(metaContext(v.room))
      expect(await specSeal(await rawAesKey(keyHex), fromHex(v.ivHex), v.associatedData, v.plaintext)).toBe(v.sealed)
      expect(await createSealer(v.secret, v.room).openMeta(v.sealed)).toBe((JSON.parse(v.plaintext) as { name: string }).name)
    })
  })

  describe('signed-chat', () => {
    const v = vector<SignedChatVector>('signed-chat')
    const m = v.message
    const keyPair = async (): Promise<CryptoKeyPair> => ({
      privateKey: await subtle.importKey('jwk', v.privateJwk, 'Ed25519', false, ['sign']),
      publicKey: await subtle.importKey('raw', fromBase64url(v.key)!, 'Ed25519', true, ['verify']),
    })

    it('signs JSON.stringify of the documented array: no spaces, non-ASCII unescaped', () => {
      const text = JSON.stringify(['parley/2 chat', v.room, m.id, m.from, m.name, m.text, m.time, m.lamport, m.to ?? null])
      expect(text).toBe(v.signedText)
      expect(hex(utf8.encode(text))).toBe(v.signedHex)
      expect(text.startsWith('["parley/2 chat","')).toBe(true)
      expect(text).toContain(m.text.replace(/"/g, '\\"'))
      expect(text).not.toContain('\\u')
      expect(signedText(v.room, m)).toBe(v.signedText)
    })

    it("has RFC 8032's TEST 1 key: a 32-byte public key and a 64-byte signature", async () => {
      expect(hex(fromBase64url(v.privateJwk.d!)!)).toBe('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60')
      expect(hex(fromBase64url(v.key)!)).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a')
      expect(v.privateJwk.x).toBe(v.key)
      expect(v.key).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(m.sig).toMatch(/^[A-Za-z0-9_-]{86}$/)
      // RFC 8032's own TEST 1: the empty message.
      const rfc = new Uint8Array(await subtle.sign('Ed25519', (await keyPair()).privateKey, new Uint8Array(0)))
      expect(hex(rfc)).toBe(
        'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
      )
    })

    it('is the one signature of the documented bytes (Ed25519 is deterministic), and WebCrypto verifies it', async () => {
      const { privateKey, publicKey } = await keyPair()
      expect(base64url(new Uint8Array(await subtle.sign('Ed25519', privateKey, fromHex(v.signedHex))))).toBe(m.sig)
      expect(await subtle.verify('Ed25519', publicKey, fromBase64url(m.sig!)!, fromHex(v.signedHex))).toBe(true)
    })

    it('is exactly what the real identity signs with that key', async () => {
      const identity = await createIdentity(v.room, await keyPair())
      expect(identity.key).toBe(v.key)
      const { sig, ...unsigned } = m
      expect(await identity.sign(unsigned)).toBe(sig)
    })

    it("is accepted by the real identity's verify, and refused once altered", async () => {
      const identity = await createIdentity(v.room)
      expect(await identity.verify(m, v.key)).toBe(true)
      expect(await identity.verify({ ...m, text: `${m.text}!` }, v.key)).toBe(false)
      expect(await identity.verify({ ...m, to: 'p9Yt2LmQ0sXc7Vb1NaZ4k' }, v.key)).toBe(false)
      expect(await (await createIdentity('another-room')).verify(m, v.key)).toBe(false)
    })

    it('is what a fresh identity signs, as the specification words it', async () => {
      const identity = await createIdentity(v.room)
      const sig = await identity.sign(m)
      expect(fromBase64url(sig)!.length).toBe(64)
      expect(fromBase64url(identity.key)!.length).toBe(32)
      const publicKey = await subtle.importKey('raw', fromBase64url(identity.key)!, 'Ed25519', false, ['verify'])
      const text = JSON.stringify(['parley/2 chat', v.room, m.id, m.from, m.name, m.text, m.time, m.lamport, null])
      expect(await subtle.verify('Ed25519', publicKey, fromBase64url(sig)!, utf8.encode(text))).toBe(true)
    })
  })

  describe('signed-event', () => {
    const v = vector<SignedChatVector>('signed-event')
    const m = v.message

    it('signs the event tag, the chat members, then act, target, emoji and on', () => {
      const re = m.re as { act: string; id: string; emoji: string; on: boolean }
      const text = JSON.stringify([
        'parley/2 event',
        v.room,
        m.id,
        m.from,
        m.name,
        m.text,
        m.time,
        m.lamport,
        null,
        re.act,
        re.id,
        re.emoji,
        re.on,
      ])
      expect(text).toBe(v.signedText)
      expect(hex(utf8.encode(text))).toBe(v.signedHex)
      expect(signedText(v.room, m)).toBe(v.signedText)
    })

    it('is exactly what the real identity signs with the key of signed-chat', async () => {
      const chat = vector<SignedChatVector>('signed-chat')
      const pair = {
        privateKey: await subtle.importKey('jwk', chat.privateJwk, 'Ed25519', false, ['sign']),
        publicKey: await subtle.importKey('raw', fromBase64url(chat.key)!, 'Ed25519', true, ['verify']),
      }
      expect(v.key).toBe(chat.key)
      const { sig, ...unsigned } = m
      expect(await (await createIdentity(v.room, pair)).sign(unsigned)).toBe(sig)
    })

    it("is accepted by the real identity's verify, and refused once its reference changes", async () => {
      const identity = await createIdentity(v.room)
      expect(await identity.verify(m, v.key)).toBe(true)
      expect(await identity.verify({ ...m, re: { act: 'react', id: m.re!.id, emoji: '🎉', on: false } }, v.key)).toBe(false)
      expect(await identity.verify({ ...m, re: { act: 'react', id: m.re!.id, emoji: '👍', on: true } }, v.key)).toBe(false)
      expect(await identity.verify({ ...m, re: { act: 'delete', id: m.re!.id } }, v.key)).toBe(false)
      const { re: _re, ...plain } = m
      expect(await identity.verify(plain, v.key)).toBe(false)
    })
  })

  describe('pair-code', () => {
    const v = vector<PairCodeVector>('pair-code')
    const sdp = (line: string) => ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', line, 'a=setup:actpass', ''].join('\r\n')

    it('normalises the a=fingerprint lines as sdpFingerprint does', () => {
      expect(sdpFingerprint(sdp(v.sdpLineA))).toBe(v.fingerprintA)
      expect(sdpFingerprint(sdp(v.sdpLineB))).toBe(v.fingerprintB)
    })

    it('hashes the sorted fingerprints joined by a newline and reduces the first 3 bytes mod 10^6', async () => {
      expect([v.fingerprintA, v.fingerprintB].sort().join('\n')).toBe(v.hashedText)
      const digest = new Uint8Array(await subtle.digest('SHA-256', utf8.encode(v.hashedText)))
      expect(hex(digest)).toBe(v.digestHex)
      const digits = String(((digest[0]! << 16) | (digest[1]! << 8) | digest[2]!) % 1_000_000).padStart(6, '0')
      expect(`${digits.slice(0, 3)} ${digits.slice(3)}`).toBe(v.code)
    })

    it('is the code verificationCode gives both ends', async () => {
      expect(await verificationCode(v.fingerprintA, v.fingerprintB)).toBe(v.code)
      expect(await verificationCode(v.fingerprintB, v.fingerprintA)).toBe(v.code)
    })
  })
})
