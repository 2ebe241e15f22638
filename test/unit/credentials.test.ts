import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createCredentials } from '../../signaling/credentials'
import { randomRoom, TEST_SECRET } from '../helpers'

const credentials = createCredentials(TEST_SECRET)
const other = createCredentials('another-secret-0123456789abcdef')
const URL_SAFE_21 = /^[A-Za-z0-9_-]{21}$/

/** `value` with the character at `index` (from the end when negative) replaced by another base64url one. */
function flipChar(value: string, index = -1): string {
  const at = index < 0 ? value.length + index : index
  const replacement = value[at] === 'A' ? 'B' : 'A'
  return value.slice(0, at) + replacement + value.slice(at + 1)
}

describe('tokens and stream keys', () => {
  it('issues URL-safe session ids and "<session>.<mac>" credentials that verify to the session', () => {
    const session = credentials.newSession()
    expect(session).toMatch(URL_SAFE_21)
    expect(credentials.newSession()).not.toBe(session)
    const token = credentials.token(session)
    const key = credentials.streamKey(session)
    expect(token).toMatch(new RegExp(`^${session}\\.[A-Za-z0-9_-]{22}$`))
    expect(key).toMatch(new RegExp(`^${session}\\.[A-Za-z0-9_-]{22}$`))
    expect(key).not.toBe(token)
    expect(credentials.verifyToken(token)).toBe(session)
    expect(credentials.verifyStreamKey(key)).toBe(session)
  })

  it('is deterministic under one secret, so a restarted server (or another instance) accepts old credentials', () => {
    const session = credentials.newSession()
    const restarted = createCredentials(TEST_SECRET)
    expect(restarted.token(session)).toBe(credentials.token(session))
    expect(restarted.verifyToken(credentials.token(session))).toBe(session)
    expect(restarted.verifyStreamKey(credentials.streamKey(session))).toBe(session)
  })

  it('does not accept a token as a stream key, nor a stream key as a token', () => {
    const session = credentials.newSession()
    expect(credentials.verifyStreamKey(credentials.token(session))).toBeNull()
    expect(credentials.verifyToken(credentials.streamKey(session))).toBeNull()
  })

  it('rejects credentials signed with another secret', () => {
    const session = credentials.newSession()
    expect(credentials.verifyToken(other.token(session))).toBeNull()
    expect(credentials.verifyStreamKey(other.streamKey(session))).toBeNull()
    expect(other.verifyToken(credentials.token(session))).toBeNull()
  })

  it('rejects a tampered MAC, a MAC moved to another session, and short or long MACs', () => {
    const session = credentials.newSession()
    const token = credentials.token(session)
    const mac = token.slice(session.length + 1)
    const otherSession = credentials.newSession()
    const cases = [
      [credentials.verifyToken, token],
      [credentials.verifyStreamKey, credentials.streamKey(session)],
    ] as const
    for (const [verify, good] of cases) {
      expect(verify(flipChar(good))).toBeNull() // last MAC character
      expect(verify(flipChar(good, session.length + 1))).toBeNull() // first MAC character
      expect(verify(good.slice(0, -1))).toBeNull()
      expect(verify(`${good}A`)).toBeNull()
      expect(verify(`${good}.`)).toBeNull()
      expect(verify(` ${good}`)).toBeNull()
    }
    expect(credentials.verifyToken(`${otherSession}.${mac}`)).toBeNull()
    expect(credentials.verifyToken(`${flipChar(session, 0)}.${mac}`)).toBeNull()
  })

  it('rejects garbage without throwing, including multi-byte MACs of the right byte length', () => {
    const session = credentials.newSession()
    const garbage = [
      '',
      '.',
      '..',
      'abc',
      '.abc',
      `.${credentials.token(session).split('.')[1]}`,
      'abc.',
      `${session}.`,
      `${session}.${'é'.repeat(11)}`, // 22 bytes in UTF-8, like a real MAC
      `${session}.${'\u0000'.repeat(22)}`,
      `${session}.${'😀'.repeat(11)}`,
      'x'.repeat(10_000),
      `${'x'.repeat(5_000)}.${'y'.repeat(22)}`,
    ]
    for (const value of garbage) {
      expect(credentials.verifyToken(value), value.slice(0, 40)).toBeNull()
      expect(credentials.verifyStreamKey(value), value.slice(0, 40)).toBeNull()
    }
  })

  it('refuses any credential longer than 128 characters, even a correctly signed one', () => {
    const longSession = 's'.repeat(110)
    const token = credentials.token(longSession)
    expect(token.length).toBeGreaterThan(128)
    expect(credentials.verifyToken(token)).toBeNull()
  })

  it('never verifies a random string (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (value) => {
        expect(credentials.verifyToken(value)).toBeNull()
        expect(credentials.verifyStreamKey(value)).toBeNull()
      }),
    )
  })
})

