import { Redis } from 'ioredis'
import { nanoid } from 'nanoid'
import type { HubLike, HubOptions, JoinResult, RelayResult, Sink } from './hub'
import type { Logger } from './log'
import { NO_OBSERVER } from './metrics'
import type { PeerInfo } from './protocol'
import { EMIT, EXPIRE, JOIN, LEAVE, PRESENCE, RELAY } from './redis-scripts'
import { HEARTBEAT_FRAME, spreadEvery } from './sse'

// Events stay replayable a little longer than the grace period, as in the in-memory hub.
const RETENTION_SLACK_MS = 5_000
// Streams held here push their session's deadline forward this often; a crashed instance stops, and
// its sessions end one grace period later (when their browsers have not come back elsewhere).
const REFRESH_MS = 1_000
const SWEEP_MS = 1_000
const EPOCH_CHARS = 6

export class Unavailable extends Error {}

interface Local {
  session: string
  sink: Sink
  lastWrite: number
  /** Highest event seq written to this stream; published copies at or below it are dropped. */
  written: number
  /** Events published before the replay finished, written right after it. */
  pending: Array<[number, string]> | null
  connection: string
}

/**
 * The hub shared by any number of instances through Redis: rooms, presence and event buffers live in
 * Redis (atomic Lua scripts); each instance holds the streams of its own clients and hears their
 * events by pub/sub. Any instance answers any POST; a stream may reconnect to any instance and resume.
 */
