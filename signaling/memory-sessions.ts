import { eventData, type HubOptions, newEpoch, resumeFrom, retentionMs, type Sink } from './hub'
import { NO_OBSERVER } from './metrics'
import { formatEvent, HEARTBEAT_FRAME, spreadEvery } from './sse'

/** Replay buffers up to this many events are kept in arrays of their exact length. */
const EXACT_BUFFER_EVENTS = 16
// Shared by every empty buffer (an idle session's, after the retention time); frozen, so that a push
// onto one would throw rather than reach every session. `append` copies short buffers and never pushes.
const NO_FRAMES = Object.freeze([]) as unknown as string[]
const NO_TIMES = Object.freeze([]) as unknown as number[]

/** One client's session: its numbered events, its stream (if open), its grace timer; `P`: its peers. */
export interface Session<P> {
  id: string
  /** Changes whenever the server creates the session afresh, so stale Last-Event-IDs are recognised. */
  epoch: string
  seq: number
  /**
   * The replay buffer: from index `head` on, the frames of the events after `prunedThrough`, in order
   * (so `frames[head + i]` is event `prunedThrough + 1 + i`), and when each was sent. Two flat arrays
   * rather than an object per event: every session keeps its recent events for the retention time.
   */
  frames: string[]
  sentAt: number[]
  /** Where the kept events start: pruning moves it, and the arrays are compacted only once half dead. */
  head: number
  bufferBytes: number
  /** Highest sequence number dropped from the buffer; a resume from below it has a gap. */
  prunedThrough: number
  peers: Map<string, P>
  sink: Sink | null
  /** When its stream was last written to (heartbeats go to quiet ones only). */
  lastWrite: number
  /** Its stream dropped and has not come back (yet): the room heard `peer-away`. */
  away: boolean
  graceTimer: ReturnType<typeof setTimeout> | null
}

/** What the rooms hear of sessions. */
export interface SessionEvents<P> {
  /** The grace period ran out without a stream: the session must end. */
  expired(session: Session<P>): void
  /** The session's stream dropped (true) or came back (false). */
  presence(session: Session<P>, away: boolean): void
}

/**
 * Drops events older than `cutoff`, and the oldest ones while over the count or byte limit. A busy
 * session drops one event per event it gets: shifting the arrays each time would copy the whole buffer.
 */
function prune(session: Session<unknown>, cutoff: number, limits: Pick<HubOptions, 'replayEvents' | 'replayBytes'>): void {
  const { frames, sentAt } = session
  let head = session.head
  while (
    head < frames.length &&
    (sentAt[head]! < cutoff || frames.length - head > limits.replayEvents || session.bufferBytes > limits.replayBytes)
  ) {
    session.bufferBytes -= frames[head]!.length
    frames[head] = ''
    head++
  }
  if (head === session.head) return
  session.prunedThrough += head - session.head
  // An idle session's buffer empties after the retention time: the shared empty arrays hold no storage.
  if (head === frames.length) clearBuffer(session)
  else if (head * 2 >= frames.length) {
    frames.splice(0, head)
    sentAt.splice(0, head)
    session.head = 0
  } else session.head = head
}

function clearBuffer(session: Session<unknown>): void {
  session.frames = NO_FRAMES
  session.sentAt = NO_TIMES
  session.head = 0
}

/** Numbers the event, frames it once (sse.ts), and keeps the frame for replay. */
function append(session: Session<unknown>, type: string, json: string, at: number): string {
  const seq = ++session.seq
  const frame = formatEvent(type, json, `${session.epoch}-${seq}`)
  const { frames, sentAt } = session
  // A first push (or a spread) gives an array room for 17; most sessions hold a few events until
  // they expire, so short buffers are copied at their exact length by `concat` instead.
  if (frames.length < EXACT_BUFFER_EVENTS) {
    session.frames = frames.concat(frame)
    session.sentAt = sentAt.concat(at)
  } else {
    frames.push(frame)
    sentAt.push(at)
  }
  session.bufferBytes += frame.length
  return frame
}

function stopGrace(session: Session<unknown>): void {
  if (session.graceTimer) clearTimeout(session.graceTimer)
  session.graceTimer = null
}

function newSession<P>(id: string): Session<P> {
  return {
    id,
    epoch: newEpoch(),
    seq: 0,
    frames: NO_FRAMES,
    sentAt: NO_TIMES,
    head: 0,
    bufferBytes: 0,
    prunedThrough: 0,
    peers: new Map(),
    sink: null,
    lastWrite: 0,
    away: false,
    graceTimer: null,
  }
}

