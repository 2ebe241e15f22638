import { createHmac } from 'node:crypto'
import type { IceServer } from './protocol'

export interface TurnOptions {
  /** turn: / turns: URLs of a TURN server configured with use-auth-secret (coturn). */
  urls: string[]
  /** coturn's static-auth-secret. Never sent to a browser. */
  secret: string
  ttlS: number
}

/**
 * Time-limited TURN credentials in the TURN REST scheme coturn implements: the username is
 * "<expiry unix seconds>:<peer id>", the password base64(HMAC-SHA1(secret, username)). A browser only
 * ever holds a password that expires and names its peer.
 */
export function createTurnCredentials({ urls, secret, ttlS }: TurnOptions) {
  return (peer: string, now = Date.now()): IceServer => {
    const username = `${Math.floor(now / 1000) + ttlS}:${peer}`
    const credential = createHmac('sha1', secret).update(username).digest('base64')
    return { urls, username, credential }
  }
}