export function createRedisHub(url: string, options: HubOptions & { log: Logger; prefix?: string }): HubLike {
  const prefix = options.prefix ?? 'parley:'
  const observer = options.observer ?? NO_OBSERVER
  const log = options.log
  const retentionMs = options.graceMs + RETENTION_SLACK_MS
  // Commands fail fast while Redis is away (no offline queue): requests get 503, readiness goes red.
  const redisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false }
  const cmd = new Redis(url, redisOptions)
  const sub = new Redis(url, redisOptions)
  const locals = new Map<string, Local>()
  let counts = { rooms: 0, peers: 0, sessions: 0 }
  let closed = false
  let up = { cmd: false, sub: false }

  for (const [name, client] of [['commands', cmd], ['subscriber', sub]] as const) {
    const key = name === 'commands' ? 'cmd' : 'sub'
    client.on('ready', () => {
      if (!up[key]) log.info({ redis: name }, 'redis connected')
      up = { ...up, [key]: true }
      if (key === 'sub') void resubscribe()
    })
    client.on('error', (err: Error) => {
      // ioredis retries with backoff by itself; say so once per outage, not per attempt.
      if (up[key]) log.error({ redis: name, err: err.message }, 'redis unavailable; retrying')
      up = { ...up, [key]: false }
    })
    client.on('end', () => (up = { ...up, [key]: false }))
  }

  for (const [name, lua] of Object.entries({ join: JOIN, relay: RELAY, leave: LEAVE, expire: EXPIRE, presence: PRESENCE, emitEvent: EMIT })) {
    cmd.defineCommand(name, { numberOfKeys: 0, lua })
  }
  type Script = (...args: Array<string | number>) => Promise<unknown>
  const script = (name: string) => (cmd as unknown as Record<string, Script>)[name]!.bind(cmd)
  const common = () => [prefix, options.replayEvents, retentionMs] as const
  const run = async <T>(name: string, ...args: Array<string | number>): Promise<T> => {
    if (!up.cmd) throw new Unavailable('redis unavailable')
    try {
      return (await script(name)(...common(), ...args)) as T
    } catch (err) {
      if (!up.cmd || (err as Error).message.includes('Connection')) throw new Unavailable('redis unavailable')
      throw err
    }
  }

  sub.on('message', (channel: string, message: string) => {
    const session = channel.slice(prefix.length + 3)
    const local = locals.get(session)
    if (!local) return
    if (message === '!close') return void drop(session, local)
    if (message.startsWith('!takeover ')) {
      if (message.slice(10) !== local.connection) drop(session, local)
      return
    }
    const bar = message.indexOf('|')
    const seq = Number(message.slice(0, bar))
    if (local.pending) return void local.pending.push([seq, message.slice(bar + 1)])
    write(session, local, seq, message.slice(bar + 1))
  })

  function write(session: string, local: Local, seq: number, frame: string) {
    if (seq <= local.written) return
    local.written = seq
    local.lastWrite = Date.now()
    if (!local.sink.write(frame)) lose(session, local)
  }

  /** The stream ends here (replaced elsewhere, or the session is gone): close it, keep no state. */
  function drop(session: string, local: Local) {
    if (locals.get(session) !== local) return
    locals.delete(session)
    void sub.unsubscribe(`${prefix}ch:${session}`).catch(() => {})
    local.sink.close()
  }

  /** The client's connection broke: its peers stay for the grace period, their rooms hear "away". */
  function lose(session: string, local: Local) {
    if (locals.get(session) !== local) return
    drop(session, local)
    run('presence', session, nanoid(EPOCH_CHARS), Date.now() + options.graceMs, 1).catch(() => {})
  }

  async function resubscribe() {
    const channels = [...locals.keys()].map((s) => `${prefix}ch:${s}`)
    if (channels.length > 0) await sub.subscribe(...channels).catch(() => {})
  }

  const heartbeat = spreadEvery(options.heartbeatMs, () => locals, (local) => {
    const t = Date.now()
    if (t - local.lastWrite < options.heartbeatMs) return
    local.lastWrite = t
    if (!local.sink.write(HEARTBEAT_FRAME)) lose(local.session, local)
  })

  const refresh = setInterval(() => {
    if (!up.cmd || locals.size === 0) return
    const deadline = Date.now() + options.graceMs
    const batch = cmd.pipeline()
    for (const session of locals.keys()) batch.zadd(`${prefix}deadlines`, 'XX', deadline, session)
    void batch.exec().catch(() => {})
  }, REFRESH_MS)
  refresh.unref()

  const sweep = setInterval(async () => {
    if (!up.cmd) return
    try {
      const now = Date.now()
      const due = await cmd.zrangebyscore(`${prefix}deadlines`, '-inf', now, 'LIMIT', 0, 200)
      for (const session of due) {
        const left = await run<number>('expire', session, now)
        if (left > 0) observer.left('timeout', left)
      }
      const [rooms, peers, sessions] = (
        ((await cmd.pipeline().scard(`${prefix}rooms`).scard(`${prefix}peers`).scard(`${prefix}sessions`).exec()) ?? []) as Array<[unknown, number]>
      ).map(([, n]) => n)
      counts = { rooms: rooms ?? 0, peers: peers ?? 0, sessions: sessions ?? 0 }
    } catch {
      // Redis away: the next sweep tries again.
    }
  }, SWEEP_MS)
  sweep.unref()

  const parseRoster = (json: string) => JSON.parse(json) as PeerInfo[]

  return {
    async join(sessionId, room, meta, reclaim): Promise<JoinResult> {
      const [peer, result] = await run<[string, string]>(
        'join',
        sessionId,
        room,
        reclaim ?? '',
        options.newPeerId(sessionId, room),
        meta ?? '',
        meta === undefined ? 0 : 1,
        options.maxPeersPerRoom,
        options.maxPeersPerSession,
        nanoid(EPOCH_CHARS),
        Date.now() + options.graceMs,
      )
      if (peer === '') return { ok: false, code: result as 'ROOM_FULL' | 'TOO_MANY_PEERS' | 'BAD_PEER' }
      if (peer !== reclaim) observer.joined()
      return { ok: true, peer, peers: parseRoster(result) }
    },

    async relay(sessionId, from, to, data): Promise<RelayResult> {
      let json: string
      try {
        json = JSON.stringify(data)
      } catch {
        return { ok: false, code: 'BAD_DATA' }
      }
      const result = await run<string>('relay', sessionId, from, to, json)
      if (result !== 'OK') return { ok: false, code: result as 'NOT_YOUR_PEER' | 'UNKNOWN_PEER' | 'NOT_IN_ROOM' }
      observer.relayed(1)
      return { ok: true }
    },

    async leave(sessionId, peer) {
      const left = await run<number>('leave', sessionId, peer ?? '')
      if (left > 0) observer.left('leave', left)
    },

    async connect(sessionId, lastEventId, sink) {
      const connection = nanoid()
      const previous = locals.get(sessionId)
      if (previous) drop(sessionId, previous)
      const local: Local = { session: sessionId, sink, lastWrite: Date.now(), written: 0, pending: [], connection }
      locals.set(sessionId, local)
      // Subscribe first: nothing published while the replay is read can slip between the two.
      await sub.subscribe(`${prefix}ch:${sessionId}`)
      const [isNew, epoch, seq, firstSeq] = await run<[number, string, number, number, number]>(
        'presence',
        sessionId,
        nanoid(EPOCH_CHARS),
        Date.now() + options.graceMs,
        0,
      )
      // Another instance may still hold an older stream of this session: it closes it.
      await cmd.publish(`${prefix}ch:${sessionId}`, `!takeover ${connection}`)
      if (locals.get(sessionId) !== local) return
      const from = resumeFrom(isNew === 1, epoch, seq, firstSeq, lastEventId)
      if (typeof from === 'string') {
        observer.reset(from)
        local.pending = null
        await run('emitEvent', sessionId, 'reset', `{"reason":"${from}"}`)
        return
      }
      local.written = from
      const events = (await cmd.xrange(`${prefix}ev:${sessionId}`, `${from + 1}-1`, '+')) as Array<[string, string[]]>
      for (const [id, fields] of events) write(sessionId, local, Number(id.split('-')[0]), fields[1]!)
      if (lastEventId) observer.replayed(events.length)
      const pending = local.pending ?? []
      local.pending = null
      for (const [s, frame] of pending) write(sessionId, local, s, frame)
    },

    disconnect(sessionId, sink) {
      const local = locals.get(sessionId)
      if (local?.sink === sink) lose(sessionId, local)
    },

    async hasPeer(sessionId, peer) {
      if (!up.cmd) throw new Unavailable('redis unavailable')
      return (await cmd.hget(`${prefix}p:${peer}`, 'session')) === sessionId
    },

    stats: () => ({ ...counts, streams: locals.size, timers: closed ? 0 : 3 }),

    ready: () => up.cmd && up.sub,

    close() {
      if (closed) return
      closed = true
      clearInterval(heartbeat)
      clearInterval(refresh)
      clearInterval(sweep)
      for (const local of locals.values()) local.sink.close()
      locals.clear()
      cmd.disconnect()
      sub.disconnect()
    },
  }
}

