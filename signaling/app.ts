import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { IncomingMessage, ServerResponse } from 'node:http'
import express from 'express'
import proxyaddr from 'proxy-addr'
import helmet from 'helmet'
import type { HealthBody } from './protocol'
import { errorHandler, notFound } from './errors'
import { createLogger, type Logger } from './log'
import { createMetrics } from './metrics'
import { createSignaling, type SignalingOptions } from './router'
import { isId } from './validate'

export interface AppOptions extends Partial<SignalingOptions> {
  secret: string
  trustProxy?: boolean | number | string
  /** Also export Node's process metrics (CPU, memory, event loop) on /metrics. */
  processMetrics?: boolean
  /** The built chat page (dist/client). Without it the server answers with a short placeholder. */
  staticDir?: string
  log?: Logger
}

/**
 * Strict headers for pages and API alike: scripts, styles and connections from this origin only (no
 * inline script), never framed, no referrer (a room link must not leak to another site), no sniffing.
 */
function securityHeaders() {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:', 'blob:'],
        connectSrc: ["'self'"],
        workerSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    referrerPolicy: { policy: 'no-referrer' },
    frameguard: { action: 'deny' }, // agrees with frame-ancestors 'none' for browsers without CSP
    // Plain HTTP stays usable on localhost and LANs behind a TLS proxy's own policy.
    strictTransportSecurity: false,
  })
}

/** The headers a middleware sets on every response, read off once (helmet's are the same for all). */
function staticHeaders(middleware: express.RequestHandler): Record<string, string> {
  const headers: Record<string, string> = {}
  const res = {
    setHeader: (name: string, value: string | number) => void (headers[name] = String(value)),
    removeHeader: (name: string) => void delete headers[name],
  }
  middleware({} as express.Request, res as unknown as express.Response, () => {})
  return headers
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
  // The fast path sees the client's address exactly as Express would ("trust proxy").
  const trust = app.get('trust proxy fn') as (address: string, hop: number) => boolean
  const clientIp = (req: IncomingMessage) => proxyaddr(req, trust)
  const headers = securityHeaders()
  const signaling = createSignaling({ ...options, log, observer: metrics.observer, clientIp, securityHeaders: staticHeaders(headers) })
  counts = signaling.stats
  app.disable('x-powered-by')
  app.set('etag', false)
  app.use(headers)

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

  app.use(API_PATH, signaling.router)
  app.use(API_PATH, notFound)

  const page = options.staticDir ? join(options.staticDir, 'index.html') : undefined
  if (page && existsSync(page)) {
    const sendPage: express.RequestHandler = (_req, res) => {
      // no-store also keeps the page out of the back/forward cache, where a frozen page would hold on
      // to its room (and its tab's share of the signaling worker) until the browser evicts it.
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

  app.use(notFound)
  app.use(errorHandler(log))

  let closing = false
  const prefix = `${API_PATH}/`
  return {
    app,
    /** The HTTP handler to serve: the hot API endpoints straight from Node, everything else by Express. */
    handler(req: IncomingMessage, res: ServerResponse): void {
      const url = req.url ?? '/'
      if (url.startsWith(prefix) && signaling.fast(req, res, url.slice(API_PATH.length))) return
      app(req, res)
    },
    stats: signaling.stats,
    close(): void {
      closing = true
      signaling.close()
    },
  }
}
