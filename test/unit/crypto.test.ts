import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  base64url,
  deriveRoomKey,
  deriveVerifier,
  fromBase64url,
  isRoomSecret,
  metaContext,
  newRoomSecret,
  open,
  sdpFingerprint,
  seal,
  signalContext,
  verificationCode,
} from '../../client/lib/crypto'
import type { SignalEnvelope } from '../../client/lib/peer-protocol'
import { createSealer } from '../../client/lib/sealer'
import { randomRoom } from '../helpers'

const SECRET = newRoomSecret()
const OTHER_SECRET = newRoomSecret()
// Peer ids as the server issues them: 21 URL-safe characters.
const ALICE = 'aliceAliceAliceAlice1'
const BOB = 'bobBobBobBobBobBobBo2'
const CAROL = 'carolCarolCarolCarol3'
const IV_BYTES = 12
const GCM_TAG_BYTES = 16

const FINGERPRINT = 'AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89'
const offerSdp = (fingerprint = FINGERPRINT) =>
  ['v=0', 'o=- 4611731400430051336 2 IN IP4 127.0.0.1', 's=-', 't=0 0', `a=fingerprint:sha-256 ${fingerprint}`, 'a=setup:actpass', ''].join(
    '\r\n',
  )
const offer = (attempt = 1, fingerprint?: string): SignalEnvelope => ({ attempt, signal: { type: 'offer', sdp: offerSdp(fingerprint) } })
const candidate = (attempt = 1): SignalEnvelope => ({
  attempt,
  signal: { candidate: { candidate: 'candidate:1 1 udp 1 192.0.2.1 5000 typ host' } },
})

const fingerprintOf = (bytes: Uint8Array) => `sha-256 ${[...bytes].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':')}`

/** `bytes` with one bit flipped. */
function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const copy = bytes.slice()
  copy[bit >> 3]! ^= 1 << (bit & 7)
  return copy
}

describe('room secrets and base64url', () => {
  it('makes 22-character URL-safe secrets of 128 random bits, a fresh one each time', () => {
    const secrets = Array.from({ length: 1_000 }, () => newRoomSecret())
    for (const secret of secrets) {
      expect(secret).toMatch(/^[A-Za-z0-9_-]{22}$/)
      expect(fromBase64url(secret)).toHaveLength(16)
      expect(isRoomSecret(secret)).toBe(true)
    }
    expect(new Set(secrets).size).toBe(secrets.length)
  })

  it('accepts 22 to 128 base64url characters as a room secret, and nothing else', () => {
    expect(isRoomSecret('a'.repeat(22))).toBe(true)
    expect(isRoomSecret('A-_9'.repeat(32))).toBe(true)
    expect(isRoomSecret('a'.repeat(21))).toBe(false)
    expect(isRoomSecret('a'.repeat(129))).toBe(false)
    expect(isRoomSecret('')).toBe(false)
    for (const bad of ['+', '/', '=', ' ', '.', '#', 'é', '\n']) expect(isRoomSecret(`${'a'.repeat(22)}${bad}`), bad).toBe(false)
  })

  it('round-trips any bytes through base64url without padding or +/', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const encoded = base64url(bytes)
        expect(encoded).toMatch(/^[A-Za-z0-9_-]*$/)
        expect(encoded).toHaveLength(Math.ceil((bytes.length * 4) / 3))
        expect(fromBase64url(encoded)).toEqual(bytes)
      }),
    )
  })

  it('encodes the bytes that base64 would write as + and / with - and _', () => {
    expect(base64url(new Uint8Array([0xfb, 0xff, 0xbf]))).toBe('-_-_')
    expect(fromBase64url('-_-_')).toEqual(new Uint8Array([0xfb, 0xff, 0xbf]))
  })

  it('takes only the one spelling base64url gives: unused bits of the last character must be zero', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 100 }).filter((b) => b.length % 3 !== 0),
        fc.integer({ min: 1, max: 3 }),
        (bytes, bits) => {
          const encoded = base64url(bytes)
          const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
          const last = alphabet.indexOf(encoded.at(-1)!)
          // One byte over a multiple of three leaves 4 unused bits, two leave 2.
          const unused = bytes.length % 3 === 1 ? 15 : 3
          const other = alphabet[last | (bits & unused)]!
          fc.pre(other !== encoded.at(-1))
          expect(fromBase64url(encoded.slice(0, -1) + other)).toBeNull()
        },
      ),
    )
  })

  it('refuses text that is not base64url without throwing', () => {
    for (const bad of ['+/+/', 'ab==', 'a b', 'abc\n', 'é', 'a', 'abcde']) expect(fromBase64url(bad), bad).toBeNull()
    expect(fromBase64url('')).toEqual(new Uint8Array(0))
  })
})

