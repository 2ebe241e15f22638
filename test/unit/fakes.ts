/**
 * In-memory stand-ins for the room's collaborators, so room logic runs in Node without WebRTC or a network:
 * a fake `Signaling`, fake simple-peers, and a switchboard that plays the server for N fake rooms.
 * Everything is delivered on microtasks (never timers), so tests may use fake timers for the mesh's
 * backoff and still wait on events.
 */
import { nanoid } from 'nanoid'
import { joinRoom } from '../../client/lib'
import { createEmitter } from '../../client/lib/emitter'
import { parseEnvelope } from '../../client/lib/peer-protocol'
import type { KeyStore } from '../../client/lib/stored'
import type {
  CreatePeer,
  Identity,
  Membership,
  MembershipEvent,
  MembershipHandlers,
  PeerLike,
  Room,
  RoomEvents,
  Sealer,
  Signaling,
  SignalingEvents,
  SignalingStatus,
} from '../../client/lib/types'
import type { IceServer, LeaveReason, PeerInfo } from '../../signaling/protocol'
import { randomRoom } from '../helpers'

export const FAKE_ICE_SERVERS: IceServer[] = [{ urls: 'stun:stun.invalid:3478' }]

// Captured before any test installs fake timers: waiting for quiescence must not depend on the fake clock.
const realSetImmediate = setImmediate

/** Resolves once every queued microtask (fake deliveries, fake connects) has run. */
export const settle = () => new Promise<void>((resolve) => realSetImmediate(resolve))

export interface JoinCall {
  room: string
  meta: string | undefined
  handlers: MembershipHandlers
  /** Completes the join like the server: `handlers.joined`, then the join promise resolves. */
  resolve(peer: string, peers?: PeerInfo[], iceServers?: IceServer[]): Membership
  reject(err: Error): void
}

export interface SignalCall {
  from: string
  to: string
  data: unknown
}

export interface FakeSignaling extends Signaling {
  readonly joins: JoinCall[]
  readonly signals: SignalCall[]
  readonly leaves: string[]
  readonly closes: number
  setStatus(status: SignalingStatus): void
  emitError(err: Error): void
  /** Delivers a server event to a joined membership (the only one, when `peer` is left out). */
  push(event: MembershipEvent, peer?: string): void
}

/** What a server does with a fake signaling's calls; without hooks the test drives everything by hand. */
export interface SignalingHooks {
  join(call: JoinCall): void
  signal(call: SignalCall): void
  leave(peer: string): void
}

export function createFakeSignaling(hooks?: SignalingHooks): FakeSignaling {
  const events = createEmitter<SignalingEvents>()
  const joins: JoinCall[] = []
  const signals: SignalCall[] = []
  const leaves: string[] = []
  const members = new Map<string, MembershipHandlers>()
  let status: SignalingStatus = 'online'
  let closes = 0

  return {
    on: events.on,
    off: events.off,
    get status() {
      return status
    },
    joins,
    signals,
    leaves,
    get closes() {
      return closes
    },

    join(room, meta, handlers) {
      return new Promise<Membership>((resolve, reject) => {
        const call: JoinCall = {
          room,
          meta,
          handlers,
          resolve(peer, peers = [], iceServers = FAKE_ICE_SERVERS) {
            const membership = { peer, peers, iceServers, token: `fake-token-${peer}` }
            members.set(peer, handlers)
            handlers.joined(membership)
            resolve(membership)
            return membership
          },
          reject,
        }
        joins.push(call)
        hooks?.join(call)
      })
    },

    signal(from, to, data) {
      const call = { from, to, data }
      signals.push(call)
      hooks?.signal(call)
    },

    flush() {},
    refreshIce: async () => ({ iceServers: FAKE_ICE_SERVERS }),
    leave(peer) {
      leaves.push(peer)
      if (members.delete(peer)) hooks?.leave(peer)
    },

    close() {
      closes++
    },

    setStatus(next) {
      if (next === status) return
      status = next
      events.emit('status', next)
    },

    emitError(err) {
      events.emit('error', err)
    },

    push(event, peer) {
      const handlers = peer === undefined && members.size === 1 ? [...members.values()][0] : members.get(peer ?? '')
      if (!handlers) throw new Error(`no membership ${peer ?? '(only one expected)'}`)
      handlers.event(event)
    },
  }
}

