import { randomBytes } from 'node:crypto'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import express from 'express'
import { API_DEFAULTS, type ApiOptions } from './api-options'
import type { IceServer } from './protocol'
import { isObject } from './validate'

/** The API's tunables the command line sets (their meanings are documented in api-options.ts). */
type ApiTunables = Pick<
  ApiOptions,
  | 'maxPeersPerRoom'
  | 'maxStreamsPerIp'
  | 'maxRequestsPerIp'
  | 'bodyTimeoutS'
  | 'maxSeatsPerSession'
  | 'maxSeatsPerIp'
  | 'sessionSignalsPerSec'
  | 'ipSignalsPerSec'
  | 'credentialTtlS'
  | 'signalsPerSec'
  | 'signalBurst'
  | 'joinsPerSec'
  | 'joinBurst'
  | 'maxBodyBytes'
  | 'heartbeatMs'
  | 'graceMs'
  | 'iceServers'
  | 'corsOrigins'
  | 'redisUrl'
>

/** Everything `main` needs; `createApp` takes the same object. */
export interface Config extends ApiTunables {
  port: number
  host: string | undefined
  trustProxy: boolean | number | string
  logLevel: string
  secret: string | undefined
  secretFile: string
  maxConnectionsPerIp: number
  headersTimeoutS: number
  turnUrls: string[]
  turnSecret: string | undefined
  turnTtlS: number
}

type Parse = (raw: string) => unknown

interface Option {
  key: keyof Config
  flag: string
  env: string
  help: string
  parse: Parse
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

const int =
  (min: number, max: number): Parse =>
  (raw) => {
    const n = Number(raw)
    if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new Error(`must be an integer from ${min} to ${max}`)
    }
    return n
  }

const positive: Parse = (raw) => {
  const n = Number(raw)
  if (!Number.isFinite(n) || n <= 0) throw new Error('must be a positive number')
  return n
}

const text: Parse = (raw) => raw

const trustProxy: Parse = (raw) => {
  const lower = raw.trim().toLowerCase()
  if (lower === 'true') return true
  if (lower === 'false') return false
  if (/^\d+$/.test(lower)) return Number(lower)
  try {
    // Express's own parser of "trust proxy" lists, so a typo fails here and not at first request.
    express().set('trust proxy', raw)
  } catch (err) {
    throw new Error(`must be true, false, a hop count, or addresses/subnets (${(err as Error).message})`)
  }
  return raw
}

const logLevel: Parse = (raw) => {
  if (!LOG_LEVELS.includes(raw)) throw new Error(`must be one of ${LOG_LEVELS.join(', ')}`)
  return raw
}

/** A JSON array of RTCIceServer objects, inline or `@path/to/file.json`. */
export const iceServers: Parse = (raw) => {
  let source = raw
  if (raw.startsWith('@')) {
    try {
      source = readFileSync(raw.slice(1), 'utf8')
    } catch (err) {
      throw new Error(`cannot read ${raw.slice(1)}: ${(err as Error).message}`)
    }
  }
  let value: unknown
  try {
    value = JSON.parse(source)
  } catch {
    throw new Error('must be a JSON array of {urls, username?, credential?}')
  }
  const isUrl = (u: unknown) => typeof u === 'string' && /^(stun|stuns|turn|turns):\S+$/.test(u)
  const isServer = (s: unknown): s is IceServer =>
    isObject(s) &&
    (isUrl(s.urls) || (Array.isArray(s.urls) && s.urls.length > 0 && s.urls.every(isUrl))) &&
    (s.username === undefined || typeof s.username === 'string') &&
    (s.credential === undefined || typeof s.credential === 'string')
  if (!Array.isArray(value) || !value.every(isServer)) {
    throw new Error('must be a JSON array of {urls: "stun:…"|"turn:…", username?, credential?}')
  }
  // A browser's RTCPeerConnection throws on such a server, so no page could connect to anyone.
  const turnWithoutLogin = value.find((s) => [s.urls].flat().some((u) => /^turns?:/.test(u)) && (!s.username || !s.credential))
  if (turnWithoutLogin) throw new Error(`${JSON.stringify(turnWithoutLogin.urls)}: a TURN server needs a username and a credential`)
  return value
}

