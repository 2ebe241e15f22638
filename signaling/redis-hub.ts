import { Redis } from 'ioredis'
import { nanoid } from 'nanoid'
import { Unavailable } from './errors'
import { encodeData, eventData, newEpoch, resumeFrom, retentionMs, type Hub, type HubOptions, type JoinResult, type RelayResult, type Sink } from './hub'
import type { Logger } from './log'
import { NO_OBSERVER } from './metrics'
import type { PeerInfo } from './protocol'
import { EMIT, EXPIRE, JOIN, LEAVE, PRESENCE, RELAY } from './redis-scripts'
import { formatEvent, HEARTBEAT_FRAME, spreadEvery } from './sse'

// Streams held here push their session's deadline forward this often; a crashed instance stops, and
// its sessions end one grace period later (when their browsers have not come back elsewhere).
const REFRESH_MS = 1_000
const SWEEP_MS = 1_000

/** An event as Redis stores and publishes it: data, framed only when written to a stream. */
interface StoredEvent {
  seq: number
  epoch: string
  type: string
  json: string
}

/** A stream this instance holds for one session. */
interface Attached {
  session: string
  sink: Sink
  lastWrite: number
  /** Highest event seq written to this stream; published copies at or below it are dropped. */
  written: number
  /** Events published before the replay finished, written right after it. */
  pending: StoredEvent[] | null
  connection: string
}

/**
 * The hub shared by any number of instances through Redis: rooms, presence and event buffers live in
 * Redis (atomic Lua scripts); each instance holds the streams of its own clients and hears their
 * events by pub/sub. Any instance answers any POST; a stream may reconnect to any instance and resume.
 */
