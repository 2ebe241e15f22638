import { createHmac, timingSafeEqual } from 'node:crypto'
import { nanoid } from 'nanoid'

// Credentials are HMACs of ids under the server secret, so any process holding the secret (a restarted
// one, or another instance behind the load balancer) verifies them without shared state.
//
// Tokens and stream keys expire without a visible timestamp: the MAC also covers the current period
// (half the TTL), and a credential verifies during its period and the next. So one issued now lasts
// between half the TTL and the whole of it, and the form stays `<session>.<mac>`.
const MAC_CHARS = 22 // 132 bits of HMAC-SHA256, base64url
const DEFAULT_TTL_S = 24 * 3600
// How many periods back an old credential is still told apart from a forged one (EXPIRED, not UNAUTHORIZED).
const EXPIRED_LOOKBACK = 64
const PEER_NONCE_CHARS = 10
const PEER_MAC_CHARS = 11 // peer id = nonce + MAC: 21 chars, same length as a nanoid
const VERIFIED_CACHE = 50_000

export interface Credentials {
  newSession(): string
  /** `<session>.<mac>`: authorizes POSTs as any peer of the session. */
  token(session: string): string
  /** `<session>.<mac>`: opens the session's stream, nothing else. */
  streamKey(session: string): string
  /** The session of a valid, unexpired credential; null for anything else. */
  verifyToken(token: string): string | null
  verifyStreamKey(key: string): string | null
  /** Whether a credential that does not verify was genuine once (so the client is told EXPIRED). */
  expired(kind: 'token' | 'stream', credential: string): boolean
  /** Milliseconds a credential issued now stays valid. */
  validForMs(): number
  /** A peer id that proves, to the server alone, which session and room it was issued to. */
  newPeer(session: string, room: string): string
  ownsPeer(session: string, room: string, peer: string): boolean
}

export function createCredentials(secret: string, ttlS = DEFAULT_TTL_S, now: () => number = Date.now): Credentials {
  const periodMs = (ttlS * 1000) / 2
  const period = () => Math.floor(now() / periodMs)
  const mac = (purpose: string, value: string, chars = MAC_CHARS) =>
    createHmac('sha256', secret).update(purpose).update('\0').update(value).digest('base64url').slice(0, chars)

  const sign = (purpose: string, session: string, at = period()) => `${session}.${mac(purpose, `${session}\0${at}`)}`

  // Every signal carries the token: remember the ones that checked out (a bounded, insertion-ordered
  // set, keyed by the token as it came). A stream key is checked once per stream, which stays open for
  // hours: caching it would only hold memory per open stream.
  const verifiedTokens = new Map<string, { session: string; period: number }>()
  const remember = (token: string, session: string, at: number) => {
    verifiedTokens.set(token, { session, period: at })
    if (verifiedTokens.size > VERIFIED_CACHE) verifiedTokens.delete(verifiedTokens.keys().next().value!)
    return session
  }

  /** The period a credential was signed in, among `periods`; null when none. */
  const signedIn = (purpose: string, credential: string, periods: number[]): number | null => {
    const dot = credential.indexOf('.')
    if (dot <= 0 || credential.length > 128) return null
    const session = credential.slice(0, dot)
    const given = Buffer.from(credential.slice(dot + 1))
    for (const at of periods) {
      const expected = Buffer.from(mac(purpose, `${session}\0${at}`))
      if (given.length === expected.length && timingSafeEqual(given, expected)) return at
    }
    return null
  }

  const verifyStreamKey = (key: string): string | null => {
    const current = period()
    return signedIn('stream', key, [current, current - 1]) === null ? null : key.slice(0, key.indexOf('.'))
  }

  const verifyToken = (token: string): string | null => {
    const current = period()
    const known = verifiedTokens.get(token)
    if (known !== undefined && known.period >= current - 1) return known.session
    if (known !== undefined) verifiedTokens.delete(token)
    const at = signedIn('token', token, [current, current - 1])
    return at === null ? null : remember(token, token.slice(0, token.indexOf('.')), at)
  }

  const expired = (purpose: string, credential: string): boolean => {
    const current = period()
    const older = Array.from({ length: EXPIRED_LOOKBACK }, (_, i) => current - 2 - i)
    return signedIn(purpose, credential, older) !== null
  }

  const peerMac = (session: string, room: string, nonce: string) => mac('peer', `${session}\0${room}\0${nonce}`, PEER_MAC_CHARS)

  return {
    newSession: () => nanoid(),
    token: (session) => sign('token', session),
    streamKey: (session) => sign('stream', session),
    verifyToken,
    verifyStreamKey,
    expired: (kind, credential) => expired(kind, credential),
    validForMs: () => (period() + 2) * periodMs - now(),
    newPeer(session, room) {
      const nonce = nanoid(PEER_NONCE_CHARS)
      return nonce + peerMac(session, room, nonce)
    },
    ownsPeer(session, room, peer) {
      if (peer.length !== PEER_NONCE_CHARS + PEER_MAC_CHARS) return false
      const given = Buffer.from(peer.slice(PEER_NONCE_CHARS))
      const expected = Buffer.from(peerMac(session, room, peer.slice(0, PEER_NONCE_CHARS)))
      return given.length === expected.length && timingSafeEqual(given, expected)
    },
  }
}
