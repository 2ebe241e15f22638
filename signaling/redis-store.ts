import { Redis } from 'ioredis'
import { Unavailable } from './errors'
import type { Logger } from './log'
import { EMIT, EXPIRE, JOIN, LEAVE, PRESENCE, RELAY } from './redis-scripts'
import { TICKET_SCRIPTS } from './redis-tickets'

const SWEEP_MS = 1_000
// Sessions whose deadline passed, ended per sweep: a backlog after an outage drains over a few rounds.
const SWEEP_BATCH = 200
// How long a starting instance waits for Redis to agree on the signing secret.
const SECRET_TIMEOUT_MS = 5_000

const SCRIPTS = { join: JOIN, relay: RELAY, leave: LEAVE, expire: EXPIRE, presence: PRESENCE, emitEvent: EMIT, ...TICKET_SCRIPTS }
export type ScriptName = keyof typeof SCRIPTS
type Script = (...args: Array<string | number>) => Promise<unknown>

export interface RedisStoreOptions {
  prefix: string
  log: Logger
  /** Passed to every script (see redis-scripts.ts's PRELUDE). */
  replayEvents: number
  retentionMs: number
  /** The subscriber (re)connected: subscribe to every held stream's channel again. */
  resubscribe(): void
  /** A sweep ended sessions whose deadline passed; `left` peers left with them. */
  expired(left: number): void
}

/**
 * The connections to Redis and what runs over them: the Lua scripts, readiness, the sweep that ends
 * sessions past their deadline (whichever instance gets there first), and the counts for stats.
 */
export function createRedisStore(url: string, options: RedisStoreOptions) {
  const { prefix, log } = options
  // Commands fail fast while Redis is away (no offline queue): requests get 503, readiness goes red.
  const redisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false }
  const cmd = new Redis(url, redisOptions)
  const sub = new Redis(url, redisOptions)
  let counts = { rooms: 0, peers: 0, sessions: 0 }
  let up = { cmd: false, sub: false }

  for (const [name, client] of [
    ['commands', cmd],
    ['subscriber', sub],
  ] as const) {
    const key = name === 'commands' ? 'cmd' : 'sub'
    client.on('ready', () => {
      if (!up[key]) log.info({ redis: name }, 'redis connected')
      up = { ...up, [key]: true }
      if (key === 'sub') options.resubscribe()
    })
    client.on('error', (err: Error) => {
      // ioredis retries with backoff by itself; say so once per outage, not per attempt.
      if (up[key]) log.error({ redis: name, err: err.message }, 'redis unavailable; retrying')
      up = { ...up, [key]: false }
    })
    client.on('end', () => (up = { ...up, [key]: false }))
  }

  for (const [name, lua] of Object.entries(SCRIPTS)) cmd.defineCommand(name, { numberOfKeys: 0, lua })
  const scripts = cmd as unknown as Record<ScriptName, Script>

  /** Runs one script atomically; Unavailable while Redis cannot be reached. */
  async function run<T>(name: ScriptName, ...args: Array<string | number>): Promise<T> {
    if (!up.cmd) throw new Unavailable('redis unavailable')
    try {
      return (await scripts[name].call(cmd, prefix, options.replayEvents, options.retentionMs, ...args)) as T
    } catch (err) {
      if (!up.cmd || (err as Error).message.includes('Connection')) throw new Unavailable('redis unavailable')
      throw err
    }
  }

  const sweep = setInterval(async () => {
    if (!up.cmd) return
    try {
      const now = Date.now()
      const due = await cmd.zrangebyscore(`${prefix}deadlines`, '-inf', now, 'LIMIT', 0, SWEEP_BATCH)
      for (const session of due) {
        const left = await run<number>('expire', session, now)
        if (left > 0) options.expired(left)
      }
      const replies = (await cmd.pipeline().scard(`${prefix}rooms`).scard(`${prefix}peers`).scard(`${prefix}sessions`).exec()) ?? []
      const [rooms, peers, sessions] = (replies as Array<[unknown, number]>).map(([, n]) => n)
      counts = { rooms: rooms ?? 0, peers: peers ?? 0, sessions: sessions ?? 0 }
    } catch {
      // Redis away: the next sweep tries again.
    }
  }, SWEEP_MS)
  sweep.unref()

  return {
    cmd,
    sub,
    run,
    commandsUp: () => up.cmd,
    ready: () => up.cmd && up.sub,
    /** Rooms, peers and sessions as of the last sweep. */
    counts: () => counts,
    /** Pushes the deadline of sessions whose streams are held here (no-op for ended ones). */
    refresh(sessions: Iterable<string>, deadline: number): void {
      const batch = cmd.pipeline()
      for (const session of sessions) batch.zadd(`${prefix}deadlines`, 'XX', deadline, session)
      void batch.exec().catch(() => {})
    },
    close(): void {
      clearInterval(sweep)
      cmd.disconnect()
      sub.disconnect()
    },
  }
}

/** The secret every instance on this Redis uses: whoever comes first stores theirs. Null: unreachable. */
export async function sharedSecret(url: string, candidate: string, prefix = 'parley:'): Promise<string | null> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: SECRET_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
  try {
    await client.connect()
    await client.set(`${prefix}secret`, candidate, 'NX')
    return await client.get(`${prefix}secret`)
  } catch {
    return null
  } finally {
    client.disconnect()
  }
}

export type RedisStore = ReturnType<typeof createRedisStore>
