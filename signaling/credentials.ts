import { createHmac, timingSafeEqual } from 'node:crypto'
import { nanoid } from 'nanoid'

// Credentials are HMACs of ids under the server secret, so any process holding the secret (a restarted
// one, or another instance behind the load balancer) verifies them without shared state.
const MAC_CHARS = 22 // 132 bits of HMAC-SHA256, base64url
const PEER_NONCE_CHARS = 10
const PEER_MAC_CHARS = 11 // peer id = nonce + MAC: 21 chars, same length as a nanoid
const VERIFIED_CACHE = 50_000

export interface Credentials {
  newSession(): string
  /** `<session>.<mac>`: authorizes POSTs as any peer of the session. */
  token(session: string): string
  /** `<session>.<mac>`: opens the session's stream, nothing else. */
  streamKey(session: string): string
  verifyToken(token: string): string | null
  verifyStreamKey(key: string): string | null
  /** A peer id that proves, to the server alone, which session and room it was issued to. */
  newPeer(session: string, room: string): string
  ownsPeer(session: string, room: string, peer: string): boolean
}

export function createCredentials(secret: string): Credentials {
  const mac = (purpose: string, value: string, chars = MAC_CHARS) =>
    createHmac('sha256', secret).update(purpose).update('\0').update(value).digest('base64url').slice(0, chars)

  const sign = (purpose: string, session: string) => `${session}.${mac(purpose, session)}`

  // Every signal carries the token: remember the ones that checked out (a bounded, insertion-ordered set).
  const verified = new Map<string, string>()
  const remember = (credential: string, session: string) => {
    verified.set(credential, session)
    if (verified.size > VERIFIED_CACHE) verified.delete(verified.keys().next().value!)
    return session
  }

  const verify = (purpose: string, credential: string): string | null => {
    const known = verified.get(`${purpose} ${credential}`)
    if (known !== undefined) return known
    const dot = credential.indexOf('.')
    if (dot <= 0 || credential.length > 128) return null
    const session = credential.slice(0, dot)
    const given = Buffer.from(credential.slice(dot + 1))
    const expected = Buffer.from(mac(purpose, session))
    return given.length === expected.length && timingSafeEqual(given, expected) ? remember(`${purpose} ${credential}`, session) : null
  }

  const peerMac = (session: string, room: string, nonce: string) =>
    mac('peer', `${session}\0${room}\0${nonce}`, PEER_MAC_CHARS)

  return {
    newSession: () => nanoid(),
    token: (session) => sign('token', session),
    streamKey: (session) => sign('stream', session),
    verifyToken: (token) => verify('token', token),
    verifyStreamKey: (key) => verify('stream', key),
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
