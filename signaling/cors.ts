import type { RequestHandler } from 'express'
import { HttpError } from './errors'

// How long a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE_S = 600

/**
 * CORS for the API, closed by default. Only origins on the allow-list (or any, with "*") get CORS
 * headers; a preflight from any other origin is refused. join and signal need application/json, so a
 * page elsewhere cannot make a visitor's browser call them without passing the preflight.
 */
export function cors(allowed: string[]): RequestHandler {
  const any = allowed.includes('*')
  const list = new Set(allowed)
  return (req, res, next) => {
    const origin = req.get('origin')
    if (origin === undefined) return next()
    const ok = any || list.has(origin)
    if (ok) {
      res.setHeader('Access-Control-Allow-Origin', any ? '*' : origin)
      res.setHeader('Access-Control-Expose-Headers', 'Retry-After')
    }
    res.append('Vary', 'Origin')
    if (req.method !== 'OPTIONS') return next()
    if (!ok) return next(new HttpError(403, 'FORBIDDEN_ORIGIN', `origin ${origin} may not use this server`))
    res.setHeader('Access-Control-Allow-Methods', 'GET, POST')
    res.setHeader('Access-Control-Allow-Headers', 'Content-Type, Authorization, Last-Event-ID')
    res.setHeader('Access-Control-Max-Age', String(PREFLIGHT_MAX_AGE_S))
    res.status(204).end()
  }
}

/** The CORS headers of an actual (not preflight) response to `origin`: none when it is not allowed. */
export function corsHeaders(allowed: string[]) {
  const any = allowed.includes('*')
  const list = new Set(allowed)
  return (origin: string | undefined): Record<string, string> => {
    if (origin === undefined) return {}
    if (!any && !list.has(origin)) return { Vary: 'Origin' }
    return { 'Access-Control-Allow-Origin': any ? '*' : origin, 'Access-Control-Expose-Headers': 'Retry-After', Vary: 'Origin' }
  }
}
