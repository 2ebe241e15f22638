import {
  type Admission,
  encodeData,
  eventData,
  type Hub,
  type HubOptions,
  type JoinFailure,
  type JoinResult,
  peerInfo,
  type RelayResult,
  type Sink,
  sameVerifier,
} from './hub'
import { createMemoryTickets } from './join-tickets'
import { createSessions, type Session } from './memory-sessions'
import { NO_OBSERVER } from './metrics'
import type { LeaveReason, PeerInfo } from './protocol'

interface Peer {
  id: string
  room: Room
  session: Session<Peer>
  meta: string | undefined
  address: string | undefined
}

interface Room {
  id: string
  peers: Map<string, Peer>
  /** Registered by the room's first joiner; absent: the room is open to any joiner. */
  verifier: string | undefined
}

const info = (peer: Peer): PeerInfo => peerInfo(peer.id, peer.meta)

// The answer to nearly every relay, shared rather than built per signal.
const RELAYED: RelayResult = Object.freeze({ ok: true })

/** Why an existing room turns a new peer away, if it does: the link, the seat caps, the room's size. */
function refusal(options: HubOptions, room: Room, session: Session<Peer>, { verifier, address }: Admission): JoinFailure | undefined {
  if (room.verifier !== undefined && !sameVerifier(room.verifier, verifier)) return 'BAD_VERIFIER'
  let ofSession = 0
  let ofAddress = 0
  for (const peer of room.peers.values()) {
    if (peer.session === session) ofSession++
    if (address !== undefined && peer.address === address) ofAddress++
  }
  if (ofSession >= (options.maxSeatsPerSession ?? Infinity) || ofAddress >= (options.maxSeatsPerIp ?? Infinity)) return 'TOO_MANY_SEATS'
  if (room.peers.size >= options.maxPeersPerRoom) return 'ROOM_FULL'
  return undefined
}

export type MemoryHub = ReturnType<typeof createMemoryHub>

/**
 * The hub of a single process: rooms and peers in Maps, and the fan-out of their events to sessions
 * (memory-sessions.ts keeps each session's buffer, stream and grace period).
 */
export function createMemoryHub(options: HubOptions) {
  const observer = options.observer ?? NO_OBSERVER
  const rooms = new Map<string, Room>()
  const peers = new Map<string, Peer>()
  let closed = false
  const sessions = createSessions<Peer>(options, {
    expired: (session) => destroySession(session, 'timeout'),
    presence(session, away) {
      const type = away ? 'peer-away' : 'peer-back'
      for (const peer of session.peers.values()) broadcast(peer.room, peer, type, (to) => eventData[type](to, peer.id))
    },
  })

  /** Tells every other peer of the room; `data` builds each one's event, addressed to it. */
  function broadcast(room: Room, except: Peer, type: string, data: (to: string) => string): void {
    for (const peer of room.peers.values()) {
      if (peer !== except) sessions.emit(peer.session, type, data(peer.id))
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

  /** The one teardown path for a session: its peers leave, its stream and timer go. */
  function destroySession(session: Session<Peer>, reason: LeaveReason): void {
    sessions.destroy(session, () => {
      for (const peer of [...session.peers.values()]) removePeer(peer, reason)
    })
  }

  /** A failed join leaves no trace of a session it created. */
  function fail<C extends string>(session: Session<Peer>, isNew: boolean, code: C): { ok: false; code: C } {
    if (isNew) destroySession(session, 'leave')
    return { ok: false, code }
  }

  /** A new member of the room (or a departed one re-claiming its id); everyone else hears `peer-joined`. */
  function addPeer(
    session: Session<Peer>,
    isNew: boolean,
    room: string,
    meta: string | undefined,
    reclaim: string | undefined,
    admission: Admission,
  ): Peer | JoinResult {
    let target = rooms.get(room)
    if (session.peers.size >= options.maxPeersPerSession) return fail(session, isNew, 'TOO_MANY_PEERS')
    if (target) {
      const refused = refusal(options, target, session, admission)
      if (refused) return fail(session, isNew, refused)
    } else {
      target = { id: room, peers: new Map(), verifier: admission.verifier }
      rooms.set(room, target)
    }
    const id = reclaim ?? options.newPeerId(session.id, room)
    const self: Peer = { id, room: target, session, meta, address: admission.address }
    target.peers.set(self.id, self)
    session.peers.set(self.id, self)
    peers.set(self.id, self)
    const joiner = info(self)
    broadcast(target, self, 'peer-joined', (to) => eventData['peer-joined'](to, joiner))
    observer.joined()
    return self
  }

  return {
    join(sessionId: string, room: string, meta: string | undefined, reclaim?: string, admission: Admission = {}): JoinResult {
      const isNew = !sessions.has(sessionId)
      const session = sessions.getOrCreate(sessionId)
      let self = reclaim === undefined ? undefined : peers.get(reclaim)
      if (self && (self.session !== session || self.room.id !== room)) return fail(session, isNew, 'BAD_PEER')
      if (self) {
        // Idempotent re-join (after a `reset`): refresh the roster, tell nobody else anything.
        self.meta = meta
      } else {
        const added = addPeer(session, isNew, room, meta, reclaim, admission)
        if ('ok' in added) return added
        self = added
      }
      const others: PeerInfo[] = []
      for (const peer of self.room.peers.values()) if (peer !== self) others.push(info(peer))
      sessions.emit(session, 'roster', eventData.roster(self.id, room, others))
      return { ok: true, peer: self.id, peers: others }
    },

    relay(sessionId: string, from: string, to: string, data: unknown): RelayResult {
      const sender = peers.get(from)
      if (!sender || sender.session.id !== sessionId) return { ok: false, code: 'NOT_YOUR_PEER' }
      const target = peers.get(to)
      if (!target) return { ok: false, code: 'UNKNOWN_PEER' }
      if (target.room !== sender.room) return { ok: false, code: 'NOT_IN_ROOM' }
      const json = encodeData(data)
      if (json === null) return { ok: false, code: 'BAD_DATA' }
      sessions.emit(target.session, 'signal', eventData.signal(to, from, json))
      observer.relayed(1)
      return RELAYED
    },

    leave(sessionId: string, peer?: string): void {
      const session = sessions.get(sessionId)
      if (!session) return
      if (peer === undefined) {
        destroySession(session, 'leave')
        return
      }
      const member = session.peers.get(peer)
      if (member) removePeer(member, 'leave')
    },

    connect: (sessionId: string, lastEventId: string | undefined, sink: Sink): void => sessions.connect(sessionId, lastEventId, sink),
    disconnect: (sessionId: string, sink: Sink): void => sessions.disconnect(sessionId, sink),
    tickets: createMemoryTickets(options.now, undefined, options.ticketTtlMs),
    hasPeer: (sessionId: string, peer: string): boolean => peers.get(peer)?.session.id === sessionId,
    ready: () => !closed,

    stats() {
      const { sessions: count, streams, timers } = sessions.stats()
      // The heartbeat, plus a grace timer per session without a stream.
      return { rooms: rooms.size, peers: peers.size, sessions: count, streams, timers: (closed ? 0 : 1) + timers }
    },

    /** Ends every stream and timer; peers are not told to leave, so clients resume elsewhere. */
    close(): void {
      if (closed) return
      closed = true
      sessions.close()
      rooms.clear()
      peers.clear()
    },
  } satisfies Hub
}