/** Same rules as the in-memory hub: where the stream resumes, or why it must reset. */
function resumeFrom(isNew: boolean, epoch: string, seq: number, firstSeq: number, lastEventId: string | undefined): number | 'gap' | 'unknown-session' {
  if (isNew) return 'unknown-session'
  // Every event after `from` must still be stored: the oldest kept is right after it, or none was due.
  const complete = (from: number) => from === seq || (firstSeq > 0 && firstSeq <= from + 1)
  if (lastEventId === undefined || lastEventId === '') return complete(0) ? 0 : 'gap'
  const dash = lastEventId.lastIndexOf('-')
  const last = Number(lastEventId.slice(dash + 1))
  if (lastEventId.slice(0, dash) !== epoch || !Number.isSafeInteger(last) || last < 0 || last > seq) return 'unknown-session'
  return complete(last) ? last : 'gap'
}

// How long a starting instance waits for Redis to agree on the signing secret.
const SECRET_TIMEOUT_MS = 5_000

/** The secret every instance on this Redis uses: whoever comes first stores theirs. Null: unreachable. */
export async function sharedSecret(url: string, candidate: string, prefix = 'parley:'): Promise<string | null> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: SECRET_TIMEOUT_MS, maxRetriesPerRequest: 0, retryStrategy: () => null })
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