describe('deriveRoomKey, seal and open', () => {
  const context = signalContext('room-a', ALICE, BOB)

  it('derives the same key for the same secret and room, in separate calls', async () => {
    const sealed = await seal(await deriveRoomKey(SECRET, 'room-a'), context, { hello: 'world' })
    expect(await open(await deriveRoomKey(SECRET, 'room-a'), context, sealed)).toEqual({ hello: 'world' })
  })

  it('derives different keys for other rooms and other secrets', async () => {
    const sealed = await seal(await deriveRoomKey(SECRET, 'room-a'), context, 'x')
    expect(await open(await deriveRoomKey(SECRET, 'room-b'), context, sealed)).toBeNull()
    expect(await open(await deriveRoomKey(OTHER_SECRET, 'room-a'), context, sealed)).toBeNull()
    // A room name that only extends the other must not share its key.
    expect(await open(await deriveRoomKey(SECRET, 'room-a-'), context, sealed)).toBeNull()
  })

  it('round-trips JSON values', async () => {
    const key = await deriveRoomKey(SECRET, randomRoom())
    const values: unknown[] = [
      0,
      -1.5,
      true,
      false,
      '',
      'plain',
      'ünïcödé ✓ 😀 \u2028 "quoted" \\ \n',
      [],
      [1, 'two', { three: [3] }],
      {},
      { type: 'offer', sdp: offerSdp(), nested: { deep: [null, { x: 'y' }] } },
    ]
    for (const value of values) expect(await open(key, context, await seal(key, context, value))).toEqual(value)
    const long = 'x'.repeat(100_000)
    expect(await open(key, context, await seal(key, context, long))).toBe(long)
  })

  it('round-trips any JSON value (property)', async () => {
    const key = await deriveRoomKey(SECRET, randomRoom())
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (value) => {
        // JSON itself turns -0 into 0.
        expect(await open(key, context, await seal(key, context, value))).toEqual(JSON.parse(JSON.stringify(value)))
      }),
      { numRuns: 200 },
    )
  })

  it('uses a fresh IV each time: sealing the same value twice gives different strings that both open', async () => {
    const key = await deriveRoomKey(SECRET, randomRoom())
    const sealed = await Promise.all(Array.from({ length: 100 }, () => seal(key, context, { same: 'value' })))
    expect(new Set(sealed).size).toBe(sealed.length)
    const ivs = sealed.map((s) => base64url(fromBase64url(s)!.subarray(0, IV_BYTES)))
    expect(new Set(ivs).size).toBe(ivs.length)
    for (const s of sealed) expect(await open(key, context, s)).toEqual({ same: 'value' })
  })

  it('writes IV, ciphertext and tag: 28 bytes more than the JSON', async () => {
    const key = await deriveRoomKey(SECRET, randomRoom())
    const value = { n: 1 }
    const bytes = fromBase64url(await seal(key, context, value))!
    expect(bytes).toHaveLength(IV_BYTES + JSON.stringify(value).length + GCM_TAG_BYTES)
  })

  it('opens to null when any single bit is flipped', async () => {
    const key = await deriveRoomKey(SECRET, randomRoom())
    const bytes = fromBase64url(await seal(key, context, { type: 'answer' }))!
    for (let bit = 0; bit < bytes.length * 8; bit++) {
      expect(await open(key, context, base64url(flipBit(bytes, bit))), `bit ${bit}`).toBeNull()
    }
  })

  it('opens to null when truncated or extended', async () => {
    const key = await deriveRoomKey(SECRET, randomRoom())
    const bytes = fromBase64url(await seal(key, context, { type: 'answer' }))!
    for (let length = 0; length < bytes.length; length++) {
      expect(await open(key, context, base64url(bytes.subarray(0, length))), `${length} bytes`).toBeNull()
    }
    const extended = new Uint8Array(bytes.length + 1)
    extended.set(bytes)
    expect(await open(key, context, base64url(extended))).toBeNull()
  })

  it('opens to null for anything that is not a base64url string, without throwing', async () => {
    const key = await deriveRoomKey(SECRET, randomRoom())
    const sealed = await seal(key, context, 'x')
    for (const bad of [`${sealed}=`, `${sealed} `, `${sealed.replace(/[-_]/g, '+')}+`, '!!!', '', undefined, null, 42, {}, [sealed]]) {
      expect(await open(key, context, bad), String(bad)).toBeNull()
    }
  })

  it('opens only in the context it was sealed for: room, sender and recipient', async () => {
    const key = await deriveRoomKey(SECRET, 'room-a')
    const sealed = await seal(key, signalContext('room-a', ALICE, BOB), 'offer')
    expect(await open(key, signalContext('room-a', ALICE, BOB), sealed)).toBe('offer')
    expect(await open(key, signalContext('room-a', BOB, ALICE), sealed)).toBeNull()
    expect(await open(key, signalContext('room-b', ALICE, BOB), sealed)).toBeNull()
    expect(await open(key, signalContext('room-a', ALICE, CAROL), sealed)).toBeNull()
    expect(await open(key, signalContext('room-a', CAROL, BOB), sealed)).toBeNull()
    expect(await open(key, metaContext('room-a'), sealed)).toBeNull()
    expect(await open(key, signalContext('room-a', ALICE, BOB), await seal(key, metaContext('room-a'), 'offer'))).toBeNull()
  })

  it('opens to null under the wrong key', async () => {
    const sealed = await seal(await deriveRoomKey(SECRET, 'room-a'), context, 'x')
    const wrong = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
    expect(await open(wrong, context, sealed)).toBeNull()
  })
})

