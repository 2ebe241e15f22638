import { existsSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join } from 'node:path'
import express from 'express'
import helmet from 'helmet'
import proxyaddr from 'proxy-addr'
import { createSignalingApi } from './api'
import type { ApiOptions } from './api-options'
import { HttpError, toHttpError } from './errors'
import { CSP_DIRECTIVES, sendError } from './http'
import { createLogger, type Logger } from './log'
import { createMetrics, type Observer } from './metrics'
import { createPageFiles, type PageFiles } from './page-files'
import type { HealthBody } from './protocol'
import { isId } from './validate'

export interface AppOptions extends Partial<ApiOptions> {
  secret: string
  trustProxy?: boolean | number | string
  /** Also export Node's process metrics (CPU, memory, event loop) on /metrics. */
  processMetrics?: boolean
  /** The built chat page (dist/client). Without it the server answers with a short placeholder. */
  staticDir?: string
  log?: Logger
}

/**
 * Strict headers for the page and everything else Express serves: the page's CSP (http.ts, which the
 * API sends too), never framed, no referrer (a room link must not leak to another site), no sniffing.
 */
function securityHeaders() {
  return helmet({
    contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
    referrerPolicy: { policy: 'no-referrer' },
    frameguard: { action: 'deny' }, // agrees with frame-ancestors 'none' for browsers without CSP
    // Plain HTTP stays usable on localhost and LANs behind a TLS proxy's own policy.
    strictTransportSecurity: false,
  })
}

/** helmet's headers, collected once: the page's files go out with exactly what Express would add. */
function collectHeaders(middleware: ReturnType<typeof helmet>): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {}
  const res = {
    setHeader(name: string, value: unknown) {
      headers[name] = String(value)
    },
    removeHeader(name: string) {
      delete headers[name]
    },
  }
  middleware({} as IncomingMessage, res as unknown as ServerResponse, () => {})
  return headers
}

const PAGE_HEADERS = collectHeaders(securityHeaders())

/** `/` and `/r/<room>` are the page; other paths name a file of the build. */
function servePage(files: PageFiles, req: IncomingMessage, res: ServerResponse, path: string): boolean {
  const asPage = path === '/' || (path.startsWith('/r/') && isId(path.slice(3)))
  return files.serve(req, res, path, asPage)
}

/** Last middleware: every failure leaves as `{error, message}`; stack traces stay in the log. */
function errorHandler(log: Logger, observer: Observer): express.ErrorRequestHandler {
  return (err, req, res, next) => {
    const error = toHttpError(err)
    observer.refused(error.code)
    // The route pattern, never the raw path or query: those can carry anything a client put there.
    const route = (req.route as { path?: string } | undefined)?.path ?? '(no route)'
    if (error.code === 'INTERNAL') log.error({ err, method: req.method, route }, 'request failed')
    else log.debug({ code: error.code, status: error.status, method: req.method, route }, 'request refused')
    if (res.headersSent) return next(err)
    sendError(res, error)
  }
}

/** Mount point of the signaling API in the standalone server. */
export const API_PATH = '/v1'

/** Builds the whole server (API, chat page, health) without listening; `main.ts` listens. */
export function createApp(options: AppOptions) {
  const log = options.log ?? createLogger()
  let counts = () => ({ rooms: 0, peers: 0, sessions: 0, streams: 0 })
  const metrics = createMetrics(() => counts(), { processMetrics: options.processMetrics ?? false })
  const app = express()
  app.set('trust proxy', options.trustProxy ?? false)
  // The API, served ahead of Express, sees the client's address exactly as Express would ("trust proxy").
  const trust = app.get('trust proxy fn') as (address: string, hop: number) => boolean
  // Without a trusted proxy that is the socket's peer: no X-Forwarded-For to parse on every request.
  const clientIp = options.trustProxy
    ? (req: IncomingMessage) => proxyaddr(req, trust)
    : (req: IncomingMessage) => req.socket.remoteAddress ?? 'unknown'
  const signaling = createSignalingApi({ ...options, log, observer: metrics.observer, clientIp })
  counts = signaling.stats
  app.disable('x-powered-by')
  app.set('etag', false)
  app.use(securityHeaders())

  app.get('/healthz', (_req, res) => {
    const { rooms, peers, sessions, streams } = signaling.stats()
    const body: HealthBody = { status: closing ? 'shutting-down' : 'ok', rooms, peers, sessions, streams }
    res.status(closing ? 503 : 200).json(body)
  })
  // Liveness: the process answers. Readiness: it should get traffic (not while shutting down).
  app.get('/livez', (_req, res) => void res.json({ status: 'ok' }))
  app.get('/readyz', (_req, res) => {
    const status = closing ? 'shutting-down' : signaling.ready() ? 'ready' : 'storage-unavailable'
    res.status(status === 'ready' ? 200 : 503).json({ status })
  })
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })
  // `handler` serves the API ahead of Express; the app mounts the same router for hosts that serve `app`.
  app.use(API_PATH, signaling.router)

  const page = options.staticDir ? join(options.staticDir, 'index.html') : undefined
  const files = page && existsSync(page) ? createPageFiles(options.staticDir!, PAGE_HEADERS) : undefined
  if (files && page) {
    app.use((req, res, next) => void (servePage(files, req, res, req.path) || next()))
    // What the files above leave (ranges, a file gone since start): from disk, under Express's own cache rules.
    const sendPage: express.RequestHandler = (_req, res) => {
      res.setHeader('Cache-Control', 'no-store')
      res.sendFile(page)
    }
    app.get('/', sendPage)
    app.get('/r/:room', (req, res, next) => (isId(req.params.room) ? sendPage(req, res, next) : next()))
    app.use(express.static(options.staticDir!, { index: false, maxAge: '1h' }))
  } else {
    app.get('/', (_req, res) => {
      res.type('text').send('Parley signaling server. Build the chat page with `npm run build`.\n')
    })
  }

  app.use((req, _res, next) => next(new HttpError(404, 'NOT_FOUND', `no route for ${req.method} ${req.path}`)))
  app.use(errorHandler(log, metrics.observer))

  let closing = false
  return {
    app,
    /**
     * The HTTP handler to serve: the API straight from Node (every stream and every ICE candidate is a
     * request there; Express's decorated request and response would stay alive with each open stream),
     * the page's files from memory, everything else by Express.
     */
    handler(req: IncomingMessage, res: ServerResponse): void {
      const url = req.url ?? '/'
      if (url.startsWith(API_PATH) && (url.length === API_PATH.length || url[API_PATH.length] === '/' || url[API_PATH.length] === '?')) {
        signaling.handle(req, res, url.slice(API_PATH.length))
        return
      }
      const query = url.indexOf('?')
      if (files && servePage(files, req, res, query === -1 ? url : url.slice(0, query))) return
      app(req, res)
    },
    stats: signaling.stats,
    /** Whether a connection comes from a reverse proxy we trust (it speaks for many clients). */
    isProxy: (address: string) => trust(address, 0),
    close(): void {
      closing = true
      signaling.close()
    },
  }
}
