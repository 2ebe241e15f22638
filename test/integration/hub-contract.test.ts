import { nanoid } from 'nanoid'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Hub as AnyHub, HubOptions, JoinResult, RelayResult, Sink } from '../../signaling/hub'
import { TICKET_TTL_MS } from '../../signaling/join-tickets'
import { createLogger } from '../../signaling/log'
import { createMemoryHub } from '../../signaling/memory-hub'
import { createRedisHub } from '../../signaling/redis-hub'
import { HEARTBEAT_FRAME } from '../../signaling/sse'
import { pollUntil, randomRoom, within } from '../helpers'
import { type Service, startRedis } from '../services'

// One contract, two hubs: every test here runs against the in-memory hub and against the Redis hub on
// a real redis-server (each hub with a fresh key prefix), asserting the exact SSE frames a stream gets.
//
// Some rules Redis cannot honour under test, so they stay memory-only (`memoryIt`, and `if (memory)`
// around single assertions): the memory hub runs on vitest's fake clock (grace periods, retention by
// age, heartbeats), which Redis's own clock and ioredis's timers cannot follow; Redis trims its event
// streams approximately (XADD MAXLEN ~, whole nodes at a time, no byte limit), so pruning by count or
// size is not exact there; and the Redis hub counts rooms, peers and sessions on a 1 s sweep and runs a
// fixed set of timers, so exact `stats()` are the memory hub's alone.

const GRACE_MS = 1_000
const HEARTBEAT_MS = 4_000
const RETENTION_MS = GRACE_MS + 5_000 // the hub keeps events for the grace period plus 5 s
// Real time for the Redis hub: no test may see a session expire by accident.
const REDIS_GRACE_MS = 10_000
const SETTLE_MS = 2_000

interface FakeSink extends Sink {
  frames: string[]
  closed: boolean
  /** What `write` answers: false means "the socket is backed up". */
  accepts: boolean
  /** Called after every write and close. */
  changed?: () => void
}

function fakeSink(): FakeSink {
  const sink: FakeSink = {
    frames: [],
    closed: false,
    accepts: true,
    write(frame) {
      sink.frames.push(frame)
      sink.changed?.()
      return sink.accepts
    },
    close() {
      sink.closed = true
      sink.changed?.()
    },
  }
  return sink
}

interface Event {
  id: string
  seq: number
  event: string
  data: Record<string, unknown>
}

/** The events a sink received, heartbeats left out; each frame must be exactly one single-line event. */
function eventsOf(sink: FakeSink): Event[] {
  return sink.frames
    .filter((frame) => frame !== HEARTBEAT_FRAME)
    .map((frame) => {
      const match = /^id: ([^\r\n]+)\nevent: ([^\r\n]+)\ndata: ([^\r\n]*)\n\n$/.exec(frame)
      if (!match) throw new Error(`malformed frame ${JSON.stringify(frame)}`)
      const [, id, event, data] = match as unknown as [string, string, string, string]
      return { id, seq: Number(id.slice(id.lastIndexOf('-') + 1)), event, data: JSON.parse(data) as Record<string, unknown> }
    })
}

const ofType = (sink: FakeSink, type: string) =>
  eventsOf(sink)
    .filter((e) => e.event === type)
    .map((e) => e.data)
const epochOf = (id: string) => id.slice(0, id.lastIndexOf('-'))
const heartbeats = (sink: FakeSink) => sink.frames.filter((frame) => frame === HEARTBEAT_FRAME).length

/**
 * A hub whose every call returns once all the events it caused have reached their sinks: at once in
 * memory; over Redis once they came back through pub/sub.
 */
interface Hub {
  join(...args: Parameters<AnyHub['join']>): Promise<JoinResult>
  relay(...args: Parameters<AnyHub['relay']>): Promise<RelayResult>
  leave(...args: Parameters<AnyHub['leave']>): Promise<void>
  connect(...args: Parameters<AnyHub['connect']>): Promise<void>
  disconnect(...args: Parameters<AnyHub['disconnect']>): Promise<void>
  hasPeer(...args: Parameters<AnyHub['hasPeer']>): Promise<boolean>
  tickets: AnyHub['tickets']
  stats: AnyHub['stats']
  close: AnyHub['close']
}

function settling(hub: AnyHub, settle: () => Promise<void>): Hub {
  const then =
    <A extends unknown[], R>(call: (...args: A) => R | Promise<R>) =>
    async (...args: A): Promise<R> => {
      const result = await call(...args)
      await settle()
      return result
    }
  return {
    join: then(hub.join),
    relay: then(hub.relay),
    leave: then(hub.leave),
    connect: then(hub.connect),
    disconnect: then(hub.disconnect),
    hasPeer: async (session, peer) => hub.hasPeer(session, peer),
    tickets: hub.tickets,
    stats: hub.stats,
    close: hub.close,
  }
}

/** Resolves once `check` holds, re-checked on every write to `sink`. */
function whenSink(sink: FakeSink, check: () => boolean, what: string): Promise<void> {
  if (check()) return Promise.resolve()
  return within(
    new Promise<void>((resolve) => {
      sink.changed = () => {
        if (!check()) return
        sink.changed = undefined
        resolve()
      }
    }),
    SETTLE_MS,
    what,
  )
}

const OPTIONS: HubOptions = {
  maxPeersPerRoom: 8,
  maxPeersPerSession: 4,
  graceMs: GRACE_MS,
  heartbeatMs: HEARTBEAT_MS,
  replayEvents: 1024,
  replayBytes: 1024 * 1024,
  newPeerId: () => nanoid(),
  // Read through Date.now so the fake clock applies.
  now: () => Date.now(),
}

let redis: (Service & { url: string }) | undefined
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis?.stop()
})

const opened: AnyHub[] = []

/**
 * The Redis hub delivers events through pub/sub. A probe session on the same hub is the barrier: a
 * re-join sends the probe a roster, and Redis publishes in order to the one subscriber connection,
 * so once that roster arrives every event published before it has arrived too.
 */