/** Comma-separated origins like https://chat.example.com, or "*". */
const origins: Parse = (raw) => {
  const list = raw
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean)
  for (const origin of list) {
    if (origin === '*') continue
    let url: URL
    try {
      url = new URL(origin)
    } catch {
      throw new Error(`"${origin}" is not an origin like https://chat.example.com`)
    }
    if (url.origin !== origin) throw new Error(`"${origin}" is not an origin (write it as ${url.origin})`)
  }
  return list
}

/** Comma-separated turn:/turns: URLs. */
const turnUrls: Parse = (raw) => {
  const list = raw
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean)
  for (const url of list) if (!/^turns?:[^\s]+$/.test(url)) throw new Error(`"${url}" is not a turn: or turns: URL`)
  return list
}

const redisUrl: Parse = (raw) => {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new Error('must be a URL like redis://localhost:6379')
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error('must start with redis:// or rediss://')
  return raw
}

// biome-ignore format: one option per line reads as the table it is (the formatter would spread each over seven).
const OPTIONS: Option[] = [
  { key: 'port', flag: '--port', env: 'PORT', help: 'TCP port to listen on (0 picks a free one)', parse: int(0, 65535) },
  { key: 'host', flag: '--host', env: 'HOST', help: 'address to bind (default: all interfaces)', parse: text },
  { key: 'trustProxy', flag: '--trust-proxy', env: 'PARLEY_TRUST_PROXY', help: 'Express "trust proxy": false, true, a hop count, or addresses like "loopback"', parse: trustProxy },
  { key: 'logLevel', flag: '--log-level', env: 'LOG_LEVEL', help: LOG_LEVELS.join(' | '), parse: logLevel },
  { key: 'secret', flag: '--secret', env: 'PARLEY_SECRET', help: 'secret that signs session tokens (overrides --secret-file)', parse: text },
  { key: 'secretFile', flag: '--secret-file', env: 'PARLEY_SECRET_FILE', help: 'file holding the secret; created on first start', parse: text },
  { key: 'maxPeersPerRoom', flag: '--max-peers-per-room', env: 'PARLEY_MAX_PEERS_PER_ROOM', help: 'people per room; more get ROOM_FULL', parse: int(2, 1000) },
  { key: 'maxStreamsPerIp', flag: '--max-streams-per-ip', env: 'PARLEY_MAX_STREAMS_PER_IP', help: 'open event streams per client address', parse: int(1, 1_000_000) },
  { key: 'maxConnectionsPerIp', flag: '--max-connections-per-ip', env: 'PARLEY_MAX_CONNECTIONS_PER_IP', help: 'open connections per client address (not counted for a trusted proxy)', parse: int(1, 1_000_000) },
  { key: 'maxRequestsPerIp', flag: '--max-requests-per-ip', env: 'PARLEY_MAX_REQUESTS_PER_IP', help: 'API requests in flight per client address (streams aside)', parse: int(1, 1_000_000) },
  { key: 'headersTimeoutS', flag: '--headers-timeout', env: 'PARLEY_HEADERS_TIMEOUT', help: 'seconds a client may take to send request headers', parse: int(1, 300) },
  { key: 'bodyTimeoutS', flag: '--body-timeout', env: 'PARLEY_BODY_TIMEOUT', help: 'seconds a request body may take; later: REQUEST_TIMEOUT', parse: int(1, 300) },
  { key: 'maxSeatsPerSession', flag: '--max-seats-per-session', env: 'PARLEY_MAX_SEATS_PER_SESSION', help: 'peers one session may hold in one room', parse: int(1, 1000) },
  { key: 'maxSeatsPerIp', flag: '--max-seats-per-ip', env: 'PARLEY_MAX_SEATS_PER_IP', help: 'peers one client address may hold in one room', parse: int(1, 1000) },
  { key: 'sessionSignalsPerSec', flag: '--session-signals-per-sec', env: 'PARLEY_SESSION_SIGNALS_PER_SEC', help: 'sustained signals per session per second (burst: 4 s worth)', parse: positive },
  { key: 'ipSignalsPerSec', flag: '--ip-signals-per-sec', env: 'PARLEY_IP_SIGNALS_PER_SEC', help: 'sustained signals per client address per second (burst: 4 s worth)', parse: positive },
  { key: 'credentialTtlS', flag: '--credential-ttl', env: 'PARLEY_CREDENTIAL_TTL', help: 'seconds a session token or stream key stays valid (clients renew it quietly)', parse: int(60, 30 * 24 * 3600) },
  { key: 'signalsPerSec', flag: '--signals-per-sec', env: 'PARLEY_SIGNALS_PER_SEC', help: 'sustained signals per peer per second', parse: positive },
  { key: 'signalBurst', flag: '--signal-burst', env: 'PARLEY_SIGNAL_BURST', help: 'signals a peer may send at once', parse: int(1, 1_000_000) },
  { key: 'joinsPerSec', flag: '--joins-per-sec', env: 'PARLEY_JOINS_PER_SEC', help: 'sustained joins per client address per second', parse: positive },
  { key: 'joinBurst', flag: '--join-burst', env: 'PARLEY_JOIN_BURST', help: 'joins an address may make at once', parse: int(1, 1_000_000) },
  { key: 'maxBodyBytes', flag: '--max-body-bytes', env: 'PARLEY_MAX_BODY_BYTES', help: 'largest POST body', parse: int(1024, 16 * 1024 * 1024) },
  { key: 'heartbeatMs', flag: '--heartbeat-ms', env: 'PARLEY_HEARTBEAT_MS', help: 'interval of SSE heartbeat comments', parse: int(100, 120_000) },
  { key: 'graceMs', flag: '--grace-ms', env: 'PARLEY_GRACE_MS', help: 'how long a dropped stream keeps its peers in their rooms', parse: int(0, 600_000) },
  { key: 'iceServers', flag: '--ice-servers', env: 'PARLEY_ICE_SERVERS', help: 'JSON array of ICE servers for clients, or @file.json', parse: iceServers },
  { key: 'turnUrls', flag: '--turn-urls', env: 'PARLEY_TURN_URLS', help: 'TURN server URLs (comma-separated) sharing --turn-secret with coturn', parse: turnUrls },
  { key: 'turnSecret', flag: '--turn-secret', env: 'PARLEY_TURN_SECRET', help: "coturn's static-auth-secret; browsers get expiring credentials only", parse: text },
  { key: 'turnTtlS', flag: '--turn-ttl', env: 'PARLEY_TURN_TTL', help: 'seconds a TURN credential stays valid', parse: int(60, 7 * 24 * 3600) },
  { key: 'redisUrl', flag: '--redis-url', env: 'REDIS_URL', help: 'share rooms with every instance using this Redis (rooms live in memory without it)', parse: redisUrl },
  { key: 'corsOrigins', flag: '--cors-origins', env: 'PARLEY_CORS_ORIGINS', help: 'origins allowed to use the API from their own pages (comma-separated, or *)', parse: origins },
]