type FakePeerEvent = 'signal' | 'connect' | 'data' | 'close' | 'error'

/**
 * Signals look like simple-peer's (`offer`, `answer`, `candidate`); the `sdp` names the fake peer that
 * made it, which is how two fakes find each other once their signals have crossed the fake signaling.
 */
export interface FakePeer extends PeerLike {
  readonly serial: number
  /** Peer id of the room that created it. */
  readonly owner: string
  readonly initiator: boolean
  readonly iceServers: IceServer[]
  /** The fake at the other end, once an offer has reached a responder. */
  readonly partner: FakePeer | null
  readonly connected: boolean
  readonly destroyed: boolean
  /** How many times the mesh called `destroy()`. */
  readonly destroyCalls: number
  /** Every payload the mesh passed to `signal()`. */
  readonly received: unknown[]
  /** Every signal this fake emitted. */
  readonly emitted: unknown[]
  /** Every string the mesh sent. */
  readonly sent: string[]
  /** The link drops: both ends emit `error` then `close` (nobody called destroy). */
  fail(err?: Error): void
  /** Emits `data` here as if the partner had sent it. */
  inject(data: unknown): void
}

interface FakePeerInternals extends FakePeer {
  paired(partner: FakePeerInternals): void
  open(): void
  shutdown(err?: Error): void
}

export interface FakeNetwork {
  /** Every fake peer created on this network, in order. */
  readonly peers: FakePeer[]
  /** A `CreatePeer` for one room; `owner` reads that room's peer id when a peer is made. */
  createPeer(owner: () => string): CreatePeer
}

const sdpSerial = (signal: unknown): number | undefined => {
  const sdp = (signal as { sdp?: unknown } | null)?.sdp
  const match = typeof sdp === 'string' ? /^fake-(?:offer|answer) (\d+)$/.exec(sdp) : null
  return match ? Number(match[1]) : undefined
}

export function createFakeNetwork(): FakeNetwork {
  const peers: FakePeerInternals[] = []

  function makePeer(owner: string, initiator: boolean, iceServers: IceServer[]): FakePeerInternals {
    const serial = peers.length + 1
    const handlers = new Map<FakePeerEvent, Set<(arg: never) => void>>()
    const received: unknown[] = []
    const emitted: unknown[] = []
    const sent: string[] = []
    let partner: FakePeerInternals | null = null
    let connected = false
    let destroyed = false
    let destroyCalls = 0

    const emit = (event: FakePeerEvent, arg?: unknown) => {
      for (const handler of [...(handlers.get(event) ?? [])]) (handler as (arg: unknown) => void)(arg)
    }
    const emitSignal = (signal: unknown) => {
      emitted.push(signal)
      emit('signal', signal)
    }
    const candidate = () => ({
      type: 'candidate',
      candidate: { candidate: `candidate:fake ${serial}`, sdpMLineIndex: 0, sdpMid: '0' },
    })

    const peer: FakePeerInternals = {
      serial,
      owner,
      initiator,
      iceServers,
      get partner() {
        return partner
      },
      get connected() {
        return connected
      },
      get destroyed() {
        return destroyed
      },
      get destroyCalls() {
        return destroyCalls
      },
      received,
      emitted,
      sent,

      on(event: FakePeerEvent, handler: (arg: never) => void) {
        let set = handlers.get(event)
        if (!set) {
          set = new Set()
          handlers.set(event, set)
        }
        set.add(handler)
        return peer
      },

      signal(data) {
        // simple-peer throws here too (ERR_DESTROYED): the mesh must never signal a dropped peer.
        if (destroyed) throw new Error('cannot signal after peer is destroyed')
        received.push(data)
        const type = (data as { type?: unknown }).type
        const other = peers[(sdpSerial(data) ?? 0) - 1]
        if (type === 'offer' && !initiator && !partner && other?.initiator && !other.destroyed && !other.partner) {
          partner = other
          other.paired(peer)
          queueMicrotask(() => {
            if (destroyed) return
            emitSignal({ type: 'answer', sdp: `fake-answer ${serial}` })
            emitSignal(candidate())
          })
        } else if (type === 'answer' && initiator && partner === other && other && !connected) {
          queueMicrotask(() => {
            if (destroyed || other.destroyed) return
            peer.open()
            other.open()
          })
        }
      },

      send(data) {
        if (destroyed || !connected || !partner) throw new Error('data channel is not open')
        sent.push(data)
        const to = partner
        queueMicrotask(() => {
          // In flight when the link dropped: lost, like on a real channel.
          if (!connected || to.destroyed || !to.connected || to.partner !== peer) return
          to.inject(data)
        })
      },

      destroy() {
        destroyCalls++
        if (destroyed) return
        const other = partner
        peer.shutdown()
        other?.shutdown()
      },

      fail(err = new Error('connection failed')) {
        const other = partner
        peer.shutdown(err)
        other?.shutdown(err)
      },

      inject(data) {
        if (!destroyed) emit('data', data)
      },

      paired(other) {
        partner = other
      },

      open() {
        if (destroyed || connected) return
        connected = true
        emit('connect')
      },

      shutdown(err) {
        if (destroyed) return
        destroyed = true
        connected = false
        // simple-peer emits these asynchronously, error first.
        queueMicrotask(() => {
          if (err) emit('error', err)
          emit('close')
        })
      },
    }
    peers.push(peer)
    if (initiator) {
      queueMicrotask(() => {
        if (destroyed) return
        emitSignal({ type: 'offer', sdp: `fake-offer ${serial}` })
        emitSignal(candidate())
      })
    }
    return peer
  }

  return {
    peers,
    createPeer:
      (owner) =>
      ({ initiator, iceServers }) =>
        makePeer(owner(), initiator, iceServers),
  }
}