async function makeRedisHub(overrides: Partial<HubOptions>): Promise<Hub> {
  const hub = createRedisHub(redis!.url, {
    ...OPTIONS,
    graceMs: REDIS_GRACE_MS,
    ...overrides,
    log: createLogger(),
    prefix: `test-${nanoid(8)}:`,
  })
  opened.push(hub)
  await pollUntil(async () => hub.ready(), 5_000, 'the Redis hub connected', 10)
  const probe = { session: nanoid(), room: randomRoom(), sink: fakeSink() }
  const { peer } = joined(await hub.join(probe.session, probe.room, undefined))
  await hub.connect(probe.session, undefined, probe.sink)
  await whenSink(probe.sink, () => probe.sink.frames.length === 1, "the probe's roster")
  return settling(hub, async () => {
    const before = probe.sink.frames.length
    await hub.join(probe.session, probe.room, undefined, peer)
    await whenSink(probe.sink, () => probe.sink.frames.length > before, "the probe's next roster")
  })
}

const CONTRACTS = [
  {
    name: 'memory',
    make: async (overrides: Partial<HubOptions>) => settling(remember(createMemoryHub({ ...OPTIONS, ...overrides })), async () => {}),
  },
  { name: 'redis', make: makeRedisHub },
]

function remember<T extends AnyHub>(hub: T): T {
  opened.push(hub)
  return hub
}

function joined(result: JoinResult) {
  if (!result.ok) throw new Error(`join failed: ${result.code}`)
  return result
}

/** A client as the router makes one: join (a new session), then open the session's stream. */
async function connectClient(hub: Hub, room: string, meta?: string) {
  const session = nanoid()
  const { peer, peers } = joined(await hub.join(session, room, meta))
  const sink = fakeSink()
  await hub.connect(session, undefined, sink)
  return { session, peer, peers, sink }
}

