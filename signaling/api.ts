import type { IncomingMessage, ServerResponse } from 'node:http'
import { API_DEFAULTS, type ApiOptions, type Headers, type RouteContext } from './api-options'
import { createCors } from './cors'
import { createCredentials } from './credentials'
import { HttpError, toHttpError } from './errors'
import { rawHeader, sendError, sendNoContent } from './http'
import type { Hub } from './hub'
import { ticketTtlMs } from './join-tickets'
import { createCounter } from './limits'
import { createLogger } from './log'
import { createMemoryHub } from './memory-hub'
import { NO_OBSERVER } from './metrics'
import { createRedisHub } from './redis-hub'
import { createRelayRoutes } from './relay-routes'
import { createSessionRoutes } from './session-routes'
import { canTakeOverSockets } from './stream-socket'

const SWEEP_MS = 30_000

// Every endpoint and the one method it takes (HEAD /stream answers the stream's headers only).
const METHODS = { '/join': 'POST', '/stream': 'GET', '/signal': 'POST', '/leave': 'POST', '/ice': 'POST', '/renew': 'POST' } as const
type Route = keyof typeof METHODS
const isRoute = (path: string): path is Route => Object.hasOwn(METHODS, path)

/** Express's `req.ip` when a host app applies its "trust proxy" setting, else the socket's peer. */
const socketIp = (req: IncomingMessage) => (req as { ip?: string }).ip ?? req.socket.remoteAddress ?? 'unknown'

export type SignalingApi = ReturnType<typeof createSignalingApi>

/**
 * The signaling API, served the same way whoever hosts it. `handle(req, res, url)` serves a request
 * whose `url` is already relative to the mount point; `router` is the same as Express middleware:
 * `app.use('/parley', createSignalingApi({ secret }).router)`. Call `close()` on shutdown.
 */
export function createSignalingApi(input: Partial<ApiOptions> & { secret: string }) {
  const options = { ...API_DEFAULTS, ...input }
  const log = options.log ?? createLogger()
  // Streams then cost about three times the memory (test/bench/README.md, "Stream memory"): a Node
  // upgrade that removed an internal must not pass unnoticed.
  if (!canTakeOverSockets) log.warn("event streams stay on Node's responses: this Node lacks an internal stream-socket.ts needs")
  const observer = options.observer ?? NO_OBSERVER
  const credentials = createCredentials(options.secret, options.credentialTtlS)
  const hubOptions = { ...options, observer, newPeerId: credentials.newPeer, ticketTtlMs: ticketTtlMs(options.bodyTimeoutS) }
  const hub: Hub = options.redisUrl ? createRedisHub(options.redisUrl, { ...hubOptions, log }) : createMemoryHub(hubOptions)
  const context: RouteContext = { options, credentials, hub, observer, clientIp: options.clientIp ?? socketIp }
  const sessionRoutes = createSessionRoutes(context)
  const relayRoutes = createRelayRoutes(context)
  const routes = { ...sessionRoutes.routes, signal: relayRoutes.signal }
  const cors = createCors(options.corsOrigins)
  // Streams have their own cap (relay-routes.ts); this one bounds what slow or stalled POSTs can hold.
  const inFlight = createCounter(options.maxRequestsPerIp)
  let closing = false

  const sweep = setInterval(() => {
    sessionRoutes.sweep()
    relayRoutes.sweep()
  }, SWEEP_MS)
  sweep.unref()

  /** Every failure leaves as `{error, message}`; only bugs are logged as errors. */
  function fail(req: IncomingMessage, res: ServerResponse, err: unknown, headers: Headers, route: string) {
    const error = toHttpError(err)
    observer.refused(error.code)
    // The route, never the raw path or query: those can carry anything a client put there.
    const { method } = req
    if (error.code === 'INTERNAL') log.error({ err, method, route }, 'request failed')
    else log.debug({ code: error.code, status: error.status, method, route }, 'request refused')
    if (res.headersSent) return void res.end()
    // An unread (or unfinished) body is never read: Node would wait for it to reuse the connection.
    sendError(res, error, req.complete ? headers : { ...headers, Connection: 'close' })
  }

  function dispatch(req: IncomingMessage, res: ServerResponse, path: string, search: string, origin: string | undefined, headers: Headers) {
    const method = req.method ?? 'GET'
    // CORS first: an allowed page elsewhere must be able to read even the shutdown answer.
    if (method === 'OPTIONS' && origin !== undefined) return sendNoContent(res, cors.preflight(origin))
    if (closing) throw new HttpError(503, 'SHUTTING_DOWN', 'server is shutting down; retry shortly')
    if (!isRoute(path)) throw new HttpError(404, 'NOT_FOUND', `no route for ${method} ${path}`)
    const allowed = METHODS[path]
    if (method !== allowed && !(path === '/stream' && method === 'HEAD')) {
      res.setHeader('Allow', allowed)
      throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}`)
    }
    if (path === '/stream') return relayRoutes.stream(req, res, headers, new URLSearchParams(search))
    const address = context.clientIp(req)
    if (!inFlight.acquire(address)) {
      throw new HttpError(429, 'RATE_LIMITED', `at most ${options.maxRequestsPerIp} requests in flight per address`, options.retryMs)
    }
    // `on`, not `once`: a response closes once, and `once` would wrap the listener per request.
    res.on('close', () => inFlight.release(address))
    return routes[path.slice(1) as keyof typeof routes](req, res, headers).catch((err: unknown) => fail(req, res, err, headers, path))
  }

  /** Serves one API request; `url` is relative to the API's mount point (`/signal?…`). */
  function handle(req: IncomingMessage, res: ServerResponse, url: string): void {
    const query = url.indexOf('?')
    const path = (query === -1 ? url : url.slice(0, query)) || '/'
    const origin = rawHeader(req, 'origin')
    const headers = cors.headers(origin)
    try {
      void dispatch(req, res, path, query === -1 ? '' : url.slice(query + 1), origin, headers)
    } catch (err) {
      fail(req, res, err, headers, isRoute(path) ? path : '(no route)')
    }
  }

  return {
    handle,
    /** The same API as Express middleware: it answers every request below its mount point. */
    router: (req: IncomingMessage, res: ServerResponse) => handle(req, res, req.url ?? '/'),
    stats: () => ({
      ...hub.stats(),
      rateLimitKeys: sessionRoutes.limitKeys() + relayRoutes.limitKeys(),
      ipsWithStreams: relayRoutes.ipsWithStreams(),
      ipsWithRequests: inFlight.size,
    }),
    ready: () => !closing && hub.ready(),
    /** Stops accepting requests and ends every stream; peers keep their grace with the next server. */
    close(): void {
      if (closing) return
      closing = true
      clearInterval(sweep)
      hub.close()
    },
  }
}