export function createRedisHub(url: string, options: HubOptions & { log: Logger; prefix?: string }): Hub {
  const prefix = options.prefix ?? 'parley:'
  const observer = options.observer ?? NO_OBSERVER
  const log = options.log
  // Commands fail fast while Redis is away (no offline queue): requests get 503, readiness goes red.
  const redisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false }
  const cmd = new Redis(url, redisOptions)
  const sub = new Redis(url, redisOptions)
  const attached = new Map<string, Attached>()
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
  const common = () => [prefix, options.replayEvents, retentionMs(options)] as const
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
    const stream = attached.get(session)
    if (!stream) return
    if (message === '!close') return void drop(session, stream)
    if (message.startsWith('!takeover ')) {
      if (message.slice(10) !== stream.connection) drop(session, stream)
      return
    }
    const event = parsePublished(message)
    if (stream.pending) return void stream.pending.push(event)
    write(session, stream, event)
  })

  function write(session: string, stream: Attached, event: StoredEvent) {
    // A stream dropped mid-replay (backed up, replaced) gets nothing more.
    if (event.seq <= stream.written || attached.get(session) !== stream) return
    stream.written = event.seq
    stream.lastWrite = Date.now()
    if (!stream.sink.write(formatEvent(event.type, event.json, `${event.epoch}-${event.seq}`))) lose(session, stream)
  }

  /** The stream ends here (replaced elsewhere, or the session is gone): close it, keep no state. */
  function drop(session: string, stream: Attached) {
    if (attached.get(session) !== stream) return
    attached.delete(session)
    void sub.unsubscribe(`${prefix}ch:${session}`).catch(() => {})
    stream.sink.close()
  }

  /** The client's connection broke: its peers stay for the grace period, their rooms hear "away". */
  function lose(session: string, stream: Attached) {
    if (attached.get(session) !== stream) return
    drop(session, stream)
    run('presence', session, newEpoch(), Date.now() + options.graceMs, 1).catch(() => {})
  }

  async function resubscribe() {
    const channels = [...attached.keys()].map((s) => `${prefix}ch:${s}`)
    if (channels.length > 0) await sub.subscribe(...channels).catch(() => {})
  }

  const heartbeat = spreadEvery(options.heartbeatMs, () => attached, (stream) => {
    const t = Date.now()
    if (t - stream.lastWrite < options.heartbeatMs) return
    stream.lastWrite = t
    if (!stream.sink.write(HEARTBEAT_FRAME)) lose(stream.session, stream)
  })

  const refresh = setInterval(() => {
    if (!up.cmd || attached.size === 0) return
    const deadline = Date.now() + options.graceMs
    const batch = cmd.pipeline()
    for (const session of attached.keys()) batch.zadd(`${prefix}deadlines`, 'XX', deadline, session)
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
        newEpoch(),
        Date.now() + options.graceMs,
      )
      if (peer === '') return { ok: false, code: result as 'ROOM_FULL' | 'TOO_MANY_PEERS' | 'BAD_PEER' }
      if (peer !== reclaim) observer.joined()
      return { ok: true, peer, peers: parseRoster(result) }
    },

    async relay(sessionId, from, to, data): Promise<RelayResult> {
      const json = encodeData(data)
      if (json === null) return { ok: false, code: 'BAD_DATA' }
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
      const previous = attached.get(sessionId)
      if (previous) drop(sessionId, previous)
      const stream: Attached = { session: sessionId, sink, lastWrite: Date.now(), written: 0, pending: [], connection }
      attached.set(sessionId, stream)
      // Subscribe first: nothing published while the replay is read can slip between the two.
      await sub.subscribe(`${prefix}ch:${sessionId}`)
      const [isNew, epoch, seq, firstSeq] = await run<[number, string, number, number, number]>(
        'presence',
        sessionId,
        newEpoch(),
        Date.now() + options.graceMs,
        0,
      )
      // Another instance may still hold an older stream of this session: it closes it.
      await cmd.publish(`${prefix}ch:${sessionId}`, `!takeover ${connection}`)
      if (attached.get(sessionId) !== stream) return
      const from = resumeFrom({ isNew: isNew === 1, epoch, seq, firstKept: firstSeq > 0 ? firstSeq : seq + 1 }, lastEventId)
      if (typeof from === 'string') {
        observer.reset(from)
        stream.pending = null
        await run('emitEvent', sessionId, 'reset', eventData.reset(from))
        return
      }
      stream.written = from
      const entries = (await cmd.xrange(`${prefix}ev:${sessionId}`, `${from + 1}-1`, '+')) as Array<[string, string[]]>
      for (const [id, fields] of entries) {
        write(sessionId, stream, { seq: Number(id.slice(0, id.indexOf('-'))), epoch, type: fields[1]!, json: fields[3]! })
      }
      if (lastEventId) observer.replayed(entries.length)
      const pending = stream.pending ?? []
      stream.pending = null
      for (const event of pending) write(sessionId, stream, event)
    },

    disconnect(sessionId, sink) {
      const stream = attached.get(sessionId)
      if (stream?.sink === sink) lose(sessionId, stream)
    },

    async hasPeer(sessionId, peer) {
      if (!up.cmd) throw new Unavailable('redis unavailable')
      return (await cmd.hget(`${prefix}p:${peer}`, 'session')) === sessionId
    },

    stats: () => ({ ...counts, streams: attached.size, timers: closed ? 0 : 3 }),

    ready: () => up.cmd && up.sub,

    close() {
      if (closed) return
      closed = true
      clearInterval(heartbeat)
      clearInterval(refresh)
      clearInterval(sweep)
      for (const stream of attached.values()) stream.sink.close()
      attached.clear()
      cmd.disconnect()
      sub.disconnect()
    },
  }
}

/** "<seq>|<epoch>|<type>|<json>", as the Lua `emit` publishes it. */
function parsePublished(message: string): StoredEvent {
  const a = message.indexOf('|')
  const b = message.indexOf('|', a + 1)
  const c = message.indexOf('|', b + 1)
  return { seq: Number(message.slice(0, a)), epoch: message.slice(a + 1, b), type: message.slice(b + 1, c), json: message.slice(c + 1) }
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