describe.each(CONTRACTS)('$name hub', ({ name, make }) => {
  const memory = name === 'memory'
  const memoryIt = memory ? it : it.skip
  const makeHub = (overrides: Partial<HubOptions> = {}) => make(overrides)

  beforeEach(() => {
    if (memory) vi.useFakeTimers()
  })
  afterEach(() => {
    for (const hub of opened.splice(0)) hub.close()
    vi.useRealTimers()
  })

  describe('join and presence', () => {
    it('sends the joiner its roster and the room a peer-joined, as exact frames', async () => {
      const hub = await makeHub()
      const room = randomRoom()
      const a = await connectClient(hub, room)
      expect(a.peers).toEqual([])
      const epoch = epochOf(eventsOf(a.sink)[0]!.id)
      expect(a.sink.frames).toEqual([`id: ${epoch}-1\nevent: roster\ndata: {"to":"${a.peer}","room":"${room}","peers":[]}\n\n`])

      const b = await connectClient(hub, room, 'sealed "name"\n')
      expect(b.peers).toEqual([{ id: a.peer }])
      expect(ofType(b.sink, 'roster')).toEqual([{ to: b.peer, room, peers: [{ id: a.peer }] }])
      expect(a.sink.frames[1]).toBe(
        `id: ${epoch}-2\nevent: peer-joined\ndata: {"to":"${a.peer}","peer":{"id":"${b.peer}","meta":"sealed \\"name\\"\\n"}}\n\n`,
      )
      expect(ofType(a.sink, 'peer-joined')).toEqual([{ to: a.peer, peer: { id: b.peer, meta: 'sealed "name"\n' } }])
      // Each session numbers its own events.
      expect(eventsOf(b.sink).map((e) => e.seq)).toEqual([1])
      expect(epochOf(eventsOf(b.sink)[0]!.id)).not.toBe(epoch)
      if (memory) expect(hub.stats()).toEqual({ rooms: 1, peers: 2, sessions: 2, streams: 2, timers: 1 })
    })

    it('keeps rooms apart', async () => {
      const hub = await makeHub()
      const a = await connectClient(hub, randomRoom())
      const b = await connectClient(hub, randomRoom())
      expect(b.peers).toEqual([])
      expect(ofType(a.sink, 'peer-joined')).toEqual([])
      if (memory) expect(hub.stats()).toMatchObject({ rooms: 2, peers: 2 })
    })

    it('lets one session hold peers in several rooms on one stream, each event addressed with "to"', async () => {
      const hub = await makeHub()
      const [room1, room2] = [randomRoom(), randomRoom()]
      const a = await connectClient(hub, room1)
      const a2 = joined(await hub.join(a.session, room2, undefined))
      const b = await connectClient(hub, room2)
      expect(ofType(a.sink, 'roster')).toEqual([
        { to: a.peer, room: room1, peers: [] },
        { to: a2.peer, room: room2, peers: [] },
      ])
      expect(ofType(a.sink, 'peer-joined')).toEqual([{ to: a2.peer, peer: { id: b.peer } }])
      if (memory) expect(hub.stats()).toMatchObject({ rooms: 2, peers: 3, sessions: 2 })
    })

    it('answers ROOM_FULL and leaves no trace of the session the failed join would have created', async () => {
      const hub = await makeHub({ maxPeersPerRoom: 2 })
      const room = randomRoom()
      const a = await connectClient(hub, room)
      await connectClient(hub, room)
      const before = hub.stats()
      const stranger = nanoid()
      expect(await hub.join(stranger, room, undefined)).toEqual({ ok: false, code: 'ROOM_FULL' })
      if (memory) expect(hub.stats()).toEqual(before)
      expect(ofType(a.sink, 'peer-joined')).toHaveLength(1)
      // The failed session is unknown to the hub: its stream would be told to reset.
      const sink = fakeSink()
      await hub.connect(stranger, undefined, sink)
      expect(ofType(sink, 'reset')).toEqual([{ reason: 'unknown-session' }])
    })

    it('answers TOO_MANY_PEERS for a session at its maximum, and keeps the session', async () => {
      const hub = await makeHub({ maxPeersPerSession: 2 })
      const a = await connectClient(hub, randomRoom())
      joined(await hub.join(a.session, randomRoom(), undefined))
      expect(await hub.join(a.session, randomRoom(), undefined)).toEqual({ ok: false, code: 'TOO_MANY_PEERS' })
      if (memory) expect(hub.stats()).toMatchObject({ sessions: 1, peers: 2, streams: 1 })
      expect(a.sink.closed).toBe(false)
    })

    it('re-claiming a peer that is still in the room is idempotent: a fresh roster, nothing for the others', async () => {
      const hub = await makeHub()
      const room = randomRoom()
      const a = await connectClient(hub, room)
      const b = await connectClient(hub, room)
      const framesOfA = a.sink.frames.length
      const again = joined(await hub.join(b.session, room, undefined, b.peer))
      expect(again).toEqual({ ok: true, peer: b.peer, peers: [{ id: a.peer }] })
      expect(ofType(b.sink, 'roster')).toEqual([
        { to: b.peer, room, peers: [{ id: a.peer }] },
        { to: b.peer, room, peers: [{ id: a.peer }] },
      ])
      expect(a.sink.frames).toHaveLength(framesOfA)
      if (memory) expect(hub.stats()).toMatchObject({ peers: 2 })
    })

    it('re-claiming a departed peer brings it back with the same id, announced once', async () => {
      const hub = await makeHub()
      const room = randomRoom()
      const a = await connectClient(hub, room)
      const b = await connectClient(hub, room)
      await hub.leave(b.session, b.peer)
      const back = joined(await hub.join(b.session, room, 'm', b.peer))
      expect(back.peer).toBe(b.peer)
      expect(ofType(a.sink, 'peer-joined')).toEqual([
        { to: a.peer, peer: { id: b.peer } },
        { to: a.peer, peer: { id: b.peer, meta: 'm' } },
      ])
    })

    it("refuses to re-claim another session's peer, or a peer of another room, with BAD_PEER", async () => {
      const hub = await makeHub()
      const [room, elsewhere] = [randomRoom(), randomRoom()]
      const a = await connectClient(hub, room)
      const b = await connectClient(hub, room)
      expect(await hub.join(b.session, room, undefined, a.peer)).toEqual({ ok: false, code: 'BAD_PEER' })
      expect(await hub.join(a.session, elsewhere, undefined, a.peer)).toEqual({ ok: false, code: 'BAD_PEER' })
      const stranger = nanoid()
      expect(await hub.join(stranger, room, undefined, a.peer)).toEqual({ ok: false, code: 'BAD_PEER' })
      if (memory) expect(hub.stats()).toMatchObject({ rooms: 1, peers: 2, sessions: 2 })
      expect(ofType(a.sink, 'peer-left')).toEqual([])
    })

    it('admits only new peers bringing the verifier the first joiner registered, and forgets it with the room', async () => {
      const hub = await makeHub()
      const room = randomRoom()
      const [verifier, other] = ['v'.repeat(43), 'w'.repeat(43)]
      const a = nanoid()
      const first = joined(await hub.join(a, room, undefined, undefined, { verifier }))
      const b = nanoid()
      expect(await hub.join(b, room, undefined, undefined, { verifier: other })).toEqual({ ok: false, code: 'BAD_VERIFIER' })
      expect(await hub.join(b, room, undefined, undefined, {})).toEqual({ ok: false, code: 'BAD_VERIFIER' })
      expect(await hub.join(b, room, undefined)).toEqual({ ok: false, code: 'BAD_VERIFIER' })
      const second = joined(await hub.join(b, room, undefined, undefined, { verifier }))
      expect(second.peers).toEqual([{ id: first.peer }])
      // A peer still in the room re-claims without one (its token proved it); a departed one needs it.
      joined(await hub.join(b, room, undefined, second.peer))
      await hub.leave(b, second.peer)
      expect(await hub.join(b, room, undefined, second.peer)).toEqual({ ok: false, code: 'BAD_VERIFIER' })
      joined(await hub.join(b, room, undefined, second.peer, { verifier }))
      // The room empties: the next first joiner registers its own.
      await hub.leave(a)
      await hub.leave(b)
      joined(await hub.join(nanoid(), room, undefined, undefined, { verifier: other }))
      expect(await hub.join(nanoid(), room, undefined, undefined, { verifier })).toEqual({ ok: false, code: 'BAD_VERIFIER' })
    })

    it('keeps a room created without a verifier open to every joiner', async () => {
      const hub = await makeHub()
      const room = randomRoom()
      joined(await hub.join(nanoid(), room, undefined))
      joined(await hub.join(nanoid(), room, undefined, undefined, { verifier: 'v'.repeat(43) }))
      joined(await hub.join(nanoid(), room, undefined, undefined, {}))
    })

    it('caps the seats of one session and of one address in one room with TOO_MANY_SEATS', async () => {
      const hub = await makeHub({ maxSeatsPerSession: 2, maxSeatsPerIp: 3 })
      const room = randomRoom()
      const a = nanoid()
      joined(await hub.join(a, room, undefined, undefined, { address: '10.0.0.1' }))
      joined(await hub.join(a, room, undefined, undefined, { address: '10.0.0.1' }))
      expect(await hub.join(a, room, undefined, undefined, { address: '10.0.0.9' })).toEqual({ ok: false, code: 'TOO_MANY_SEATS' })
      // The session's cap is per room.
      joined(await hub.join(a, randomRoom(), undefined, undefined, { address: '10.0.0.1' }))
      const b = nanoid()
      joined(await hub.join(b, room, undefined, undefined, { address: '10.0.0.1' }))
      expect(await hub.join(b, room, undefined, undefined, { address: '10.0.0.1' })).toEqual({ ok: false, code: 'TOO_MANY_SEATS' })
      joined(await hub.join(b, room, undefined, undefined, { address: '10.0.0.2' }))
      if (memory) expect(hub.stats()).toMatchObject({ peers: 5 })
    })
  })

  describe('relay', () => {
    it('delivers the payload unread to the target only, stamping the sender', async () => {
      const hub = await makeHub()
      const room = randomRoom()
      const [a, b, c] = [await connectClient(hub, room), await connectClient(hub, room), await connectClient(hub, room)]
      const data = { type: 'offer', sdp: 'v=0\r\na=x\n', from: 'forged', nested: [1, null, 'é😀\u2028'] }
      expect(await hub.relay(a.session, a.peer, b.peer, data)).toEqual({ ok: true })
      expect(ofType(b.sink, 'signal')).toEqual([{ to: b.peer, from: a.peer, data }])
      expect(ofType(a.sink, 'signal')).toEqual([])
      expect(ofType(c.sink, 'signal')).toEqual([])
    })

    it('keeps the order of signals', async () => {
      const hub = await makeHub()
      const room = randomRoom()
      const [a, b] = [await connectClient(hub, room), await connectClient(hub, room)]
      for (let i = 0; i < 20; i++) await hub.relay(a.session, a.peer, b.peer, i)
      expect(ofType(b.sink, 'signal').map((s) => s.data)).toEqual([...Array(20).keys()])
    })

    it('answers NOT_YOUR_PEER, UNKNOWN_PEER and NOT_IN_ROOM, and emits nothing for them', async () => {
      const hub = await makeHub()
      const room = randomRoom()
      const [a, b] = [await connectClient(hub, room), await connectClient(hub, room)]
      const c = await connectClient(hub, randomRoom())
      const counts = () => [a, b, c].map((x) => x.sink.frames.length)
      const before = counts()
      expect(await hub.relay(b.session, a.peer, b.peer, 1)).toEqual({ ok: false, code: 'NOT_YOUR_PEER' })
      expect(await hub.relay(a.session, 'no-such-peer', b.peer, 1)).toEqual({ ok: false, code: 'NOT_YOUR_PEER' })
      expect(await hub.relay(nanoid(), a.peer, b.peer, 1)).toEqual({ ok: false, code: 'NOT_YOUR_PEER' })
      expect(await hub.relay(a.session, a.peer, 'no-such-peer', 1)).toEqual({ ok: false, code: 'UNKNOWN_PEER' })
      expect(await hub.relay(a.session, a.peer, c.peer, 1)).toEqual({ ok: false, code: 'NOT_IN_ROOM' })
      await hub.leave(b.session, b.peer)
      expect(await hub.relay(a.session, a.peer, b.peer, 1)).toEqual({ ok: false, code: 'UNKNOWN_PEER' })
      expect(await hub.relay(b.session, b.peer, a.peer, 1)).toEqual({ ok: false, code: 'NOT_YOUR_PEER' })
      expect(counts()).toEqual([before[0]! + 1, before[1], before[2]]) // only A's peer-left for B
    })
  })

  describe('leave', () => {
    it('one peer leaves: exactly one peer-left "leave" for each other peer, and leaving again is a no-op', async () => {
      const hub = await makeHub()
      const room = randomRoom()
      const [a, b, c] = [await connectClient(hub, room), await connectClient(hub, room), await connectClient(hub, room)]
      await hub.leave(c.session, c.peer)
      await hub.leave(c.session, c.peer)
      await hub.leave(c.session, 'never-joined')
      expect(ofType(a.sink, 'peer-left')).toEqual([{ to: a.peer, peer: c.peer, reason: 'leave' }])
      expect(ofType(b.sink, 'peer-left')).toEqual([{ to: b.peer, peer: c.peer, reason: 'leave' }])
      expect(ofType(c.sink, 'peer-left')).toEqual([])
      // The session keeps its stream (it may join again); only the peer went.
      expect(c.sink.closed).toBe(false)
      if (memory) expect(hub.stats()).toMatchObject({ rooms: 1, peers: 2, sessions: 3, streams: 3 })
    })

    it("a peer's own session cannot be made to leave by another session", async () => {
      const hub = await makeHub()
      const room = randomRoom()
      const [a, b] = [await connectClient(hub, room), await connectClient(hub, room)]
      await hub.leave(b.session, a.peer)
      expect(ofType(b.sink, 'peer-left')).toEqual([])
      expect(await hub.hasPeer(a.session, a.peer)).toBe(true)
      expect(await hub.hasPeer(b.session, a.peer)).toBe(false)
    })

    it('ending a session removes all its peers from all rooms once, closes its stream, and frees everything', async () => {
      const hub = await makeHub()
      const [room1, room2] = [randomRoom(), randomRoom()]
      const a = await connectClient(hub, room1)
      const a2 = joined(await hub.join(a.session, room2, undefined))
      const b = await connectClient(hub, room1)
      const c = await connectClient(hub, room2)
      await hub.leave(a.session)
      await hub.leave(a.session)
      expect(a.sink.closed).toBe(true)
      expect(ofType(b.sink, 'peer-left')).toEqual([{ to: b.peer, peer: a.peer, reason: 'leave' }])
      expect(ofType(c.sink, 'peer-left')).toEqual([{ to: c.peer, peer: a2.peer, reason: 'leave' }])
      if (memory) expect(hub.stats()).toEqual({ rooms: 2, peers: 2, sessions: 2, streams: 2, timers: 1 })
      await hub.leave(b.session)
      await hub.leave(c.session)
      if (memory) expect(hub.stats()).toEqual({ rooms: 0, peers: 0, sessions: 0, streams: 0, timers: 1 })
      // Late disconnects of the closed streams (the router's 'close' events) change nothing.
      for (const x of [a, b, c]) await hub.disconnect(x.session, x.sink)
      if (memory) expect(hub.stats()).toEqual({ rooms: 0, peers: 0, sessions: 0, streams: 0, timers: 1 })
      if (memory) vi.advanceTimersByTime(10 * RETENTION_MS)
      expect(ofType(b.sink, 'peer-left')).toHaveLength(1)
    })

    it('ignores leaves of unknown sessions', async () => {
      const hub = await makeHub()
      await hub.leave(nanoid())
      await hub.leave(nanoid(), 'peer')
      if (memory) expect(hub.stats()).toEqual({ rooms: 0, peers: 0, sessions: 0, streams: 0, timers: 1 })
    })
  })

  // The routes' part (unseating a cancelled join's peer) is tested over HTTP in join-cancel.test.ts.
  describe('join tickets', () => {
    const nonce = () => nanoid(22)

    it('a nonce seats one join: a second claim is "used", before and after the join completed', async () => {
      const { tickets } = await makeHub()
      const n = nonce()
      expect(await tickets.claim(n)).toBe('ok')
      expect(await tickets.claim(n)).toBe('used')
      expect(await tickets.settle(n, { session: 's1', peer: 'p1' })).toBe(true)
      expect(await tickets.claim(n)).toBe('used')
      expect(await tickets.claim(nonce())).toBe('ok')
    })

    it('a cancel after the join completed hands back its seat, once; the nonce then refuses joins as cancelled', async () => {
      const { tickets } = await makeHub()
      const n = nonce()
      await tickets.claim(n)
      await tickets.settle(n, { session: 's1', peer: 'p1' })
      expect(await tickets.cancel(n)).toEqual({ session: 's1', peer: 'p1' })
      expect(await tickets.cancel(n)).toBeNull()
      expect(await tickets.claim(n)).toBe('cancelled')
    })

    it('a cancel while the join is in flight makes its settle fail, so the route unseats the peer', async () => {
      const { tickets } = await makeHub()
      const n = nonce()
      expect(await tickets.claim(n)).toBe('ok')
      expect(await tickets.cancel(n)).toBeNull()
      expect(await tickets.settle(n, { session: 's1', peer: 'p1' })).toBe(false)
      expect(await tickets.cancel(n)).toBeNull()
    })

    it('a cancel before the join arrives is remembered: the join is refused as cancelled', async () => {
      const { tickets } = await makeHub()
      const n = nonce()
      expect(await tickets.cancel(n)).toBeNull()
      expect(await tickets.claim(n)).toBe('cancelled')
      expect(await tickets.claim(n)).toBe('cancelled')
    })

    it('a cancel of known nonces only leaves an unknown one alone (the join is not refused), and cancels a known one as usual', async () => {
      const { tickets } = await makeHub()
      const [unknown, pending, joined] = [nonce(), nonce(), nonce()]
      expect(await tickets.cancel(unknown, true)).toBe('unknown')
      expect(await tickets.claim(unknown)).toBe('ok')
      await tickets.claim(pending)
      expect(await tickets.cancel(pending, true)).toBeNull()
      expect(await tickets.settle(pending, { session: 's1', peer: 'p1' })).toBe(false)
      await tickets.claim(joined)
      await tickets.settle(joined, { session: 's2', peer: 'p2' })
      expect(await tickets.cancel(joined, true)).toEqual({ session: 's2', peer: 'p2' })
      expect(await tickets.claim(joined)).toBe('cancelled')
    })

    it('tickets are not shared between unrelated nonces', async () => {
      const { tickets } = await makeHub()
      const [a, b] = [nonce(), nonce()]
      await tickets.claim(a)
      await tickets.settle(a, { session: 's1', peer: 'p1' })
      expect(await tickets.cancel(b)).toBeNull()
      expect(await tickets.claim(a)).toBe('used')
    })

    memoryIt('forgets a nonce TICKET_TTL_MS after it was first seen, whatever happened to it since', async () => {
      const { tickets } = await makeHub()
      const [cancelledEarly, joined] = [nonce(), nonce()]
      await tickets.cancel(cancelledEarly)
      await tickets.claim(joined)
      vi.advanceTimersByTime(TICKET_TTL_MS - 1)
      await tickets.settle(joined, { session: 's1', peer: 'p1' })
      expect(await tickets.claim(cancelledEarly)).toBe('cancelled')
      vi.advanceTimersByTime(1)
      expect(await tickets.claim(cancelledEarly)).toBe('ok')
      expect(await tickets.cancel(joined)).toBeNull()
    })
  })

  describe('grace period', () => {
    memoryIt('turns a stream away longer than the grace period into exactly one peer-left "timeout"', async () => {
      const hub = await makeHub()
      const room = randomRoom()
      const [a, b] = [await connectClient(hub, room), await connectClient(hub, room)]
      await hub.disconnect(a.session, a.sink)
      expect(hub.stats()).toEqual({ rooms: 1, peers: 2, sessions: 2, streams: 1, timers: 2 })
      vi.advanceTimersByTime(GRACE_MS - 1)
      expect(ofType(b.sink, 'peer-left')).toEqual([])
      vi.advanceTimersByTime(1)
      expect(ofType(b.sink, 'peer-left')).toEqual([{ to: b.peer, peer: a.peer, reason: 'timeout' }])
      vi.advanceTimersByTime(10 * RETENTION_MS)
      expect(ofType(b.sink, 'peer-left')).toHaveLength(1)
      expect(hub.stats()).toEqual({ rooms: 1, peers: 1, sessions: 1, streams: 1, timers: 1 })
      await hub.leave(b.session)
      expect(hub.stats()).toEqual({ rooms: 0, peers: 0, sessions: 0, streams: 0, timers: 1 })
    })

    memoryIt('times out every peer of the session, in every room', async () => {
      const hub = await makeHub()
      const [room1, room2] = [randomRoom(), randomRoom()]
      const a = await connectClient(hub, room1)
      const a2 = joined(await hub.join(a.session, room2, undefined))
      const b = await connectClient(hub, room1)
      const c = await connectClient(hub, room2)
      await hub.disconnect(a.session, a.sink)
      vi.advanceTimersByTime(GRACE_MS)
      expect(ofType(b.sink, 'peer-left')).toEqual([{ to: b.peer, peer: a.peer, reason: 'timeout' }])
      expect(ofType(c.sink, 'peer-left')).toEqual([{ to: c.peer, peer: a2.peer, reason: 'timeout' }])
    })

    memoryIt('cancels the timeout when the stream comes back within the grace period', async () => {
      const hub = await makeHub()
      const room = randomRoom()
      const [a, b] = [await connectClient(hub, room), await connectClient(hub, room)]
      await hub.disconnect(a.session, a.sink)
      vi.advanceTimersByTime(GRACE_MS - 1)
      const back = fakeSink()
      await hub.connect(a.session, eventsOf(a.sink).at(-1)!.id, back)
      expect(hub.stats()).toEqual({ rooms: 1, peers: 2, sessions: 2, streams: 2, timers: 1 })
      vi.advanceTimersByTime(10 * GRACE_MS)
      expect(ofType(b.sink, 'peer-left')).toEqual([])
      expect(eventsOf(back)).toEqual([])
      expect(await hub.relay(a.session, a.peer, b.peer, 'still here')).toEqual({ ok: true })
    })

    memoryIt('a second drop after a resume gets a full grace period again', async () => {
      const hub = await makeHub()
      const room = randomRoom()
      const [a, b] = [await connectClient(hub, room), await connectClient(hub, room)]
      await hub.disconnect(a.session, a.sink)
      vi.advanceTimersByTime(GRACE_MS - 1)
      const back = fakeSink()
      await hub.connect(a.session, eventsOf(a.sink).at(-1)!.id, back)
      await hub.disconnect(a.session, back)
      vi.advanceTimersByTime(GRACE_MS - 1)
      expect(ofType(b.sink, 'peer-left')).toEqual([])
      vi.advanceTimersByTime(1)
      expect(ofType(b.sink, 'peer-left')).toEqual([{ to: b.peer, peer: a.peer, reason: 'timeout' }])
    })

    memoryIt('removes a session that joined but never opened its stream', async () => {
      const hub = await makeHub()
      const room = randomRoom()
      const a = await connectClient(hub, room)
      const ghost = joined(await hub.join(nanoid(), room, undefined))
      expect(hub.stats()).toMatchObject({ sessions: 2, timers: 2 })
      vi.advanceTimersByTime(GRACE_MS)
      expect(ofType(a.sink, 'peer-left')).toEqual([{ to: a.peer, peer: ghost.peer, reason: 'timeout' }])
      expect(hub.stats()).toEqual({ rooms: 1, peers: 1, sessions: 1, streams: 1, timers: 1 })
    })

    memoryIt('ignores the disconnect of a stream that a newer one replaced', async () => {
      const hub = await makeHub()
      const room = randomRoom()
      const [a, b] = [await connectClient(hub, room), await connectClient(hub, room)]
      const newer = fakeSink()
      await hub.connect(a.session, eventsOf(a.sink).at(-1)!.id, newer)
      expect(a.sink.closed).toBe(true)
      expect(hub.stats()).toMatchObject({ streams: 2, timers: 1 })
      await hub.disconnect(a.session, a.sink)
      expect(hub.stats()).toMatchObject({ streams: 2, timers: 1 })
      vi.advanceTimersByTime(10 * GRACE_MS)
      expect(ofType(b.sink, 'peer-left')).toEqual([])
      // The replaced sink gets nothing more; the newer one gets everything.
      await hub.relay(b.session, b.peer, a.peer, 'x')
      expect(ofType(a.sink, 'signal')).toEqual([])
      expect(ofType(newer, 'signal')).toEqual([{ to: a.peer, from: b.peer, data: 'x' }])
    })
  })

  describe('replay', () => {
    /** A and B in one room; A's stream drops after the peer-joined of B; B then sends `count` signals. */
    async function dropAndMiss(hub: Hub, count: number, payload = (i: number): unknown => i) {
      const room = randomRoom()
      const [a, b] = [await connectClient(hub, room), await connectClient(hub, room)]
      const seen = eventsOf(a.sink).at(-1)!
      await hub.disconnect(a.session, a.sink)
      for (let i = 0; i < count; i++) expect(await hub.relay(b.session, b.peer, a.peer, payload(i))).toEqual({ ok: true })
      return { a, b, seen, epoch: epochOf(seen.id) }
    }

    it('replays exactly the events after lastEventId, byte for byte, then continues live', async () => {
      const hub = await makeHub()
      const { a, b, seen, epoch } = await dropAndMiss(hub, 3)
      expect(seen.seq).toBe(2)
      const back = fakeSink()
      await hub.connect(a.session, seen.id, back)
      expect(eventsOf(back).map((e) => [e.id, e.data.data])).toEqual([
        [`${epoch}-3`, 0],
        [`${epoch}-4`, 1],
        [`${epoch}-5`, 2],
      ])
      await hub.relay(b.session, b.peer, a.peer, 'live')
      expect(eventsOf(back).map((e) => e.seq)).toEqual([3, 4, 5, 6])

      // A stream resuming from the middle gets the same frames, byte for byte.
      const middle = fakeSink()
      await hub.connect(a.session, `${epoch}-4`, middle)
      expect(middle.frames).toEqual(back.frames.slice(2))
      // Resuming from the latest id replays nothing.
      const latest = fakeSink()
      await hub.connect(a.session, `${epoch}-6`, latest)
      expect(latest.frames).toEqual([])
    })

    it('replays the whole buffer to a stream without lastEventId while nothing was pruned', async () => {
      const hub = await makeHub()
      const { a, epoch } = await dropAndMiss(hub, 2)
      for (const lastEventId of [undefined, '']) {
        const back = fakeSink()
        await hub.connect(a.session, lastEventId, back)
        expect(eventsOf(back).map((e) => [e.id, e.event])).toEqual([
          [`${epoch}-1`, 'roster'],
          [`${epoch}-2`, 'peer-joined'],
          [`${epoch}-3`, 'signal'],
          [`${epoch}-4`, 'signal'],
        ])
      }
    })

    memoryIt('answers reset "gap" when events after lastEventId were pruned by count', async () => {
      const hub = await makeHub({ replayEvents: 3 })
      const { a, epoch } = await dropAndMiss(hub, 5) // events 1..7; the buffer keeps 5..7
      // From 4 on, everything missed is still there: no gap.
      const whole = fakeSink()
      await hub.connect(a.session, `${epoch}-4`, whole)
      expect(eventsOf(whole).map((e) => e.seq)).toEqual([5, 6, 7])
      const gap = fakeSink()
      await hub.connect(a.session, `${epoch}-3`, gap)
      expect(eventsOf(gap)).toEqual([{ id: `${epoch}-8`, seq: 8, event: 'reset', data: { reason: 'gap' } }])
      // Without an id, a stream cannot be told what it missed either.
      const fresh = fakeSink()
      await hub.connect(a.session, undefined, fresh)
      expect(ofType(fresh, 'reset')).toEqual([{ reason: 'gap' }])
    })

    memoryIt('keeps exactly the newest events by count however many a busy session got since', async () => {
      // Each count leaves the in-memory buffer at another point between two compactions of its arrays.
      for (let missed = 3; missed <= 14; missed++) {
        const hub = await makeHub({ replayEvents: 3 })
        const { a, b, epoch } = await dropAndMiss(hub, missed) // events 1..missed+2; the buffer keeps the last 3
        const last = missed + 2
        const whole = fakeSink()
        await hub.connect(a.session, `${epoch}-${last - 3}`, whole)
        expect(eventsOf(whole).map((e) => [e.seq, e.data.data])).toEqual([
          [last - 2, missed - 3],
          [last - 1, missed - 2],
          [last, missed - 1],
        ])
        await hub.disconnect(a.session, whole)
        await hub.relay(b.session, b.peer, a.peer, 'one more')
        const gap = fakeSink()
        await hub.connect(a.session, `${epoch}-${last - 3}`, gap)
        expect(ofType(gap, 'reset')).toEqual([{ reason: 'gap' }])
        hub.close()
      }
    })

    memoryIt('answers reset "gap" when events after lastEventId were pruned by age', async () => {
      const hub = await makeHub()
      const room = randomRoom()
      const [a, b] = [await connectClient(hub, room), await connectClient(hub, room)]
      const epoch = epochOf(eventsOf(a.sink)[0]!.id)
      // A's stream is half-open: the hub writes, the client never receives (its last id stays 2).
      await hub.relay(b.session, b.peer, a.peer, 'lost-1')
      await hub.relay(b.session, b.peer, a.peer, 'lost-2')
      vi.advanceTimersByTime(RETENTION_MS + HEARTBEAT_MS) // a heartbeat prunes everything older than the retention
      const back = fakeSink()
      await hub.connect(a.session, `${epoch}-2`, back)
      expect(ofType(back, 'reset')).toEqual([{ reason: 'gap' }])
      // A client that did receive everything resumes with nothing to replay and no reset.
      const upToDate = fakeSink()
      await hub.connect(a.session, `${epoch}-5`, upToDate)
      expect(upToDate.frames).toEqual([])
    })

    memoryIt('keeps events younger than the retention for replay', async () => {
      const hub = await makeHub()
      const { a, seen } = await dropAndMiss(hub, 2)
      vi.advanceTimersByTime(GRACE_MS - 1) // still within the grace period, so well within the retention
      const back = fakeSink()
      await hub.connect(a.session, seen.id, back)
      expect(ofType(back, 'signal').map((s) => s.data)).toEqual([0, 1])
    })

    memoryIt('answers reset "gap" when events were pruned by size', async () => {
      const hub = await makeHub({ replayBytes: 2_000 })
      const { a, seen } = await dropAndMiss(hub, 4, () => 'x'.repeat(600))
      const back = fakeSink()
      await hub.connect(a.session, seen.id, back)
      expect(ofType(back, 'reset')).toEqual([{ reason: 'gap' }])
    })

    it.each([
      ['an unknown epoch', (epoch: string) => `zz${epoch}-1`],
      ['a sequence number from the future', (epoch: string) => `${epoch}-99`],
      ['a negative sequence number', (epoch: string) => `${epoch}--1`],
      ['a fractional sequence number', (epoch: string) => `${epoch}-1.5`],
      ['no dash at all', () => 'garbage'],
      ['a bare dash', () => '-'],
    ])('answers reset "unknown-session" for %s', async (_what, lastEventId) => {
      const hub = await makeHub()
      const { a, epoch } = await dropAndMiss(hub, 1)
      const back = fakeSink()
      await hub.connect(a.session, lastEventId(epoch), back)
      expect(eventsOf(back)).toEqual([{ id: `${epoch}-4`, seq: 4, event: 'reset', data: { reason: 'unknown-session' } }])
    })

    memoryIt('answers reset "unknown-session" to a session the hub does not know, with a fresh epoch', async () => {
      const hub = await makeHub()
      const room = randomRoom()
      const [a, b] = [await connectClient(hub, room), await connectClient(hub, room)]
      const oldId = eventsOf(a.sink).at(-1)!.id
      await hub.disconnect(a.session, a.sink)
      vi.advanceTimersByTime(GRACE_MS) // the session expires
      expect(ofType(b.sink, 'peer-left')).toHaveLength(1)
      const back = fakeSink()
      await hub.connect(a.session, oldId, back)
      const [reset] = eventsOf(back)
      expect(eventsOf(back)).toHaveLength(1)
      expect(reset).toMatchObject({ seq: 1, event: 'reset', data: { reason: 'unknown-session' } })
      expect(epochOf(reset!.id)).not.toBe(epochOf(oldId))
      // Re-joining re-claims the old id; the others see it join again.
      expect(joined(await hub.join(a.session, room, undefined, a.peer)).peer).toBe(a.peer)
      expect(ofType(b.sink, 'peer-joined')).toEqual([{ to: b.peer, peer: { id: a.peer } }])
    })

    memoryIt('a reset is itself an event the next stream can resume after', async () => {
      const hub = await makeHub({ replayEvents: 2 })
      const { a, b } = await dropAndMiss(hub, 3)
      const first = fakeSink()
      await hub.connect(a.session, undefined, first)
      const reset = eventsOf(first).at(-1)!
      expect(reset.event).toBe('reset')
      await hub.disconnect(a.session, first)
      await hub.relay(b.session, b.peer, a.peer, 'after-reset')
      const second = fakeSink()
      await hub.connect(a.session, reset.id, second)
      expect(eventsOf(second).map((e) => [e.event, e.data.data])).toEqual([['signal', 'after-reset']])
    })
  })

  describe('back-pressure and heartbeat', () => {
    it('detaches a sink whose write returns false: closed, no more frames, grace starts', async () => {
      const hub = await makeHub()
      const room = randomRoom()
      const [a, b] = [await connectClient(hub, room), await connectClient(hub, room)]
      a.sink.accepts = false
      await hub.relay(b.session, b.peer, a.peer, 'overflow')
      expect(a.sink.closed).toBe(true)
      if (memory) expect(hub.stats()).toEqual({ rooms: 1, peers: 2, sessions: 2, streams: 1, timers: 2 })
      const written = a.sink.frames.length
      await hub.relay(b.session, b.peer, a.peer, 'after')
      expect(a.sink.frames).toHaveLength(written)
      // The client resumes from what it last received and gets the frame that overflowed.
      const back = fakeSink()
      await hub.connect(a.session, eventsOf(a.sink).at(-2)!.id, back)
      expect(ofType(back, 'signal').map((s) => s.data)).toEqual(['overflow', 'after'])
      if (memory) expect(hub.stats()).toMatchObject({ streams: 2, timers: 1 })
    })

    memoryIt('a detached sink that never comes back times out like any other drop', async () => {
      const hub = await makeHub()
      const room = randomRoom()
      const [a, b] = [await connectClient(hub, room), await connectClient(hub, room)]
      a.sink.accepts = false
      await hub.relay(b.session, b.peer, a.peer, 'overflow')
      vi.advanceTimersByTime(GRACE_MS)
      expect(ofType(b.sink, 'peer-left')).toEqual([{ to: b.peer, peer: a.peer, reason: 'timeout' }])
      expect(hub.stats()).toEqual({ rooms: 1, peers: 1, sessions: 1, streams: 1, timers: 1 })
    })

    it('detaches a sink that backs up during replay, after the frame that filled it', async () => {
      const hub = await makeHub()
      const room = randomRoom()
      const [a, b] = [await connectClient(hub, room), await connectClient(hub, room)]
      const seen = eventsOf(a.sink).at(-1)!
      await hub.disconnect(a.session, a.sink)
      for (const data of ['m1', 'm2', 'm3']) await hub.relay(b.session, b.peer, a.peer, data)
      const slow = fakeSink()
      slow.accepts = false
      await hub.connect(a.session, seen.id, slow)
      expect(ofType(slow, 'signal').map((s) => s.data)).toEqual(['m1'])
      expect(slow.closed).toBe(true)
      if (memory) expect(hub.stats()).toMatchObject({ streams: 1, timers: 2 })
    })

    it('detaches a sink that backs up on its reset', async () => {
      const hub = await makeHub()
      const slow = fakeSink()
      slow.accepts = false
      await hub.connect(nanoid(), undefined, slow)
      expect(ofType(slow, 'reset')).toEqual([{ reason: 'unknown-session' }])
      expect(slow.closed).toBe(true)
      if (memory) expect(hub.stats()).toEqual({ rooms: 0, peers: 0, sessions: 1, streams: 0, timers: 2 })
      if (memory) vi.advanceTimersByTime(GRACE_MS)
      if (memory) expect(hub.stats()).toEqual({ rooms: 0, peers: 0, sessions: 0, streams: 0, timers: 1 })
    })

    memoryIt('writes a heartbeat comment to every open stream each heartbeatMs, and none to closed ones', async () => {
      const hub = await makeHub()
      const room = randomRoom()
      const [a, b] = [await connectClient(hub, room), await connectClient(hub, room)]
      await hub.disconnect(b.session, b.sink)
      // Heartbeats are spread over ticks of a quarter period: each comes within a tick of being due.
      const tick = HEARTBEAT_MS / 4
      vi.advanceTimersByTime(HEARTBEAT_MS - 1)
      expect(heartbeats(a.sink)).toBe(0)
      vi.advanceTimersByTime(tick + 1)
      expect(heartbeats(a.sink)).toBe(1)
      expect(a.sink.frames.at(-1)).toBe(':\n\n')
      expect(heartbeats(b.sink)).toBe(0)
      vi.advanceTimersByTime(2 * (HEARTBEAT_MS + tick))
      expect(heartbeats(a.sink)).toBe(3)
    })

    memoryIt('detaches a stream whose heartbeat finds it backed up', async () => {
      const hub = await makeHub()
      const room = randomRoom()
      const [a, b] = [await connectClient(hub, room), await connectClient(hub, room)]
      a.sink.accepts = false
      vi.advanceTimersByTime(HEARTBEAT_MS + HEARTBEAT_MS / 4)
      expect(a.sink.closed).toBe(true)
      expect(b.sink.closed).toBe(false)
      expect(hub.stats()).toMatchObject({ streams: 1, timers: 2 })
    })
  })

  describe('stats and close', () => {
    memoryIt('counts back down to the heartbeat alone once everyone has left or timed out', async () => {
      const hub = await makeHub()
      const rooms = [randomRoom(), randomRoom()]
      const clients = []
      for (const room of rooms) clients.push(await connectClient(hub, room), await connectClient(hub, room))
      const ghost = nanoid()
      joined(await hub.join(ghost, rooms[0]!, undefined))
      expect(hub.stats()).toEqual({ rooms: 2, peers: 5, sessions: 5, streams: 4, timers: 2 })
      await hub.leave(clients[0]!.session, clients[0]!.peer) // one peer, its session stays
      await hub.leave(clients[1]!.session) // a whole session
      await hub.disconnect(clients[2]!.session, clients[2]!.sink) // a drop that times out
      expect(hub.stats()).toEqual({ rooms: 2, peers: 3, sessions: 4, streams: 2, timers: 3 })
      vi.advanceTimersByTime(GRACE_MS)
      expect(hub.stats()).toEqual({ rooms: 1, peers: 1, sessions: 2, streams: 2, timers: 1 })
      await hub.leave(clients[0]!.session)
      await hub.leave(clients[3]!.session)
      expect(hub.stats()).toEqual({ rooms: 0, peers: 0, sessions: 0, streams: 0, timers: 1 })
    })

    memoryIt('close() ends every stream and timer and forgets everything, once', async () => {
      const hub = await makeHub()
      const room = randomRoom()
      const [a, b, c] = [await connectClient(hub, room), await connectClient(hub, room), await connectClient(hub, randomRoom())]
      await hub.disconnect(c.session, c.sink)
      joined(await hub.join(nanoid(), room, undefined))
      expect(vi.getTimerCount()).toBe(3) // heartbeat + two grace timers
      const framesOfB = b.sink.frames.length
      hub.close()
      expect([a.sink.closed, b.sink.closed]).toEqual([true, true])
      expect(hub.stats()).toEqual({ rooms: 0, peers: 0, sessions: 0, streams: 0, timers: 0 })
      expect(vi.getTimerCount()).toBe(0)
      // Nobody is told to leave: the clients resume on the next server within their grace period.
      vi.advanceTimersByTime(10 * RETENTION_MS)
      expect(b.sink.frames).toHaveLength(framesOfB)
      hub.close()
      expect(hub.stats()).toEqual({ rooms: 0, peers: 0, sessions: 0, streams: 0, timers: 0 })
    })
  })
})
