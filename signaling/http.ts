import type { IncomingMessage, ServerResponse } from 'node:http'
import { HttpError } from './errors'
import type { ErrorBody } from './protocol'

/**
 * The page's Content-Security-Policy: scripts, styles and connections from this origin only (no inline
 * script), never framed, no plugins. app.ts gives it to helmet for the page; the API sends it too.
 */
export const CSP_DIRECTIVES: Record<string, string[]> = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:', 'blob:'],
  'connect-src': ["'self'"],
  'worker-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
}

/**
 * The API's own headers on every JSON answer, whoever hosts it (the standalone server or an app that
 * mounts the router): a JSON answer opened as a document must run nothing, never be framed, never be
 * sniffed into HTML, and never leak its URL (which may carry a stream key) through a Referer.
 */
export const API_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': Object.entries(CSP_DIRECTIVES)
    .map(([name, sources]) => `${name} ${sources.join(' ')}`)
    .join(';'),
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
}

/** The shared empty header set: answers without CORS headers skip a copy. */
export const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({})

// A stream is no document: of the headers above only these two mean anything for it, and every open
// stream keeps its header block in memory.
export const STREAM_HEADERS: Readonly<Record<string, string>> = { 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' }

// The answer to nearly every request a busy server gets (a relayed signal): nothing to render, nothing to sniff.
const NO_CONTENT_HEADERS: Readonly<Record<string, string>> = { 'X-Content-Type-Options': 'nosniff' }

const JSON_TYPE = /^application\/json\s*(;\s*charset\s*=\s*"?utf-8"?\s*)?$/i
// navigator.sendBeacon cannot send application/json without a CORS preflight; leave takes this too.
const BEACON_TYPE = /^text\/plain\s*(;\s*charset\s*=\s*"?utf-8"?\s*)?$/i

const tooLarge = () => new HttpError(413, 'PAYLOAD_TOO_LARGE', 'request body is too large')

/**
 * The body as JSON, within `maxBytes` and `timeoutMs`, refusing other types and any content encoding.
 * `beacon` also accepts text/plain. Join and signal do not, so that a foreign page cannot call them
 * without passing a CORS preflight.
 */
export function readJson(req: IncomingMessage, maxBytes: number, timeoutMs: number, beacon = false): Promise<unknown> {
  // A host app's body parser may have read the stream already, leaving what it made of it in `body`.
  if (req.readableEnded) return Promise.resolve((req as IncomingMessage & { body?: unknown }).body)
  return new Promise((resolve, reject) => {
    const type = req.headers['content-type']
    if (!type || !(JSON_TYPE.test(type) || (beacon && BEACON_TYPE.test(type)))) {
      return reject(new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send a JSON body with Content-Type: application/json'))
    }
    const encoding = req.headers['content-encoding']
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
      return reject(new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'unsupported content encoding'))
    }
    if (Number(req.headers['content-length'] ?? 0) > maxBytes) return reject(tooLarge())
    const chunks: Buffer[] = []
    let size = 0
    let ended = false
    // A body that never finishes would hold its socket and buffer until Node's own 300 s deadline.
    const deadline = setTimeout(() => {
      req.pause()
      reject(new HttpError(408, 'REQUEST_TIMEOUT', `request body did not arrive within ${timeoutMs / 1000} s`))
    }, timeoutMs)
    // Only a body cut short is an error: every request closes, and an Error's stack is not free.
    const aborted = () => {
      if (!ended) reject(new HttpError(400, 'BAD_REQUEST', 'request aborted'))
    }
    req.on('close', () => {
      clearTimeout(deadline)
      aborted()
    })
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= maxBytes) chunks.push(chunk)
    })
    req.on('error', aborted)
    req.on('end', () => {
      ended = true
      clearTimeout(deadline)
      if (size > maxBytes) return reject(tooLarge())
      try {
        resolve(JSON.parse((chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8')))
      } catch {
        reject(new HttpError(400, 'BAD_JSON', 'request body is not valid JSON'))
      }
    })
  })
}

/**
 * One request header, read from `rawHeaders`: `req.headers` builds an object of them all (names
 * lowercased into new strings) that Node keeps with the request while its response is open, which for
 * an event stream is hours. `name` is lowercase; repeated fields are joined with ", ", as Node joins the
 * fields read this way (Origin, Last-Event-ID).
 */
export function rawHeader(req: IncomingMessage, name: string): string | undefined {
  const raw = req.rawHeaders
  let value: string | undefined
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const field = raw[i]!
    if (field.length !== name.length || field.toLowerCase() !== name) continue
    value = value === undefined ? raw[i + 1] : `${value}, ${raw[i + 1]}`
  }
  return value
}

/** `Authorization: Bearer <token>`; undefined when the header is absent. */
export function bearer(header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  if (!match) throw new HttpError(401, 'UNAUTHORIZED', 'Authorization must be "Bearer <token>"')
  return match[1]
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = NO_HEADERS): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    ...API_HEADERS,
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(text)),
  })
  res.end(text)
}

export function sendNoContent(res: ServerResponse, headers: Readonly<Record<string, string>>): void {
  res.sendDate = false
  res.writeHead(204, headers === NO_HEADERS ? NO_CONTENT_HEADERS : { ...NO_CONTENT_HEADERS, ...headers })
  res.end()
}

/** `{error, message}` with the error's status, and `Retry-After` (whole seconds) when it has one. */
export function sendError(res: ServerResponse, error: HttpError, headers: Readonly<Record<string, string>> = NO_HEADERS): void {
  const body: ErrorBody = { error: error.code, message: error.message }
  if (error.retryAfterMs !== undefined) {
    headers = { ...headers, 'Retry-After': String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))) }
  }
  sendJson(res, error.status, body, headers)
}
