import type { LeaveReason, PeerInfo } from './protocol'
import { NO_OBSERVER } from './metrics'
import { formatEvent, HEARTBEAT_FRAME, spreadEvery } from './sse'
import { encodeData, eventData, newEpoch, peerInfo, resumeFrom, retentionMs as retention, type Hub, type HubOptions, type JoinResult, type RelayResult, type Sink } from './hub'

interface Peer {
  id: string
  room: Room
  session: Session
  meta: string | undefined
}

interface Room {
  id: string
  peers: Map<string, Peer>
}

interface Buffered {
  seq: number
  at: number
  frame: string
}

interface Session {
  id: string
  /** Changes whenever the server creates the session afresh, so stale Last-Event-IDs are recognised. */
  epoch: string
  seq: number
  buffer: Buffered[]
  bufferBytes: number
  /** Highest sequence number dropped from the buffer; a resume from below it has a gap. */
  prunedThrough: number
  peers: Map<string, Peer>
  sink: Sink | null
  /** When its stream was last written to (heartbeats go to quiet ones only). */
  lastWrite: number
  /** Its stream dropped and has not come back (yet): the room heard `peer-away`. */
  away: boolean
  graceTimer: ReturnType<typeof setTimeout> | null
}

export type MemoryHub = ReturnType<typeof createMemoryHub>