export interface FakeClient {
  /** The peer id the switchboard issued ('' until joined). */
  readonly id: string
  readonly signaling: FakeSignaling
  readonly createPeer: CreatePeer
  /** Every fake peer this client's room created, in order. */
  readonly peers: FakePeer[]
  /** The newest fake peer of this client that is paired with `remote`'s. */
  peerTo(remote: string): FakePeer | undefined
}

export interface Switchboard {
  /** A new browser: its own fake signaling and peer factory. `id` fixes the peer id it will be issued. */
  client(options?: { id?: string }): FakeClient
  /** Every signal routed (or refused), in order. */
  readonly log: SignalCall[]
  /** Queue signals instead of delivering them (membership events still flow). */
  holdSignals(): void
  releaseSignals(): void
  /** Server-side removal (e.g. the stream timed out): the others get `peer-left`. */
  drop(peer: string, reason?: LeaveReason): void
  /** Pushes a server event to one member, on a microtask like everything else. */
  deliver(to: string, event: MembershipEvent): void
}

interface Member {
  id: string
  room: string
  meta: string | undefined
  handlers: MembershipHandlers
}

export function createSwitchboard(): Switchboard {
  const network = createFakeNetwork()
  const members = new Map<string, Member>()
  const log: SignalCall[] = []
  let held: SignalCall[] | null = null

  const roomOf = (room: string) => [...members.values()].filter((m) => m.room === room)
  const info = (m: Member): PeerInfo => (m.meta === undefined ? { id: m.id } : { id: m.id, meta: m.meta })

  function deliver(to: string, event: MembershipEvent) {
    queueMicrotask(() => members.get(to)?.handlers.event(event))
  }

  function route(call: SignalCall) {
    const from = members.get(call.from)
    const to = members.get(call.to)
    // The server refuses signals from peers it no longer knows and to peers in other rooms (or gone).
    if (!from || !to || from.room !== to.room) return
    deliver(call.to, { type: 'signal', from: call.from, data: call.data })
  }

  function depart(peer: string, reason: LeaveReason) {
    const member = members.get(peer)
    if (!member) return
    members.delete(peer)
    for (const other of roomOf(member.room)) deliver(other.id, { type: 'peer-left', peer, reason })
  }

  return {
    log,
    client(options = {}) {
      let id = ''
      const hooks: SignalingHooks = {
        join(call) {
          queueMicrotask(() => {
            const { room, meta, handlers } = call
            const member: Member = { id: options.id ?? nanoid(), room, meta, handlers }
            const others = roomOf(room)
            members.set(member.id, member)
            id = member.id
            call.resolve(member.id, others.map(info))
            deliver(member.id, { type: 'roster', room, peers: others.map(info) })
            for (const other of others) deliver(other.id, { type: 'peer-joined', peer: info(member) })
          })
        },
        signal(call) {
          log.push(call)
          if (held) held.push(call)
          else route(call)
        },
        leave: (peer) => depart(peer, 'leave'),
      }
      const signaling = createFakeSignaling(hooks)
      const createPeer = network.createPeer(() => id)
      const mine = () => network.peers.filter((p) => p.owner === id && id !== '')
      return {
        get id() {
          return id
        },
        signaling,
        createPeer,
        get peers() {
          return mine()
        },
        peerTo: (remote) =>
          mine()
            .filter((p) => p.partner?.owner === remote)
            .at(-1),
      }
    },
    holdSignals() {
      held ??= []
    },
    releaseSignals() {
      const queued = held ?? []
      held = null
      for (const call of queued) route(call)
    },
    drop: (peer, reason = 'timeout') => depart(peer, reason),
    deliver,
  }
}

