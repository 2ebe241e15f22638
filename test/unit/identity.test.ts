import { afterEach, describe, expect, it, vi } from 'vitest'
import { joinRoom, type SignalingError } from '../../client/lib'
import { base64url, fromBase64url } from '../../client/lib/crypto'
import { createRoomLog } from '../../client/lib/history'
import { createIdentity, keptIdentity } from '../../client/lib/identity'
import type { ChatMessage } from '../../client/lib/peer-protocol'
import { randomRoom } from '../helpers'
import { clearSealer, createFakeNetwork, createFakeSignaling, joinWithSlowKey, TEST_ROOM_SECRET } from './fakes'

const subtle = globalThis.crypto.subtle
const utf8 = new TextEncoder()

const message = (fields: Partial<ChatMessage> = {}): ChatMessage => ({
  type: 'chat',
  id: 'V1StGXR8_Z5jdHi6B-myT',
  from: 'h3Kq9ZmX2aT0Lr8v1YcQe',
  name: 'Ana',
  text: 'hello',
  time: Date.now(),
  seq: 1,
  lamport: 1,
  ...fields,
})

const signed = async (identity: Awaited<ReturnType<typeof createIdentity>>, fields: Partial<ChatMessage> = {}) => {
  const m = message(fields)
  m.sig = await identity.sign(m)
  return m
}

/** What a version 1 client (ECDSA P-256 over "parley/1 chat") sent and stored. */
async function versionOneMessage(room: string) {
  const pair = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])
  const key = base64url(new Uint8Array(await subtle.exportKey('raw', pair.publicKey)))
  const m = message()
  const text = JSON.stringify(['parley/1 chat', room, m.id, m.from, m.name, m.text, m.time, m.lamport, null])
  m.sig = base64url(new Uint8Array(await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, pair.privateKey, utf8.encode(text))))
  return { message: m, key }
}

afterEach(() => vi.restoreAllMocks())

