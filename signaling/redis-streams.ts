import { nanoid } from 'nanoid'
import { eventData, type HubOptions, newEpoch, resumeFrom, type Sink } from './hub'
import { NO_OBSERVER } from './metrics'
import type { RedisStore } from './redis-store'
import { formatEvent, HEARTBEAT_FRAME, spreadEvery } from './sse'

// Streams held here push their session's deadline forward this often; a crashed instance stops, and
// its sessions end one grace period later (when their browsers have not come back elsewhere).
const REFRESH_MS = 1_000

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

/** "<seq>|<epoch>|<type>|<json>", as the Lua `emit` publishes it. */
function parsePublished(message: string): StoredEvent {
  const a = message.indexOf('|')
  const b = message.indexOf('|', a + 1)
  const c = message.indexOf('|', b + 1)
  return { seq: Number(message.slice(0, a)), epoch: message.slice(a + 1, b), type: message.slice(b + 1, c), json: message.slice(c + 1) }
}

/**
 * The streams this instance holds: each session's events reach it by pub/sub on ch:<session>, after
 * a replay from the session's Redis stream on connect. sse.ts's formatEvent frames every event here.
 */
export function createHeldStreams(store: RedisStore, options: HubOptions & { prefix: string }) {
  const observer = options.observer ?? NO_OBSERVER
  const { cmd, sub, run } = store
  const attached = new Map<string, Attached>()
  const channel = (session: string) => `${options.prefix}ch:${session}`

  sub.on('message', (name: string, message: string) => {
    const session = name.slice(channel('').length)
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
    void sub.unsubscribe(channel(session)).catch(() => {})
    stream.sink.close()
  }

  /** The client's connection broke: its peers stay for the grace period, their rooms hear "away". */
  function lose(session: string, stream: Attached) {
    if (attached.get(session) !== stream) return
    drop(session, stream)
    run('presence', session, newEpoch(), Date.now() + options.graceMs, 1).catch(() => {})
  }

  const heartbeat = spreadEvery(
    options.heartbeatMs,
    () => attached,
    (stream) => {
      const t = Date.now()
      if (t - stream.lastWrite < options.heartbeatMs) return
      stream.lastWrite = t
      if (!stream.sink.write(HEARTBEAT_FRAME)) lose(stream.session, stream)
    },
  )

  const refresh = setInterval(() => {
    if (store.commandsUp() && attached.size > 0) store.refresh(attached.keys(), Date.now() + options.graceMs)
  }, REFRESH_MS)
  refresh.unref()

  /** Attaches a stream here (closing any older one, here or elsewhere) and replays what it missed. */
  async function connect(sessionId: string, lastEventId: string | undefined, sink: Sink): Promise<void> {
    const connection = nanoid()
    const previous = attached.get(sessionId)
    if (previous) drop(sessionId, previous)
    const stream: Attached = { session: sessionId, sink, lastWrite: Date.now(), written: 0, pending: [], connection }
    attached.set(sessionId, stream)
    // Subscribe first: nothing published while the replay is read can slip between the two.
    await sub.subscribe(channel(sessionId))
    const [isNew, epoch, seq, firstSeq] = await run<[number, string, number, number, number]>(
      'presence',
      sessionId,
      newEpoch(),
      Date.now() + options.graceMs,
      0,
    )
    // Another instance may still hold an older stream of this session: it closes it.
    await cmd.publish(channel(sessionId), `!takeover ${connection}`)
    if (attached.get(sessionId) !== stream) return
    const from = resumeFrom({ isNew: isNew === 1, epoch, seq, firstKept: firstSeq > 0 ? firstSeq : seq + 1 }, lastEventId)
    if (typeof from === 'string') {
      observer.reset(from)
      stream.pending = null
      await run('emitEvent', sessionId, 'reset', eventData.reset(from))
      return
    }
    stream.written = from
    const entries = (await cmd.xrange(`${options.prefix}ev:${sessionId}`, `${from + 1}-1`, '+')) as Array<[string, string[]]>
    for (const [id, fields] of entries) {
      write(sessionId, stream, { seq: Number(id.slice(0, id.indexOf('-'))), epoch, type: fields[1]!, json: fields[3]! })
    }
    if (lastEventId) observer.replayed(entries.length)
    const pending = stream.pending ?? []
    stream.pending = null
    for (const event of pending) write(sessionId, stream, event)
  }

  return {
    connect,
    /** The stream's connection closed: the session's peers stay for the grace period. */
    disconnect(sessionId: string, sink: Sink): void {
      const stream = attached.get(sessionId)
      if (stream?.sink === sink) lose(sessionId, stream)
    },
    /** The subscriber reconnected: listen to every held stream's channel again. */
    resubscribe(): void {
      const channels = [...attached.keys()].map(channel)
      if (channels.length > 0) void sub.subscribe(...channels).catch(() => {})
    },
    get size() {
      return attached.size
    },
    close(): void {
      clearInterval(heartbeat)
      clearInterval(refresh)
      for (const stream of attached.values()) stream.sink.close()
      attached.clear()
    },
  }
}