export const DEFAULT_CONFIG: Config = {
  port: 8080,
  host: undefined,
  trustProxy: false,
  logLevel: 'info',
  secret: undefined,
  secretFile: '.parley/secret',
  maxPeersPerRoom: API_DEFAULTS.maxPeersPerRoom,
  maxStreamsPerIp: API_DEFAULTS.maxStreamsPerIp,
  maxConnectionsPerIp: 128,
  maxRequestsPerIp: API_DEFAULTS.maxRequestsPerIp,
  headersTimeoutS: 10,
  bodyTimeoutS: API_DEFAULTS.bodyTimeoutS,
  maxSeatsPerSession: API_DEFAULTS.maxSeatsPerSession,
  maxSeatsPerIp: API_DEFAULTS.maxSeatsPerIp,
  sessionSignalsPerSec: API_DEFAULTS.sessionSignalsPerSec,
  ipSignalsPerSec: API_DEFAULTS.ipSignalsPerSec,
  credentialTtlS: API_DEFAULTS.credentialTtlS,
  signalsPerSec: API_DEFAULTS.signalsPerSec,
  signalBurst: API_DEFAULTS.signalBurst,
  joinsPerSec: API_DEFAULTS.joinsPerSec,
  joinBurst: API_DEFAULTS.joinBurst,
  maxBodyBytes: API_DEFAULTS.maxBodyBytes,
  heartbeatMs: API_DEFAULTS.heartbeatMs,
  graceMs: API_DEFAULTS.graceMs,
  iceServers: API_DEFAULTS.iceServers,
  corsOrigins: API_DEFAULTS.corsOrigins,
  turnUrls: [],
  turnSecret: undefined,
  turnTtlS: 3600,
  redisUrl: undefined,
}