describe('createSealer', () => {
  it('carries signals between two sealers of the same secret and room', async () => {
    const room = randomRoom()
    const alice = createSealer(SECRET, room)
    const bob = createSealer(SECRET, room)
    const sealed = await alice.sealSignal(ALICE, BOB, offer())
    expect(typeof sealed).toBe('string')
    expect(sealed).not.toContain('offer')
    expect(await bob.openSignal(BOB, ALICE, sealed)).toEqual({ ok: true, envelope: offer(), fingerprint: `sha-256 ${FINGERPRINT}` })
    const restart: SignalEnvelope = { attempt: 2, restart: true }
    expect(await alice.openSignal(ALICE, BOB, await bob.sealSignal(BOB, ALICE, restart))).toEqual({
      ok: true,
      envelope: restart,
      fingerprint: null,
    })
    const refused: SignalEnvelope = { attempt: 2, refused: true }
    expect(await alice.openSignal(ALICE, BOB, await bob.sealSignal(BOB, ALICE, refused))).toEqual({
      ok: true,
      envelope: refused,
      fingerprint: null,
    })
    expect(await bob.openSignal(BOB, ALICE, await alice.sealSignal(ALICE, BOB, candidate()))).toEqual({
      ok: true,
      envelope: candidate(),
      fingerprint: null,
    })
  })

  it('refuses a signal delivered twice as replayed', async () => {
    const room = randomRoom()
    const alice = createSealer(SECRET, room)
    const bob = createSealer(SECRET, room)
    const sealed = await alice.sealSignal(ALICE, BOB, offer())
    expect(await bob.openSignal(BOB, ALICE, sealed)).toMatchObject({ ok: true })
    expect(await bob.openSignal(BOB, ALICE, sealed)).toEqual({ ok: false, reason: 'replayed' })
    // The next fresh signal still opens: the replay did not disturb the counter.
    expect(await bob.openSignal(BOB, ALICE, await alice.sealSignal(ALICE, BOB, candidate()))).toMatchObject({ ok: true })
    expect(await bob.openSignal(BOB, ALICE, sealed)).toEqual({ ok: false, reason: 'replayed' })
  })

  it('refuses an older signal after a newer one (the counter must grow), but accepts gaps', async () => {
    const room = randomRoom()
    const alice = createSealer(SECRET, room)
    const bob = createSealer(SECRET, room)
    const [first, second, third] = [
      await alice.sealSignal(ALICE, BOB, candidate(1)),
      await alice.sealSignal(ALICE, BOB, candidate(2)),
      await alice.sealSignal(ALICE, BOB, candidate(3)),
    ]
    expect(await bob.openSignal(BOB, ALICE, second)).toMatchObject({ ok: true, envelope: candidate(2) })
    expect(await bob.openSignal(BOB, ALICE, first)).toEqual({ ok: false, reason: 'replayed' })
    expect(await bob.openSignal(BOB, ALICE, third)).toMatchObject({ ok: true, envelope: candidate(3) })
  })

  it('refuses a signal sealed for another pair, another room or with another secret as forged', async () => {
    const room = randomRoom()
    const alice = createSealer(SECRET, room)
    const receiver = () => createSealer(SECRET, room)
    const toBob = await alice.sealSignal(ALICE, BOB, offer())
    // Redirected by the server to someone else, or presented as someone else's.
    expect(await receiver().openSignal(CAROL, ALICE, toBob)).toEqual({ ok: false, reason: 'forged' })
    expect(await receiver().openSignal(BOB, CAROL, toBob)).toEqual({ ok: false, reason: 'forged' })
    expect(await receiver().openSignal(ALICE, BOB, toBob)).toEqual({ ok: false, reason: 'forged' })
    // Moved to another room, or made by someone with another link.
    expect(await createSealer(SECRET, randomRoom()).openSignal(BOB, ALICE, toBob)).toEqual({ ok: false, reason: 'forged' })
    const stranger = await createSealer(OTHER_SECRET, room).sealSignal(ALICE, BOB, offer())
    expect(await receiver().openSignal(BOB, ALICE, stranger)).toEqual({ ok: false, reason: 'forged' })
    // Metadata is not a signal, and garbage is not either.
    expect(await receiver().openSignal(BOB, ALICE, await alice.sealMeta('Alice'))).toEqual({ ok: false, reason: 'forged' })
    for (const garbage of ['', 'AAAA', { envelope: offer() }, null, undefined, 7]) {
      expect(await receiver().openSignal(BOB, ALICE, garbage)).toEqual({ ok: false, reason: 'forged' })
    }
    // The genuine recipient still opens it after all those attempts.
    expect(await receiver().openSignal(BOB, ALICE, toBob)).toMatchObject({ ok: true })
  })

  it('refuses correctly sealed values that are not a counted envelope as forged', async () => {
    const room = randomRoom()
    const key = await deriveRoomKey(SECRET, room)
    const bob = createSealer(SECRET, room)
    const context = signalContext(room, ALICE, BOB)
    const bodies = [
      { n: 1 },
      { envelope: offer() },
      { n: 1, envelope: { signal: {} } },
      { n: 1, envelope: { attempt: 1 } },
      { n: '1', envelope: offer() },
      { n: 1.5, envelope: offer() },
      { n: 2 ** 60, envelope: offer() },
      'offer',
      null,
    ]
    for (const body of bodies) {
      expect(await bob.openSignal(BOB, ALICE, await seal(key, context, body)), JSON.stringify(body)).toEqual({
        ok: false,
        reason: 'forged',
      })
    }
    expect(await bob.openSignal(BOB, ALICE, await seal(key, context, { n: 1, envelope: offer() }))).toMatchObject({ ok: true })
  })

  it('keeps independent counters per pair and per direction', async () => {
    const room = randomRoom()
    const [alice, bob, carol] = [createSealer(SECRET, room), createSealer(SECRET, room), createSealer(SECRET, room)]
    // Alice has sent Bob several signals; her first to Carol must still open.
    for (let i = 0; i < 5; i++)
      expect(await bob.openSignal(BOB, ALICE, await alice.sealSignal(ALICE, BOB, candidate(i)))).toMatchObject({ ok: true })
    expect(await carol.openSignal(CAROL, ALICE, await alice.sealSignal(ALICE, CAROL, offer()))).toMatchObject({ ok: true })
    // Bob heard five from Alice; his first to her, and Carol's first to him, are fresh too.
    expect(await alice.openSignal(ALICE, BOB, await bob.sealSignal(BOB, ALICE, offer()))).toMatchObject({ ok: true })
    expect(await bob.openSignal(BOB, CAROL, await carol.sealSignal(CAROL, BOB, offer()))).toMatchObject({ ok: true })
    // Carol's counter to Alice does not move Bob's replay window for Alice.
    expect(await bob.openSignal(BOB, ALICE, await alice.sealSignal(ALICE, BOB, candidate(6)))).toMatchObject({ ok: true })
  })

  // room.ts keeps one sealer per room across re-entries, and re-enters under a new peer id after its
  // membership is lost: the others' counters to the new id start over and must not look replayed.
  it('opens a fresh pair as fresh after the same sealer heard the sender under another own id', async () => {
    const room = randomRoom()
    const remote = createSealer(SECRET, room)
    const mine = createSealer(SECRET, room)
    const OLD_SELF = ALICE
    const NEW_SELF = CAROL
    const old = [1, 2, 3].map((i) => remote.sealSignal(BOB, OLD_SELF, candidate(i)))
    for (const sealed of old) expect(await mine.openSignal(OLD_SELF, BOB, await sealed)).toMatchObject({ ok: true })
    expect(await mine.openSignal(NEW_SELF, BOB, await remote.sealSignal(BOB, NEW_SELF, offer()))).toMatchObject({ ok: true })
    // The old pair's window is untouched: its signals still cannot be replayed.
    expect(await mine.openSignal(OLD_SELF, BOB, await old[2]!)).toEqual({ ok: false, reason: 'replayed' })
  })

  it('round-trips a name through sealMeta and openMeta', async () => {
    const room = randomRoom()
    const alice = createSealer(SECRET, room)
    const bob = createSealer(SECRET, room)
    for (const name of ['Alice', '', 'Zoë 😀', 'x'.repeat(40)]) expect(await bob.openMeta(await alice.sealMeta(name))).toBe(name)
    const first = await alice.sealMeta('Alice')
    expect(await alice.sealMeta('Alice')).not.toBe(first)
  })

  it('opens metadata of another room, another secret, or garbage to null', async () => {
    const room = randomRoom()
    const bob = createSealer(SECRET, room)
    expect(await bob.openMeta(await createSealer(SECRET, randomRoom()).sealMeta('Mallory'))).toBeNull()
    expect(await bob.openMeta(await createSealer(OTHER_SECRET, room).sealMeta('Mallory'))).toBeNull()
    expect(await bob.openMeta(await createSealer(SECRET, room).sealSignal(ALICE, BOB, offer()))).toBeNull()
    const key = await deriveRoomKey(SECRET, room)
    expect(await bob.openMeta(await seal(key, metaContext(room), { name: 42 }))).toBeNull()
    expect(await bob.openMeta(await seal(key, metaContext(room), 'Alice'))).toBeNull()
    for (const garbage of [undefined, '', 'Alice', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'])
      expect(await bob.openMeta(garbage)).toBeNull()
  })
})

describe('sdpFingerprint', () => {
  it('reads the algorithm and fingerprint of an SDP, normalised', () => {
    expect(sdpFingerprint(offerSdp())).toBe(`sha-256 ${FINGERPRINT}`)
    expect(sdpFingerprint(offerSdp(FINGERPRINT.toLowerCase()))).toBe(`sha-256 ${FINGERPRINT}`)
    expect(sdpFingerprint(offerSdp().replace(/\r\n/g, '\n'))).toBe(`sha-256 ${FINGERPRINT}`)
    expect(sdpFingerprint('a=fingerprint:SHA-256 AB:CD')).toBe('sha-256 AB:CD')
    expect(sdpFingerprint('v=0\r\na=fingerprint:sha-1 01:02:03\r\na=fingerprint:sha-256 AB:CD\r\n')).toBe('sha-1 01:02:03')
  })

  it('answers null without a fingerprint line or for anything that is not a string', () => {
    for (const sdp of [
      '',
      'v=0\r\na=setup:actpass\r\n',
      'x a=fingerprint:sha-256 AB:CD',
      'a=fingerprint:sha-256 not-hex',
      'a=fingerprint:sha-256',
      undefined,
      null,
      42,
      { sdp: offerSdp() },
    ]) {
      expect(sdpFingerprint(sdp), String(sdp)).toBeNull()
    }
  })
})

describe('verificationCode', () => {
  const mine = `sha-256 ${FINGERPRINT}`
  const theirs = `sha-256 ${FINGERPRINT.replace(/^AB/, '12')}`

  it('gives both ends the same six digits, written "123 456"', async () => {
    const code = await verificationCode(mine, theirs)
    expect(code).toMatch(/^\d{3} \d{3}$/)
    expect(await verificationCode(theirs, mine)).toBe(code)
    expect(await verificationCode(mine, theirs)).toBe(code)
  })

  it('differs when either fingerprint differs', async () => {
    const code = await verificationCode(mine, theirs)
    const other = `sha-256 ${FINGERPRINT.replace(/89$/, '8A')}`
    expect(await verificationCode(mine, other)).not.toBe(code)
    expect(await verificationCode(other, theirs)).not.toBe(code)
  })

  it('is symmetric and well-formed for any pair of fingerprints (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), async (x, y) => {
        const [a, b] = [fingerprintOf(x), fingerprintOf(y)]
        const code = await verificationCode(a, b)
        expect(code).toMatch(/^\d{3} \d{3}$/)
        expect(await verificationCode(b, a)).toBe(code)
      }),
      { numRuns: 200 },
    )
  })

  it('spreads over the code space: 200 different peers get (nearly) 200 different codes with one person', async () => {
    const codes = new Set<string>()
    for (let i = 0; i < 200; i++) codes.add(await verificationCode(mine, fingerprintOf(new Uint8Array(32).fill(i))))
    // Six digits: a birthday collision among 200 is unlikely (~2%), two are rarer still.
    expect(codes.size).toBeGreaterThanOrEqual(198)
  })
})

describe('the admission verifier', () => {
  const hkdf = async (secret: string, info: string) => {
    const utf8 = new TextEncoder()
    const ikm = await crypto.subtle.importKey('raw', utf8.encode(secret), 'HKDF', false, ['deriveBits'])
    const params = { name: 'HKDF', hash: 'SHA-256', salt: utf8.encode('parley/1'), info: utf8.encode(info) }
    return base64url(new Uint8Array(await crypto.subtle.deriveBits(params, ikm, 256)))
  }

  it('is HKDF of the secret with info "admit <room>": 43 base64url characters, one per room and secret', async () => {
    const secret = newRoomSecret()
    const verifier = await deriveVerifier(secret, 'team')
    expect(verifier).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(verifier).toBe(await hkdf(secret, 'admit team'))
    expect(await deriveVerifier(secret, 'team')).toBe(verifier)
    expect(await deriveVerifier(secret, 'other')).not.toBe(verifier)
    expect(await deriveVerifier(newRoomSecret(), 'team')).not.toBe(verifier)
  })

  it('is not the room key (whose HKDF info is "room <room>")', async () => {
    const secret = newRoomSecret()
    expect(await deriveVerifier(secret, 'team')).not.toBe(await hkdf(secret, 'room team'))
  })
})
