import { createServer, type RequestListener, type Server } from 'node:http'
import type { Socket } from 'node:net'
import { createCounter } from './limits'

// Node checks the header and request deadlines on this interval (its default is 30 s, which would
// let a stalled request live up to 30 s past its deadline).
const DEADLINE_CHECK_MS = 1_000

/** What the standalone server bounds before a request reaches the API (config.ts has the defaults). */
export interface ServerLimits {
  /** Seconds a client may take to send its request headers. */
  headersTimeoutS: number
  /** Seconds a request body may take after the headers (the API's own deadline, bodyTimeoutS). */
  bodyTimeoutS: number
  /** Open connections per client address; more are closed at once. */
  maxConnectionsPerIp: number
  /** A reverse proxy we trust ("trust proxy"): its connections carry many clients and are not capped. */
  isProxy: (address: string) => boolean
}

/**
 * The Node HTTP server of the standalone app: short deadlines for headers and bodies (an event stream
 * is a GET whose request ends with its headers, so it is not bound by them) and a cap on the
 * connections one address may hold open.
 */
export function createHttpServer(handler: RequestListener, limits: ServerLimits): Server {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutS * 1000,
      // Node's deadline for the whole request; the API answers a late body with REQUEST_TIMEOUT first.
      requestTimeout: (limits.headersTimeoutS + limits.bodyTimeoutS + 1) * 1000,
      connectionsCheckingInterval: DEADLINE_CHECK_MS,
    },
    handler,
  )
  const perAddress = createCounter(limits.maxConnectionsPerIp)
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? 'unknown'
    if (limits.isProxy(address)) return
    if (!perAddress.acquire(address)) return void socket.destroy()
    // `on`, not `once` (a socket closes once): no wrapper kept beside the listener for as long as an
    // event stream holds its socket open.
    socket.on('close', () => perAddress.release(address))
  })
  return server
}