describe('expiry', () => {
  const TTL_S = 100
  const clock = { ms: 1_000_000 * TTL_S * 1000 } // the start of a period
  const timed = createCredentials(TEST_SECRET, TTL_S, () => clock.ms)

  it('keeps a credential valid for the TTL when issued at the start of a period, and not a millisecond more', () => {
    const start = clock.ms
    const session = timed.newSession()
    const [token, key] = [timed.token(session), timed.streamKey(session)]
    expect(timed.validForMs()).toBe(TTL_S * 1000)
    clock.ms = start + TTL_S * 1000 - 1
    expect(timed.verifyToken(token)).toBe(session)
    expect(timed.verifyStreamKey(key)).toBe(session)
    clock.ms = start + TTL_S * 1000
    expect(timed.verifyToken(token)).toBeNull()
    expect(timed.verifyStreamKey(key)).toBeNull()
    expect(timed.expired('token', token)).toBe(true)
    expect(timed.expired('stream', key)).toBe(true)
    expect(timed.expired('stream', token)).toBe(false)
    clock.ms = start
  })

  it('gives a credential issued mid-period at least half the TTL, and says how long', () => {
    const start = clock.ms
    clock.ms = start + (TTL_S * 1000) / 2 - 1
    const session = timed.newSession()
    const token = timed.token(session)
    expect(timed.validForMs()).toBe((TTL_S * 1000) / 2 + 1)
    clock.ms += timed.validForMs() - 1
    expect(timed.verifyToken(token)).toBe(session)
    clock.ms += 1
    expect(timed.verifyToken(token)).toBeNull()
    // Renewed: the new token is good for the TTL again.
    expect(timed.verifyToken(timed.token(session))).toBe(session)
    expect(timed.validForMs()).toBe(TTL_S * 1000)
    clock.ms = start
  })

  it('never calls a forged or foreign credential expired', () => {
    const session = timed.newSession()
    expect(timed.expired('token', flipChar(timed.token(session)))).toBe(false)
    expect(timed.expired('token', other.token(session))).toBe(false)
    expect(timed.expired('token', 'garbage')).toBe(false)
  })
})

describe('peer ids', () => {
  it('issues 21-character URL-safe peer ids, a fresh one each time', () => {
    const session = credentials.newSession()
    const room = randomRoom()
    const ids = new Set(Array.from({ length: 50 }, () => credentials.newPeer(session, room)))
    expect(ids.size).toBe(50)
    for (const id of ids) {
      expect(id).toMatch(URL_SAFE_21)
      expect(credentials.ownsPeer(session, room, id)).toBe(true)
    }
  })

  it('binds a peer id to its session AND its room', () => {
    const session = credentials.newSession()
    const room = randomRoom()
    const peer = credentials.newPeer(session, room)
    expect(credentials.ownsPeer(session, room, peer)).toBe(true)
    expect(credentials.ownsPeer(credentials.newSession(), room, peer)).toBe(false)
    expect(credentials.ownsPeer(session, randomRoom(), peer)).toBe(false)
    expect(credentials.ownsPeer(credentials.newSession(), randomRoom(), peer)).toBe(false)
    // Swapping session and room must not verify either (the fields are separated).
    expect(credentials.ownsPeer(room, session, peer)).toBe(false)
  })

  it('rejects tampered, short, long, foreign and garbage peer ids without throwing', () => {
    const session = credentials.newSession()
    const room = randomRoom()
    const peer = credentials.newPeer(session, room)
    const bad = [
      flipChar(peer), // MAC part
      flipChar(peer, 0), // nonce part
      peer.slice(0, -1),
      `${peer}A`,
      '',
      'x'.repeat(21),
      'é'.repeat(21),
      `${peer.slice(0, 10)}${'é'.repeat(11)}`,
      other.newPeer(session, room),
      credentials.token(session),
    ]
    for (const id of bad) expect(credentials.ownsPeer(session, room, id), id).toBe(false)
  })

  it('does not accept a peer id as a credential, or a credential as a peer id', () => {
    const session = credentials.newSession()
    const room = randomRoom()
    const peer = credentials.newPeer(session, room)
    expect(credentials.verifyToken(`${session}.${peer}`)).toBeNull()
    expect(credentials.ownsPeer(session, room, credentials.token(session).slice(-21))).toBe(false)
  })
})
