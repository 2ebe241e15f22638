import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ErrorBody, SignalBatchResponse } from './protocol'
import { HttpError, toHttpError } from './errors'
import type { Observer } from './metrics'
import type { Logger } from './log'

/** What the two hot endpoints do, free of any framework (the Express routes call the same). */
export interface Core {
  relay(token: string | undefined, body: unknown): Promise<SignalBatchResponse | null>
  attach(key: string | undefined, lastEventId: string | undefined, address: string, res: ServerResponse): void
  /** CORS headers for this Origin (none when it is not allowed). */
  corsHeaders(origin: string | undefined): Record<string, string>
  closing(): boolean
}

const NO_CONTENT = { 'X-Content-Type-Options': 'nosniff' }
const STREAM_HEADERS = { 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' }
const JSON_TYPE = /^application\/json\s*(;\s*charset\s*=\s*"?utf-8"?\s*)?$/i

/**
 * POST /signal and GET /stream served straight from Node's HTTP server, ahead of Express: they are
 * the requests a busy server sees most (every ICE candidate is one), and every open stream would
 * otherwise keep Express's decorated request and response alive. Same rules, same answers, same
 * errors as the Express routes, which still serve every other method and the embedded router.
 */
export function createFastPath(
  core: Core,
  options: {
    maxBodyBytes: number
    clientIp: (req: IncomingMessage) => string
    /** The security headers every other answer gets (helmet's, computed once). */
    headers: Record<string, string>
    observer: Observer
    log: Logger
  },
) {
  const API_HEADERS = options.headers
  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>) {
    const text = body === undefined ? '' : JSON.stringify(body)
    res.writeHead(status, {
      ...API_HEADERS,
      ...headers,
      ...(text ? { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)) } : {}),
    })
    res.end(text)
  }

  function fail(res: ServerResponse, err: unknown, headers: Record<string, string>) {
    const error = toHttpError(err)
    options.observer.refused(error.code)
    if (error.code === 'INTERNAL') options.log.error({ err, route: 'fast path' }, 'request failed')
    const retry: Record<string, string> =
      error.retryAfterMs === undefined ? {} : { 'Retry-After': String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))) }
    const body: ErrorBody = { error: error.code, message: error.message }
    if (res.headersSent) return void res.end()
    send(res, error.status, body, { ...headers, ...retry })
  }

  /** The body as JSON, within the size limit, refusing other types and encodings. */
  function readJson(req: IncomingMessage): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const type = req.headers['content-type']
      if (!type || !JSON_TYPE.test(type)) {
        return reject(new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send a JSON body with Content-Type: application/json'))
      }
      const encoding = req.headers['content-encoding']
      if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
        return reject(new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'unsupported content encoding'))
      }
      const declared = Number(req.headers['content-length'] ?? 0)
      if (declared > options.maxBodyBytes) return reject(new HttpError(413, 'PAYLOAD_TOO_LARGE', 'request body is too large'))
      const chunks: Buffer[] = []
      let size = 0
      req.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size <= options.maxBodyBytes) chunks.push(chunk)
      })
      req.on('error', () => reject(new HttpError(400, 'BAD_REQUEST', 'request aborted')))
      req.on('end', () => {
        if (size > options.maxBodyBytes) return reject(new HttpError(413, 'PAYLOAD_TOO_LARGE', 'request body is too large'))
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')))
        } catch {
          reject(new HttpError(400, 'BAD_JSON', 'request body is not valid JSON'))
        }
      })
    })
  }

  const bearer = (header: string | undefined) => {
    if (header === undefined) return undefined
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
    if (!match) throw new HttpError(401, 'UNAUTHORIZED', 'Authorization must be "Bearer <token>"')
    return match[1]
  }

  async function signal(req: IncomingMessage, res: ServerResponse, cors: Record<string, string>) {
    try {
      if (core.closing()) throw new HttpError(503, 'SHUTTING_DOWN', 'server is shutting down; retry shortly')
      const token = bearer(req.headers.authorization)
      const result = await core.relay(token, await readJson(req))
      if (result !== null) return send(res, 200, result, cors)
      // The answer to nearly every request a busy server gets: nothing to render, nothing to sniff.
      res.sendDate = false
      res.writeHead(204, cors.Vary ? { ...NO_CONTENT, ...cors } : NO_CONTENT)
      res.end()
    } catch (err) {
      fail(res, err, cors)
    }
  }

  function stream(req: IncomingMessage, res: ServerResponse, query: URLSearchParams, cors: Record<string, string>) {
    try {
      if (core.closing()) throw new HttpError(503, 'SHUTTING_DOWN', 'server is shutting down; retry shortly')
      // A stream is no document: of the page headers only these two mean anything for it, and every
      // open stream keeps its header block in memory.
      for (const [name, value] of Object.entries({ ...STREAM_HEADERS, ...cors })) res.setHeader(name, value)
      const header = req.headers['last-event-id']
      const lastEventId = typeof header === 'string' ? header : (query.get('lastEventId') ?? undefined)
      core.attach(query.get('key') ?? undefined, lastEventId, options.clientIp(req), res)
    } catch (err) {
      fail(res, err, cors)
    }
  }

  /** Serves the request if it is one of the hot two (`path` is below the API's mount point). */
  return (req: IncomingMessage, res: ServerResponse, path: string): boolean => {
    const [route, search = ''] = path.split('?', 2) as [string, string?]
    const origin = req.headers.origin
    if (route === '/signal' && req.method === 'POST') {
      void signal(req, res, core.corsHeaders(origin))
      return true
    }
    if (route === '/stream' && req.method === 'GET') {
      stream(req, res, new URLSearchParams(search), core.corsHeaders(origin))
      return true
    }
    return false
  }
}