/** Writes the buffered events after `from`, byte for byte; how many, or null if the sink backed up. */
function replay(session: Session<unknown>, from: number, sink: Sink): number | null {
  const { frames } = session
  let replayed = 0
  for (let i = session.head + Math.max(0, from - session.prunedThrough); i < frames.length; i++) {
    replayed++
    if (!sink.write(frames[i]!)) return null
  }
  return replayed
}

/**
 * The in-memory hub's sessions: each one's replay buffer, its one stream with heartbeats and
 * back-pressure, and its grace period. Rooms and peers are the hub's (memory-hub.ts).
 */
export function createSessions<P>(options: HubOptions, events: SessionEvents<P>) {
  const now = options.now ?? Date.now
  const observer = options.observer ?? NO_OBSERVER
  const retention = retentionMs(options)
  const sessions = new Map<string, Session<P>>()
  let streams = 0

  // Streams quiet for a heartbeat period get a comment; old events are pruned on the same round.
  const heartbeat = spreadEvery(
    options.heartbeatMs,
    () => sessions,
    (session) => {
      const t = now()
      prune(session, t - retention, options)
      if (session.sink && t - session.lastWrite >= options.heartbeatMs) {
        session.lastWrite = t
        if (!session.sink.write(HEARTBEAT_FRAME)) detach(session)
      }
    },
  )

  function getOrCreate(id: string): Session<P> {
    let session = sessions.get(id)
    if (!session) {
      session = newSession<P>(id)
      sessions.set(id, session)
      startGrace(session)
    }
    return session
  }

  /** Appends an event to the session's replay buffer and writes it to the open stream, if any. */
  function emit(session: Session<P>, type: string, json: string): void {
    const at = now()
    const frame = append(session, type, json, at)
    prune(session, at - retention, options)
    session.lastWrite = at
    if (session.sink && !session.sink.write(frame)) detach(session)
  }

  function startGrace(session: Session<P>): void {
    if (session.graceTimer) return
    session.graceTimer = setTimeout(() => {
      session.graceTimer = null
      events.expired(session)
    }, options.graceMs)
  }

  /** Closes the session's stream without a presence hint (replaced by a newer one, or the end). */
  function closeStream(session: Session<P>): void {
    const sink = session.sink
    if (!sink) return
    session.sink = null
    streams--
    sink.close()
  }

  /** The stream cannot keep up: close it; the client resumes from what it received. */
  function detach(session: Session<P>): void {
    const sink = session.sink
    if (!sink) return
    lostStream(session)
    sink.close()
  }

  /** The stream is gone: the peers stay for the grace period, and their rooms hear a presence hint. */
  function lostStream(session: Session<P>): void {
    session.sink = null
    streams--
    startGrace(session)
    setAway(session, true)
  }

  function setAway(session: Session<P>, away: boolean): void {
    if (session.away === away) return
    session.away = away
    events.presence(session, away)
  }

  return {
    get: (id: string) => sessions.get(id),
    has: (id: string) => sessions.has(id),
    getOrCreate,
    emit,

    /** Attaches a stream (replacing an older one) and replays what it missed, or tells it to reset. */
    connect(id: string, lastEventId: string | undefined, sink: Sink): void {
      const isNew = !sessions.has(id)
      const session = getOrCreate(id)
      // A newer connection of the same client: not a drop, so no presence hint.
      closeStream(session)
      stopGrace(session)
      session.sink = sink
      streams++
      setAway(session, false)
      const from = resumeFrom({ isNew, epoch: session.epoch, seq: session.seq, firstKept: session.prunedThrough + 1 }, lastEventId)
      if (typeof from === 'string') {
        observer.reset(from)
        emit(session, 'reset', eventData.reset(from))
        return
      }
      const replayed = replay(session, from, sink)
      if (replayed === null) {
        detach(session)
        return
      }
      if (lastEventId) observer.replayed(replayed)
    },

    disconnect(id: string, sink: Sink): void {
      const session = sessions.get(id)
      if (session && session.sink === sink) lostStream(session)
    },

    /** The one teardown path: forgets the session, lets `before` remove its peers, then closes its stream. */
    destroy(session: Session<P>, before: () => void): void {
      if (sessions.get(session.id) !== session) return
      sessions.delete(session.id)
      stopGrace(session)
      before()
      closeStream(session)
      clearBuffer(session)
    },

    stats() {
      let timers = 0
      for (const session of sessions.values()) if (session.graceTimer) timers++
      return { sessions: sessions.size, streams, timers }
    },

    /** Ends every stream and timer without telling anyone: clients resume elsewhere. */
    close(): void {
      clearInterval(heartbeat)
      for (const session of sessions.values()) {
        stopGrace(session)
        closeStream(session)
      }
      sessions.clear()
    },
  }
}
