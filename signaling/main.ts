import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { createApp } from './app'
import { ConfigError, parseConfig, resolveSecret, usage } from './config'
import { createLogger } from './log'
import { sharedSecret } from './redis-store'
import { createHttpServer } from './server'

// Streams end at once on shutdown; this bounds how long slow in-flight POSTs may take.
const SHUTDOWN_TIMEOUT_MS = 3_000

async function main(): Promise<void> {
  let config: ReturnType<typeof parseConfig>
  try {
    config = parseConfig(process.argv.slice(2), process.env)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    console.error(`parley: ${err.message}`)
    process.exit(2)
  }
  if (config === 'help') {
    console.log(usage())
    return
  }
  const log = createLogger(config.logLevel)
  let secret: string
  try {
    secret = resolveSecret(config, (message) => log.warn(message))
  } catch (err) {
    console.error(`parley: ${(err as Error).message}`)
    process.exit(2)
  }
  if (config.redisUrl && config.secret === undefined) {
    // Instances sharing a Redis must share the secret too: the first one stores it there.
    const shared = await sharedSecret(config.redisUrl, secret)
    if (shared) secret = shared
    else log.error('cannot reach Redis to share the signing secret; set PARLEY_SECRET on every instance')
  }

  const staticDir = fileURLToPath(new URL('../client', import.meta.url))
  const turn = config.turnSecret ? { urls: config.turnUrls, secret: config.turnSecret, ttlS: config.turnTtlS } : undefined
  if (config.iceServers.some((server) => server.credential)) {
    log.warn('--ice-servers hands every browser a fixed TURN password; prefer --turn-urls with --turn-secret')
  }
  const parley = createApp({ ...config, turn, secret, staticDir, log, processMetrics: true })
  const server = createHttpServer(parley.handler, { ...config, isProxy: parley.isProxy })

  server.on('error', (err) => {
    console.error(`parley: cannot listen on ${config.host ?? '*'}:${config.port}: ${err.message}`)
    process.exit(1)
  })
  server.listen(config.port, config.host, () => {
    const { port } = server.address() as AddressInfo
    const host = config.host === undefined || config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host
    log.info({ port }, 'listening')
    console.log(`Parley is running at http://${host.includes(':') ? `[${host}]` : host}:${port}/`)
  })

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'shutting down')
    server.close(() => process.exit(0))
    parley.close()
    server.closeIdleConnections()
    setTimeout(() => {
      server.closeAllConnections()
      process.exit(0)
    }, SHUTDOWN_TIMEOUT_MS).unref()
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

void main()