describe('identity (Ed25519)', () => {
  it('has a 32-byte public key and makes 64-byte signatures, the same each time for the same message', async () => {
    const ana = await createIdentity('room')
    expect(fromBase64url(ana.key)!.length).toBe(32)
    const m = await signed(ana)
    expect(fromBase64url(m.sig!)!.length).toBe(64)
    expect(await ana.sign(m)).toBe(m.sig)
    expect(await ana.verify(m, ana.key)).toBe(true)
  })

  it('refuses a forged signature: one bit changed, another message’s, empty, missing, malformed or truncated', async () => {
    const ana = await createIdentity('room')
    const m = await signed(ana)
    const bytes = fromBase64url(m.sig!)!
    bytes[10]! ^= 1
    expect(await ana.verify({ ...m, sig: base64url(bytes) }, ana.key)).toBe(false)
    const other = await signed(ana, { text: 'something else' })
    expect(await ana.verify({ ...m, sig: other.sig! }, ana.key)).toBe(false)
    expect(await ana.verify({ ...m, sig: '' }, ana.key)).toBe(false)
    const { sig: _sig, ...unsigned } = m
    expect(await ana.verify(unsigned, ana.key)).toBe(false)
    expect(await ana.verify({ ...m, sig: '!!not base64url!!' }, ana.key)).toBe(false)
    expect(await ana.verify({ ...m, sig: m.sig!.slice(0, 43) }, ana.key)).toBe(false)
  })

  it('refuses a signature checked against the wrong key, and a key that is not an Ed25519 key', async () => {
    const ana = await createIdentity('room')
    const ben = await createIdentity('room')
    const m = await signed(ana)
    expect(await ana.verify(m, ben.key)).toBe(false)
    expect(await ben.verify(m, ben.key)).toBe(false)
    const mallory = await signed(ben)
    expect(await ana.verify(mallory, ana.key)).toBe(false)
    expect(await ana.verify(m, 'A'.repeat(43))).toBe(false)
    expect(await ana.verify(m, ana.key.slice(0, 42))).toBe(false)
    expect(await ana.verify(m, `${ana.key}AAAA`)).toBe(false)
  })

  it('refuses the right key or signature spelled another way (the last character’s unused bits set), which a log would take for another key', async () => {
    const ana = await createIdentity('room')
    const m = await signed(ana)
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const respelled = (text: string) => text.slice(0, -1) + alphabet[alphabet.indexOf(text.at(-1)!) + 1]
    expect(await ana.verify(m, ana.key)).toBe(true)
    expect(await ana.verify(m, respelled(ana.key))).toBe(false)
    expect(await ana.verify({ ...m, sig: respelled(m.sig!) }, ana.key)).toBe(false)
  })

  it('refuses what a version 1 client signed (ECDSA P-256, "parley/1"): live, and from this browser’s store', async () => {
    const room = randomRoom()
    const ana = await createIdentity(room)
    const old = await versionOneMessage(room)
    expect(await ana.verify(old.message, old.key)).toBe(false)
    const log = createRoomLog(ana)
    expect(await log.merge([old], true)).toEqual({ added: [], refused: 1 })
    expect(await log.merge([old], false)).toEqual({ added: [], refused: 1 })
    expect(log.entries()).toEqual([])
  })

  it('does not wait for ever on a key store that never answers: after a few seconds, a new key for this visit', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] })
    try {
      const never = new Promise<never>(() => {})
      const identity = keptIdentity(randomRoom(), { load: () => never, save: () => never })
      await vi.advanceTimersByTimeAsync(3_000)
      expect((await identity).key).toMatch(/^[A-Za-z0-9_-]{43}$/)
    } finally {
      vi.useRealTimers()
    }
  })

  it('uses the pair a store kept meanwhile (another tab made it first), not the one it made', async () => {
    const other = await crypto.subtle.generateKey('Ed25519', false, ['sign', 'verify'])
    const kept = await createIdentity('r', other)
    const identity = await keptIdentity('r', { load: async () => undefined, save: async () => other })
    expect(identity.key).toBe(kept.key)
  })

  it('fails with UNSUPPORTED_BROWSER where WebCrypto has no Ed25519', async () => {
    vi.spyOn(subtle, 'generateKey').mockRejectedValue(new DOMException('Unrecognized name.', 'NotSupportedError'))
    await expect(createIdentity('room')).rejects.toMatchObject({ code: 'UNSUPPORTED_BROWSER' })
  })

  it('makes the room close with that error, not hang, when joining there', async () => {
    vi.spyOn(subtle, 'generateKey').mockRejectedValue(new DOMException('Unrecognized name.', 'NotSupportedError'))
    const signaling = createFakeSignaling()
    const room = joinRoom({
      secret: TEST_ROOM_SECRET,
      sealer: clearSealer(),
      room: randomRoom(),
      name: 'Mo',
      signaling,
      createPeer: createFakeNetwork().createPeer(() => 'm'),
    })
    const error = await new Promise<SignalingError>((resolve) => room.on('failed', (err) => resolve(err as SignalingError)))
    expect(error.code).toBe('UNSUPPORTED_BROWSER')
    expect(room.status).toBe('closed')
    // The join does not wait for the key (room.ts): one already in flight seats nobody once answered.
    for (const join of signaling.joins) join.resolve('m1')
    expect(signaling.joins.length).toBeLessThanOrEqual(1)
    await vi.waitFor(() => expect(signaling.leaves).toEqual(signaling.joins.map(() => 'm1')))
  })

  it('closes the room with that error when the key fails after its join was answered, having connected nobody', async () => {
    vi.spyOn(subtle, 'generateKey').mockRejectedValue(new DOMException('Unrecognized name.', 'NotSupportedError'))
    // The key store answers only after the join did; the new key it then makes fails.
    const { room, signaling, network, keyLoaded } = joinWithSlowKey()
    await vi.waitFor(() => expect(signaling.joins).toHaveLength(1))
    signaling.joins[0]!.resolve('m1', [{ id: 'z' }])
    expect(room.status).toBe('online')
    const failed = new Promise<SignalingError>((resolve) => room.on('failed', (err) => resolve(err as SignalingError)))
    keyLoaded()
    expect((await failed).code).toBe('UNSUPPORTED_BROWSER')
    expect(room.status).toBe('closed')
    expect(signaling.leaves).toEqual(['m1'])
    expect(network.peers).toEqual([])
  })
})