/** Resolves as soon as `check()` holds: now, or after one of `types` is emitted by `room`. */
export function when(room: Room, types: Array<keyof RoomEvents>, check: () => boolean): Promise<void> {
  if (check()) return Promise.resolve()
  return new Promise((resolve) => {
    const offs = types.map((type) =>
      room.on(type, () => {
        if (!check()) return
        for (const off of offs) off()
        resolve()
      }),
    )
  })
}

/** The next `type` event of `room` that matches. */
export function next<K extends keyof RoomEvents>(
  room: Room,
  type: K,
  match: (payload: RoomEvents[K]) => boolean = () => true,
): Promise<RoomEvents[K]> {
  return new Promise((resolve) => {
    const off = room.on(type, (payload) => {
      if (!match(payload)) return
      off()
      resolve(payload)
    })
  })
}

/** Every `type` event of `room` from now on. */
export function collect<K extends keyof RoomEvents>(room: Room, type: K): Array<RoomEvents[K]> {
  const seen: Array<RoomEvents[K]> = []
  room.on(type, (payload) => void seen.push(payload))
  return seen
}

/** `room` sees `count` peers, all connected. */
export const connectedTo = (room: Room, count: number) =>
  when(
    room,
    ['peer-connected', 'peer-updated', 'peer-joined', 'peer-left'],
    () => room.peers.length === count && room.peers.every((p) => p.state === 'connected'),
  )

/** The room's encryption with the cipher taken out: signals and names travel as they are. */
export function clearSealer(): Sealer {
  return {
    sealSignal: async (_self, _to, envelope) => envelope as unknown as string,
    openSignal: async (_self, _from, sealed) => {
      const envelope = parseEnvelope(sealed)
      return envelope ? { ok: true, envelope, fingerprint: null } : { ok: false, reason: 'forged' }
    },
    sealMeta: async (name) => name,
    openMeta: async (meta) => meta ?? null,
  }
}

/** A room secret for tests (any 22+ URL-safe characters). */
export const TEST_ROOM_SECRET = 'test-room-secret-0123456789'

/** For unit tests of the room logic: signs nothing, trusts everything. */
export const trustingIdentity = (): Identity => ({
  key: 'unsigned-test-key-000000000000000000000000000000',
  sign: async () => 'unsigned',
  verify: async () => true,
})

/**
 * A room over fake signaling and network whose signing key is not ready until `keyLoaded()`: its key store
 * answers then (IndexedDB still opening), with nothing kept, so a new key is made. The join does not wait.
 */
export function joinWithSlowKey() {
  let keyLoaded!: () => void
  const loaded = new Promise<void>((resolve) => (keyLoaded = resolve))
  const keys: KeyStore = { load: () => loaded.then(() => undefined), save: async () => {} }
  const signaling = createFakeSignaling()
  const network = createFakeNetwork()
  const room: Room = joinRoom({
    secret: TEST_ROOM_SECRET,
    sealer: clearSealer(),
    keys,
    room: randomRoom(),
    name: 'Mo',
    signaling,
    createPeer: network.createPeer(() => room.self.id),
  })
  return { room, signaling, network, keyLoaded }
}
