import { HttpError } from './errors'
import { NO_HEADERS } from './http'

// How long a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE_S = 600

/**
 * CORS for the API, closed by default. Only origins on the allow-list (or any, with "*") get CORS
 * headers; a preflight from any other origin is refused. join and signal need application/json, so a
 * page elsewhere cannot make a visitor's browser call them without passing the preflight.
 */
export function createCors(allowed: string[]) {
  const any = allowed.includes('*')
  const list = new Set(allowed)
  const VARY = { Vary: 'Origin' }
  return {
    /** The CORS headers of an actual (not preflight) answer to `origin`: none when it is not allowed. */
    headers(origin: string | undefined): Readonly<Record<string, string>> {
      if (origin === undefined) return NO_HEADERS
      if (!any && !list.has(origin)) return VARY
      return { 'Access-Control-Allow-Origin': any ? '*' : origin, 'Access-Control-Expose-Headers': 'Retry-After', Vary: 'Origin' }
    },
    /** The headers of a preflight's answer; throws FORBIDDEN_ORIGIN for an origin not allowed. */
    preflight(origin: string): Record<string, string> {
      if (!any && !list.has(origin)) throw new HttpError(403, 'FORBIDDEN_ORIGIN', `origin ${origin} may not use this server`)
      return {
        'Access-Control-Allow-Origin': any ? '*' : origin,
        'Access-Control-Expose-Headers': 'Retry-After',
        Vary: 'Origin',
        'Access-Control-Allow-Methods': 'GET, POST',
        'Access-Control-Allow-Headers': 'Content-Type, Authorization, Last-Event-ID',
        'Access-Control-Max-Age': String(PREFLIGHT_MAX_AGE_S),
      }
    },
  }
}

export type Cors = ReturnType<typeof createCors>