/** The hub of a single process: rooms, sessions and their replay buffers in Maps. */
export function createMemoryHub(options: HubOptions) {
  const now = options.now ?? Date.now
  const observer = options.observer ?? NO_OBSERVER
  const retentionMs = retention(options)
  const sessions = new Map<string, Session>()
  const rooms = new Map<string, Room>()
  const peers = new Map<string, Peer>()
  let streams = 0
  let closed = false

  // Streams quiet for a heartbeat period get a comment; old events are pruned on the same round.
  const heartbeat = spreadEvery(options.heartbeatMs, () => sessions, (session) => {
    const t = now()
    prune(session, t - retentionMs)
    if (session.sink && t - session.lastWrite >= options.heartbeatMs) {
      session.lastWrite = t
      if (!session.sink.write(HEARTBEAT_FRAME)) detach(session)
    }
  })

  function getOrCreateSession(id: string): Session {
    let session = sessions.get(id)
    if (!session) {
      session = {
        id,
        epoch: newEpoch(),
        seq: 0,
        buffer: [],
        bufferBytes: 0,
        prunedThrough: 0,
        peers: new Map(),
        sink: null,
        lastWrite: 0,
        away: false,
        graceTimer: null,
      }
      sessions.set(id, session)
      startGrace(session)
    }
    return session
  }

  function prune(session: Session, cutoff: number): void {
    const { buffer } = session
    let drop = 0
    while (
      drop < buffer.length &&
      (buffer[drop]!.at < cutoff ||
        buffer.length - drop > options.replayEvents ||
        session.bufferBytes > options.replayBytes)
    ) {
      session.bufferBytes -= buffer[drop]!.frame.length
      session.prunedThrough = buffer[drop]!.seq
      drop++
    }
    if (drop > 0) buffer.splice(0, drop)
  }

  /** Appends an event to the session's replay buffer and writes it to the open stream, if any. */
  function emit(session: Session, type: string, json: string): void {
    const seq = ++session.seq
    const frame = formatEvent(type, json, `${session.epoch}-${seq}`)
    const at = now()
    session.buffer.push({ seq, at, frame })
    session.bufferBytes += frame.length
    prune(session, at - retentionMs)
    session.lastWrite = at
    if (session.sink && !session.sink.write(frame)) detach(session)
  }

  /** Tells every other peer of the room; `data` builds each one's event, addressed to it. */
  function broadcast(room: Room, except: Peer, type: string, data: (to: string) => string): void {
    for (const peer of room.peers.values()) {
      if (peer !== except) emit(peer.session, type, data(peer.id))
    }
  }

  function removePeer(peer: Peer, reason: LeaveReason): void {
    observer.left(reason, 1)
    const { room, session } = peer
    room.peers.delete(peer.id)
    session.peers.delete(peer.id)
    peers.delete(peer.id)
    broadcast(room, peer, 'peer-left', (to) => eventData['peer-left'](to, peer.id, reason))
    if (room.peers.size === 0) rooms.delete(room.id)
  }

  function startGrace(session: Session): void {
    if (session.graceTimer) return
    session.graceTimer = setTimeout(() => expire(session), options.graceMs)
  }

  function stopGrace(session: Session): void {
    if (session.graceTimer) clearTimeout(session.graceTimer)
    session.graceTimer = null
  }

  /** The one teardown path for a session: its peers leave, its stream and timer go. */
  function destroySession(session: Session, reason: LeaveReason): void {
    if (sessions.get(session.id) !== session) return
    sessions.delete(session.id)
    stopGrace(session)
    for (const peer of [...session.peers.values()]) removePeer(peer, reason)
    const sink = session.sink
    if (sink) {
      session.sink = null
      streams--
      sink.close()
    }
    session.buffer = []
  }

  function expire(session: Session): void {
    session.graceTimer = null
    destroySession(session, 'timeout')
  }

  function detach(session: Session): void {
    const sink = session.sink
    if (!sink) return
    lostStream(session)
    sink.close()
  }

  /** The stream is gone: the peers stay for the grace period, and their rooms hear a presence hint. */
  function lostStream(session: Session): void {
    session.sink = null
    streams--
    startGrace(session)
    setAway(session, true)
  }

  function setAway(session: Session, away: boolean): void {
    if (session.away === away) return
    session.away = away
    for (const peer of session.peers.values()) {
      const type = away ? 'peer-away' : 'peer-back'
      broadcast(peer.room, peer, type, (to) => eventData[type](to, peer.id))
    }
  }

  return {
    /** Adds a peer to a room, creating the session if the server does not know it (yet, or any more). */
    join(sessionId: string, room: string, meta: string | undefined, reclaim?: string): JoinResult {
      const isNew = !sessions.has(sessionId)
      const session = getOrCreateSession(sessionId)
      let self = reclaim === undefined ? undefined : peers.get(reclaim)
      if (self && (self.session !== session || self.room.id !== room)) return fail(session, isNew, 'BAD_PEER')
      if (self) {
        // Idempotent re-join (after a `reset`): refresh the roster, tell nobody else anything.
        self.meta = meta
      } else {
        let target = rooms.get(room)
        if (session.peers.size >= options.maxPeersPerSession) return fail(session, isNew, 'TOO_MANY_PEERS')
        if (target && target.peers.size >= options.maxPeersPerRoom) return fail(session, isNew, 'ROOM_FULL')
        if (!target) {
          target = { id: room, peers: new Map() }
          rooms.set(room, target)
        }
        self = { id: reclaim ?? options.newPeerId(session.id, room), room: target, session, meta }
        target.peers.set(self.id, self)
        session.peers.set(self.id, self)
        peers.set(self.id, self)
        const joiner = info(self)
        broadcast(target, self, 'peer-joined', (to) => eventData['peer-joined'](to, joiner))
        observer.joined()
      }
      const others: PeerInfo[] = []
      for (const peer of self.room.peers.values()) if (peer !== self) others.push(info(peer))
      emit(session, 'roster', eventData.roster(self.id, room, others))
      return { ok: true, peer: self.id, peers: others }
    },

    /** Relays an opaque signal payload from one of the session's peers to a peer in the same room. */
    relay(sessionId: string, from: string, to: string, data: unknown): RelayResult {
      const sender = peers.get(from)
      if (!sender || sender.session.id !== sessionId) return { ok: false, code: 'NOT_YOUR_PEER' }
      const target = peers.get(to)
      if (!target) return { ok: false, code: 'UNKNOWN_PEER' }
      if (target.room !== sender.room) return { ok: false, code: 'NOT_IN_ROOM' }
      const json = encodeData(data)
      if (json === null) return { ok: false, code: 'BAD_DATA' }
      emit(target.session, 'signal', eventData.signal(to, from, json))
      observer.relayed(1)
      return { ok: true }
    },

    /** One peer leaves, or (without `peer`) the whole session ends. Unknown ids are a no-op. */
    leave(sessionId: string, peer?: string): void {
      const session = sessions.get(sessionId)
      if (!session) return
      if (peer === undefined) return destroySession(session, 'leave')
      const member = session.peers.get(peer)
      if (member) removePeer(member, 'leave')
    },

    /**
     * Attaches a stream to the session (replacing an older one) and replays what it missed since
     * `lastEventId`. A session the server does not know is created empty and told to `reset`.
     */
    connect(sessionId: string, lastEventId: string | undefined, sink: Sink): void {
      const isNew = !sessions.has(sessionId)
      const session = getOrCreateSession(sessionId)
      const replaced = session.sink
      if (replaced) {
        // A newer connection of the same client: not a drop, so no presence hint.
        session.sink = null
        streams--
        replaced.close()
      }
      stopGrace(session)
      session.sink = sink
      streams++
      setAway(session, false)
      const from = resumeFrom({ isNew, epoch: session.epoch, seq: session.seq, firstKept: session.prunedThrough + 1 }, lastEventId)
      if (typeof from === 'string') {
        observer.reset(from)
        return emit(session, 'reset', eventData.reset(from))
      }
      let replayed = 0
      for (const event of session.buffer) {
        if (event.seq <= from) continue
        replayed++
        if (!sink.write(event.frame)) return detach(session)
      }
      if (lastEventId) observer.replayed(replayed)
    },

    /** The stream's connection closed: the session's peers stay for the grace period. */
    disconnect(sessionId: string, sink: Sink): void {
      const session = sessions.get(sessionId)
      if (session && session.sink === sink) lostStream(session)
    },

    hasPeer(sessionId: string, peer: string): boolean {
      return peers.get(peer)?.session.id === sessionId
    },

    ready: () => !closed,

    stats() {
      let timers = closed ? 0 : 1
      for (const session of sessions.values()) if (session.graceTimer) timers++
      return { rooms: rooms.size, peers: peers.size, sessions: sessions.size, streams, timers }
    },

    /** Ends every stream and timer; peers are not told to leave, so clients resume elsewhere. */
    close(): void {
      if (closed) return
      closed = true
      clearInterval(heartbeat)
      for (const session of sessions.values()) {
        stopGrace(session)
        const sink = session.sink
        session.sink = null
        sink?.close()
      }
      streams = 0
      sessions.clear()
      rooms.clear()
      peers.clear()
    },
  } satisfies Hub

  /** A failed join leaves no trace of a session it created. */
  function fail<C extends string>(session: Session, isNew: boolean, code: C): { ok: false; code: C } {
    if (isNew) destroySession(session, 'leave')
    return { ok: false, code }
  }

  function info(peer: Peer): PeerInfo {
    return peerInfo(peer.id, peer.meta)
  }
}