export class ConfigError extends Error {}

/** Environment, overridden by flags (`--port 9000` or `--port=9000`); every value validated. */
export function parseConfig(argv: string[], env: Record<string, string | undefined>): Config | 'help' {
  if (argv.includes('--help') || argv.includes('-h')) return 'help'
  const raw = new Map<Option, { value: string; source: string }>()
  for (const option of OPTIONS) {
    const value = env[option.env]
    if (value !== undefined && value !== '') raw.set(option, { value, source: option.env })
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const eq = arg.indexOf('=')
    const flag = eq === -1 ? arg : arg.slice(0, eq)
    const option = OPTIONS.find((o) => o.flag === flag)
    if (!option) throw new ConfigError(`unknown option ${arg} (see --help)`)
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1)
    if (value === undefined) throw new ConfigError(`${flag} needs a value`)
    raw.set(option, { value, source: flag })
  }
  const config: Config = { ...DEFAULT_CONFIG }
  for (const [option, { value, source }] of raw) {
    try {
      ;(config as unknown as Record<string, unknown>)[option.key] = option.parse(value)
    } catch (err) {
      throw new ConfigError(`${source}: ${(err as Error).message}`)
    }
  }
  if (config.turnUrls.length > 0 && !config.turnSecret) throw new ConfigError('--turn-urls needs --turn-secret (PARLEY_TURN_SECRET)')
  if (config.turnSecret && config.turnUrls.length === 0) throw new ConfigError('--turn-secret needs --turn-urls (PARLEY_TURN_URLS)')
  return config
}

export function usage(): string {
  const rows = OPTIONS.map((o) => {
    const fallback = DEFAULT_CONFIG[o.key]
    const shown = fallback === undefined ? '' : ` (default: ${JSON.stringify(fallback)})`
    return `  ${`${o.flag} <value>`.padEnd(30)} ${o.env.padEnd(28)} ${o.help}${shown}`
  })
  return ['Usage: npm start -- [options]', '', `  ${'flag'.padEnd(30)} ${'environment'.padEnd(28)} meaning`, ...rows, '  --help, -h'].join(
    '\n',
  )
}

/**
 * The configured secret, or the one in `secretFile`, created on first start. Without a stable secret a
 * restart invalidates every session and clients re-join as new peers.
 */
export function resolveSecret(config: Config, warn: (message: string) => void): string {
  if (config.secret !== undefined) {
    if (config.secret.length < 16) throw new ConfigError('PARLEY_SECRET must be at least 16 characters')
    return config.secret
  }
  try {
    const stored = readFileSync(config.secretFile, 'utf8').trim()
    if (stored.length >= 16) return stored
  } catch {
    // Missing: create it below.
  }
  const secret = randomBytes(32).toString('base64url')
  try {
    mkdirSync(dirname(config.secretFile), { recursive: true })
    writeFileSync(config.secretFile, `${secret}\n`, { mode: 0o600 })
    chmodSync(config.secretFile, 0o600) // `mode` applies only when the file is created
  } catch (err) {
    warn(`cannot write ${config.secretFile} (${(err as Error).message}); sessions will not survive a restart`)
  }
  return secret
}
