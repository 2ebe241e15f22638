import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Redis } from 'ioredis'
import { nanoid } from 'nanoid'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { POST_TIMEOUT_MS } from '../../client/lib/signaling/http'
import type { MembershipHandlers } from '../../client/lib/types'
import { createNodeSignaling } from '../../client/node/index'
import { API_DEFAULTS } from '../../signaling/api-options'
import { createCredentials } from '../../signaling/credentials'
import { toHttpError } from '../../signaling/errors'
import { sendError } from '../../signaling/http'
import type { Hub, Sink } from '../../signaling/hub'
import { ticketTtlMs } from '../../signaling/join-tickets'
import { createLogger } from '../../signaling/log'
import { createMemoryHub } from '../../signaling/memory-hub'
import { NO_OBSERVER } from '../../signaling/metrics'
import { createRedisHub } from '../../signaling/redis-hub'
import { createSessionRoutes } from '../../signaling/session-routes'
import {
  connectPeer,
  join,
  pollUntil,
  postJson,
  randomRoom,
  type SseClient,
  startServer,
  TEST_SECRET,
  type TestServer,
  within,
} from '../helpers'
import { holdAnswers, holdJoinAnswers, startRecordingProxy } from '../proxy'
import { type Service, startRedis } from '../services'

// POST /join {nonce} and POST /leave {nonce} without a token (PROTOCOL.md 3.1, 3.5): a page that goes
// while its join is in flight cancels it. The grace period is long here, so a peer-left that arrives
// within the stream's 5 s wait can only be the cancel's, never the grace period's.
const GRACE_MS = 30_000
const BEACON = { 'content-type': 'text/plain;charset=UTF-8' }

const servers: TestServer[] = []
const streams: SseClient[] = []
const closers: Array<() => unknown> = []
async function server(options: Parameters<typeof startServer>[0] = {}) {
  const s = await startServer({ graceMs: GRACE_MS, ...options })
  servers.push(s)
  return s
}
async function peer(api: string, room: string) {
  const p = await connectPeer(api, room)
  streams.push(p.stream)
  return p
}
/** A Node signaling client whose requests go through `proxy`, closed after the test. */
function clientThrough(proxy: { url: string }) {
  const client = createNodeSignaling(`${proxy.url}/v1`)
  closers.push(() => client.close())
  return client
}
/** A proxy holding answers (holdAnswers), closed after the test with what it holds let go first. */
function closedAfter<T extends { proxy: { close(): Promise<void> }; release(): void }>(held: T): T {
  closers.push(async () => {
    held.release()
    await held.proxy.close()
  })
  return held
}
const NO_HANDLERS: MembershipHandlers = { joined: () => {}, event: () => {}, lost: () => {}, unknown: () => {} }
afterEach(async () => {
  for (const s of streams.splice(0)) s.close()
  for (const close of closers.splice(0)) await close()
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

const newNonce = () => nanoid(22)
const cancel = (api: string, nonce: string, headers: Record<string, string> = {}) => postJson(`${api}/leave`, { nonce }, undefined, headers)
const health = async (url: string) => (await (await fetch(`${url}/healthz`)).json()) as { rooms: number; peers: number; sessions: number }

/** A join whose body arrives in two parts: `finish()` sends the rest, and the answer comes after. */
function splitJoin(api: string, body: Record<string, unknown>) {
  const text = JSON.stringify(body)
  const cut = text.indexOf('"nonce"')
  const req = request(`${api}/join`, {
    method: 'POST',
    agent: false,
    headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) },
  })
  const sent = new Promise<void>((resolve) => req.write(text.slice(0, cut), () => resolve()))
  const answer = new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
    req.on('response', (res) => {
      let data = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (data += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) as Record<string, unknown> }))
    })
    req.on('error', reject)
  })
  return {
    sent,
    finish() {
      req.end(text.slice(cut))
      return answer
    },
  }
}

describe('cancelling a join by its nonce', () => {
  it('after the join completed: its peer leaves at once, as with its token; the beacon answers 204 every time', async () => {
    const { url, api } = await server()
    const room = randomRoom()
    const a = await peer(api, room)
    const nonce = newNonce()
    const b = await join(api, room, undefined, { nonce })
    await a.stream.next('peer-joined')
    expect((await cancel(api, nonce, BEACON)).status).toBe(204)
    expect((await a.stream.next('peer-left')).json).toEqual({ to: a.peer, peer: b.peer, reason: 'leave' })
    expect((await cancel(api, nonce)).status).toBe(204)
    // A later join is the barrier: everything the second cancel caused would have reached A before it.
    const c = await join(api, room)
    await a.stream.next('peer-joined', (d) => (d.peer as { id: string }).id === c.peer)
    expect(a.stream.ofType('peer-left')).toHaveLength(1)
    expect(await health(url)).toMatchObject({ peers: 2 })
  })

  it('before the join arrives: the join is refused with 409 JOIN_CANCELLED and seats nobody', async () => {
    const { url, api } = await server()
    const room = randomRoom()
    const nonce = newNonce()
    expect((await cancel(api, nonce, BEACON)).status).toBe(204)
    const refused = await postJson(`${api}/join`, { room, nonce })
    expect(refused).toMatchObject({ status: 409, body: { error: 'JOIN_CANCELLED' } })
    expect(await health(url)).toMatchObject({ rooms: 0, peers: 0, sessions: 0 })
    expect((await peer(api, room)).peers).toEqual([])
  })

  it("while the join's body is in flight: 409 JOIN_CANCELLED, the room never hears of it", async () => {
    const { url, api } = await server()
    const room = randomRoom()
    const a = await peer(api, room)
    const nonce = newNonce()
    const pending = splitJoin(api, { room, nonce })
    await pending.sent
    expect((await cancel(api, nonce, BEACON)).status).toBe(204)
    expect(await pending.finish()).toMatchObject({ status: 409, body: { error: 'JOIN_CANCELLED' } })
    expect(await health(url)).toMatchObject({ peers: 1, sessions: 1 })
    const c = await join(api, room)
    await a.stream.next('peer-joined', (d) => (d.peer as { id: string }).id === c.peer)
    expect(a.stream.ofType('peer-joined')).toHaveLength(1)
  })

  it('refuses a malformed nonce with 400 BAD_REQUEST, on join and on leave, seating nobody', async () => {
    const { url, api } = await server()
    for (const nonce of ['short', 'x'.repeat(65), `${'a'.repeat(20)}.`, 1234567890123456, null, ['a'.repeat(22)]]) {
      const what = JSON.stringify(nonce)
      expect(await postJson(`${api}/join`, { room: randomRoom(), nonce }), what).toMatchObject({
        status: 400,
        body: { error: 'BAD_REQUEST' },
      })
      expect(await postJson(`${api}/leave`, { nonce }), what).toMatchObject({ status: 400, body: { error: 'BAD_REQUEST' } })
    }
    expect(await health(url)).toMatchObject({ rooms: 0, peers: 0, sessions: 0 })
    // The bounds themselves are fine.
    expect((await postJson(`${api}/join`, { room: randomRoom(), nonce: 'a'.repeat(16) })).status).toBe(200)
    expect((await postJson(`${api}/join`, { room: randomRoom(), nonce: '_-'.repeat(32) })).status).toBe(200)
  })

  it('refuses a nonce an earlier join carried with 409 NONCE_USED (with or without a token); its cancel still reaches the first', async () => {
    const { url, api } = await server()
    const room = randomRoom()
    const a = await peer(api, room)
    const nonce = newNonce()
    const b = await join(api, room, undefined, { nonce })
    expect(await postJson(`${api}/join`, { room, nonce })).toMatchObject({ status: 409, body: { error: 'NONCE_USED' } })
    expect(await postJson(`${api}/join`, { room, nonce }, a.token)).toMatchObject({ status: 409, body: { error: 'NONCE_USED' } })
    expect(await health(url)).toMatchObject({ peers: 2 })
    expect((await cancel(api, nonce)).status).toBe(204)
    expect((await a.stream.next('peer-left')).json).toEqual({ to: a.peer, peer: b.peer, reason: 'leave' })
  })

  it('rate-limits cancels per address in a bucket of their own: 429 RATE_LIMITED with Retry-After', async () => {
    const { api } = await server({ joinsPerSec: 0.01, joinBurst: 2 })
    expect((await cancel(api, newNonce())).status).toBe(204)
    expect((await cancel(api, newNonce(), BEACON)).status).toBe(204)
    const refused = await cancel(api, newNonce())
    expect(refused).toMatchObject({ status: 429, body: { error: 'RATE_LIMITED' } })
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    // Joins keep their own bucket.
    expect((await postJson(`${api}/join`, { room: randomRoom(), nonce: newNonce() })).status).toBe(200)
  })

  it("a leave with a token spends its session's cancels on joins the server knows, not its address's: an address out of cancels still cancels and leaves", async () => {
    const { api } = await server({ joinsPerSec: 0.01, joinBurst: 3 })
    const room = randomRoom()
    const a = await peer(api, room)
    const b = await join(api, room)
    const nonce = newNonce()
    const c = await join(api, room, undefined, { nonce })
    for (let i = 0; i < 3; i++) expect((await cancel(api, newNonce())).status).toBe(204)
    expect((await cancel(api, newNonce())).status).toBe(429)
    expect((await postJson(`${api}/leave`, { peer: b.peer, token: b.token, nonce }, undefined, BEACON)).status).toBe(204)
    const left = [(await a.stream.next('peer-left')).json.peer, (await a.stream.next('peer-left')).json.peer]
    expect(left).toEqual([c.peer, b.peer])
  })

  it('a re-claim’s cancel that overtakes its join goes through when others behind its address have spent their cancels', async () => {
    const { api } = await server({ joinsPerSec: 0.01, joinBurst: 3 })
    const room = randomRoom()
    const a = await peer(api, room)
    const b = await join(api, room)
    // Someone behind the same address spends its cancels (no token).
    for (let i = 0; i < 3; i++) expect((await cancel(api, newNonce())).status).toBe(204)
    expect((await cancel(api, newNonce())).status).toBe(429)
    // B's tab goes while its re-claim is on the way: its leave and the re-claim's cancel come first.
    const nonce = newNonce()
    expect((await postJson(`${api}/leave`, { peer: b.peer, token: b.token, nonce }, undefined, BEACON)).status).toBe(204)
    expect((await a.stream.next('peer-left')).json).toEqual({ to: a.peer, peer: b.peer, reason: 'leave' })
    const late = await postJson(`${api}/join`, { room, peer: b.peer, nonce }, b.token)
    expect(late).toMatchObject({ status: 409, body: { error: 'JOIN_CANCELLED' } })
  })

  it('an address cannot multiply its cancels of nonces the server never saw by holding many sessions', async () => {
    const burst = 6
    const { api } = await server({ joinsPerSec: 0.01, joinBurst: burst })
    const room = randomRoom()
    const answers: number[][] = []
    for (let s = 0; s < 4; s++) {
      const { token } = await join(api, room)
      const mine: number[] = []
      for (let i = 0; i < burst; i++)
        mine.push((await postJson(`${api}/leave`, { peer: 'nobody', token, nonce: newNonce() }, undefined, BEACON)).status)
      answers.push(mine)
    }
    // Each session's bucket holds six, but the address's two (with a token, then without) hold twelve in all.
    const ok = Array.from({ length: burst }, () => 204)
    const refused = Array.from({ length: burst }, () => 429)
    expect(answers).toEqual([ok, ok, refused, refused])
  })

  it("a leave whose cancel is refused by its session's rate limit still leaves by its token, then answers 429", async () => {
    const { api } = await server({ joinsPerSec: 0.01, joinBurst: 2 })
    const room = randomRoom()
    const a = await peer(api, room)
    const b = await join(api, room)
    // Two cancels spend the session's bucket (a leave of a peer the session does not hold changes nothing).
    for (let i = 0; i < 2; i++) {
      expect((await postJson(`${api}/leave`, { peer: 'nobody', token: b.token, nonce: newNonce() }, undefined, BEACON)).status).toBe(204)
    }
    const answer = await postJson(`${api}/leave`, { peer: b.peer, token: b.token, nonce: newNonce() }, undefined, BEACON)
    expect(answer).toMatchObject({ status: 429, body: { error: 'RATE_LIMITED' } })
    expect((await a.stream.next('peer-left')).json).toEqual({ to: a.peer, peer: b.peer, reason: 'leave' })
  })

  it("a leave with a token and a nonce does both: the nonce's peer leaves, then the token's", async () => {
    const { api } = await server()
    const room = randomRoom()
    const a = await peer(api, room)
    const nonce = newNonce()
    const [b, c] = [await join(api, room), await join(api, room, undefined, { nonce })]
    expect((await postJson(`${api}/leave`, { peer: b.peer, token: b.token, nonce }, undefined, BEACON)).status).toBe(204)
    const left = [(await a.stream.next('peer-left')).json.peer, (await a.stream.next('peer-left')).json.peer]
    expect(left).toEqual([c.peer, b.peer])
  })

  it('a token that no longer holds does not stop the nonce beside it from cancelling', async () => {
    const { api } = await server()
    const room = randomRoom()
    const a = await peer(api, room)
    const nonce = newNonce()
    const c = await join(api, room, undefined, { nonce })
    const answer = await postJson(`${api}/leave`, { token: 'not-a-token', nonce }, undefined, BEACON)
    expect(answer.status).toBe(401)
    expect((await a.stream.next('peer-left')).json.peer).toBe(c.peer)
  })

  it('a leave without a token or a nonce is still 401 UNAUTHORIZED', async () => {
    const { api } = await server()
    expect(await postJson(`${api}/leave`, {})).toMatchObject({ status: 401, body: { error: 'UNAUTHORIZED' } })
  })
})

/** POST /join and /leave alone, over `hub` (a wrapped one, to reach windows HTTP cannot hold open). */
async function serveRoutes(hub: Hub): Promise<string> {
  const { routes } = createSessionRoutes({
    options: { ...API_DEFAULTS, secret: TEST_SECRET },
    credentials: createCredentials(TEST_SECRET),
    hub,
    observer: NO_OBSERVER,
    clientIp: () => '127.0.0.1',
  })
  const http: Server = createServer((req, res) => {
    const route = routes[req.url?.slice(1) as 'join' | 'leave']
    route(req, res, {}).catch((err: unknown) => sendError(res, toHttpError(err)))
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  closers.push(
    () => new Promise((resolve) => http.close(resolve)),
    () => hub.close(),
  )
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}`
}

/**
 * The window the HTTP tests cannot hold open: the body is read and the hub's join is under way when
 * the cancel arrives. The routes run over a memory hub whose join waits for the test's word.
 */
describe('a cancel while the hub is seating the join', () => {
  it('unseats the peer as soon as the join completes (the room sees it come and go) and ends the session made for it', async () => {
    const hub = createMemoryHub({ ...API_DEFAULTS, newPeerId: () => nanoid() })
    let reached!: () => void
    const inHub = new Promise<void>((resolve) => (reached = resolve))
    let release!: () => void
    const released = new Promise<void>((resolve) => (release = resolve))
    const api = await serveRoutes({
      ...hub,
      async join(...args: Parameters<typeof hub.join>) {
        reached()
        await released
        return hub.join(...args)
      },
    })

    const room = randomRoom()
    const frames: string[] = []
    const sink: Sink = { write: (frame) => frames.push(frame) > 0, close: () => {} }
    const a = hub.join('session-a', room, undefined)
    hub.connect('session-a', undefined, sink)
    const nonce = newNonce()
    const joining = postJson(`${api}/join`, { room, nonce })
    await within(inHub, 5_000, 'the join reaching the hub')
    expect((await cancel(api, nonce)).status).toBe(204)
    release()
    expect(await joining).toMatchObject({ status: 409, body: { error: 'JOIN_CANCELLED' } })
    const events = frames.map((frame) => /event: (\S+)/.exec(frame)?.[1])
    expect(events).toEqual(['roster', 'peer-joined', 'peer-left'])
    expect(frames[2]).toContain('"reason":"leave"')
    expect(a.ok).toBe(true)
    expect(hub.stats()).toMatchObject({ rooms: 1, peers: 1, sessions: 1 })
  })
})

describe('two instances over one Redis', () => {
  let redis: Service & { url: string }
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(async () => {
    await redis?.stop()
  })
  async function instance() {
    const s = await server({ redisUrl: redis.url })
    await pollUntil(async () => (await fetch(`${s.url}/readyz`)).status === 200, 10_000, 'instance ready')
    return s
  }

  it('a join served by one instance is cancelled through the other: its peer leaves at once', async () => {
    const [one, two] = [await instance(), await instance()]
    const room = randomRoom()
    const a = await peer(one.api, room)
    const nonce = newNonce()
    const b = await join(one.api, room, undefined, { nonce })
    await a.stream.next('peer-joined')
    expect((await cancel(two.api, nonce, BEACON)).status).toBe(204)
    expect((await a.stream.next('peer-left')).json).toEqual({ to: a.peer, peer: b.peer, reason: 'leave' })
    expect(await postJson(`${two.api}/join`, { room, nonce })).toMatchObject({ status: 409, body: { error: 'JOIN_CANCELLED' } })
    // The ticket lives in Redis for at most the body timeout plus a minute from first sight.
    const client = new Redis(redis.url)
    closers.push(() => client.disconnect())
    const ttl = await client.pttl(`parley:n:${nonce}`)
    expect(ttl).toBeGreaterThan(0)
    expect(ttl).toBeLessThanOrEqual(ticketTtlMs(API_DEFAULTS.bodyTimeoutS))
  })

  it('a join that fails after the hub seated it (a Redis error settling its ticket) unseats its peer before answering', async () => {
    const prefix = `test-${nanoid(8)}:`
    const hub = createRedisHub(redis.url, { ...API_DEFAULTS, newPeerId: () => nanoid(), log: createLogger(), prefix })
    await pollUntil(async () => hub.ready(), 10_000, 'the Redis hub connected')
    const client = new Redis(redis.url)
    closers.push(() => client.disconnect())
    const nonce = newNonce()
    const seats: Array<{ session: string; peer: string }> = []
    const api = await serveRoutes({
      ...hub,
      async join(...args: Parameters<typeof hub.join>) {
        const result = await hub.join(...args)
        if (result.ok) seats.push({ session: args[0], peer: result.peer })
        // The ticket turns into a string: settling it (HGET) is a Redis error (WRONGTYPE).
        if (seats.length === 1) await client.set(`${prefix}n:${nonce}`, 'not a hash')
        return result
      },
    })
    const room = randomRoom()
    expect(await postJson(`${api}/join`, { room, nonce })).toMatchObject({ status: 500, body: { error: 'INTERNAL' } })
    const [ghost] = seats
    expect(await hub.hasPeer(ghost!.session, ghost!.peer)).toBe(false)
    // The page retries with a fresh nonce: one peer in the room, its own.
    const retried = await postJson(`${api}/join`, { room, nonce: newNonce() })
    expect(retried).toMatchObject({ status: 200, body: { peers: [] } })
  })

  it('a cancel through one instance refuses the join that reaches the other, in flight or later', async () => {
    const [one, two] = [await instance(), await instance()]
    const room = randomRoom()
    const early = newNonce()
    expect((await cancel(two.api, early)).status).toBe(204)
    expect(await postJson(`${one.api}/join`, { room, nonce: early })).toMatchObject({ status: 409, body: { error: 'JOIN_CANCELLED' } })

    const nonce = newNonce()
    const pending = splitJoin(one.api, { room, nonce })
    await pending.sent
    expect((await cancel(two.api, nonce, BEACON)).status).toBe(204)
    expect(await pending.finish()).toMatchObject({ status: 409, body: { error: 'JOIN_CANCELLED' } })
    expect(await postJson(`${two.api}/join`, { room, nonce: newNonce() })).toMatchObject({ status: 200, body: { peers: [] } })
  })
})

describe('the signaling client', () => {
  it('closed with its join in flight, cancels it: the peer seated for nobody leaves at once', async () => {
    const { url, api } = await server()
    const room = randomRoom()
    const a = await peer(api, room)
    // The server seats the joiner, but its answer waits at the proxy: the client never learns its token.
    const { proxy, landed, release } = closedAfter(await holdJoinAnswers(url))
    const client = clientThrough(proxy)
    const joining = client.join(room, undefined, NO_HANDLERS)
    await landed
    const joined = await a.stream.next('peer-joined')
    client.close()
    expect((await a.stream.next('peer-left')).json).toEqual({ to: a.peer, peer: (joined.json.peer as { id: string }).id, reason: 'leave' })
    release()
    await expect(joining).rejects.toMatchObject({ code: 'CLOSED' })
    expect(await health(url)).toMatchObject({ peers: 1 })
  })

  it('whose join answer was lost on the way cancels that join as it retries: its first peer leaves at once', async () => {
    const { url, api } = await server()
    const room = randomRoom()
    const a = await peer(api, room)
    let joins = 0
    const proxy = await startRecordingProxy(url, { dropResponse: (path) => path === '/v1/join' && joins++ === 0 })
    closers.push(() => proxy.close())
    const client = clientThrough(proxy)
    const joined = client.join(room, undefined, NO_HANDLERS)
    const first = ((await a.stream.next('peer-joined')).json.peer as { id: string }).id
    expect((await a.stream.next('peer-left')).json).toEqual({ to: a.peer, peer: first, reason: 'leave' })
    const second = (await joined).peer
    expect(second).not.toBe(first)
    await a.stream.next('peer-joined', (d) => (d.peer as { id: string }).id === second)
    expect(await health(url)).toMatchObject({ peers: 2 })
  })

  it('whose join answer never comes gives that join up after POST_TIMEOUT_MS, cancels it and retries: its first peer leaves at once, and the session stays online', async () => {
    const { url, api } = await server()
    const room = randomRoom()
    const a = await peer(api, room)
    // A proxy that holds one answer for good (the server seated the joiner): without a timeout the join,
    // and every join queued behind it, would wait as long as the connection lives.
    let holding = false
    const { proxy } = closedAfter(
      await holdJoinAnswers(url, () => {
        const held = holding
        holding = false
        return held
      }),
    )
    const client = clientThrough(proxy)
    // A session first (another room, its stream open): the held join is its second.
    const online = new Promise<void>((resolve) => client.on('status', (s) => s === 'online' && resolve()))
    await client.join(randomRoom(), undefined, NO_HANDLERS)
    await within(online, 5_000, 'the session online')
    const statuses: string[] = []
    client.on('status', (s) => statuses.push(s))
    holding = true
    const joined = client.join(room, undefined, NO_HANDLERS)
    const first = ((await a.stream.next('peer-joined')).json.peer as { id: string }).id
    const left = await a.stream.next('peer-left', () => true, POST_TIMEOUT_MS + 5_000)
    expect(left.json).toEqual({ to: a.peer, peer: first, reason: 'leave' })
    const second = (await within(joined, 5_000, 'the retried join')).peer
    expect(second).not.toBe(first)
    expect(await health(url)).toMatchObject({ peers: 3 })
    // Its stream was open all along: a join given up is not the server out of reach.
    expect([client.status, statuses]).toEqual(['online', []])
  }, 30_000)

  it('whose signal batch is never answered gives it up after POST_TIMEOUT_MS and sends it again, with the signals that queued behind it', async () => {
    const { url, api } = await server()
    const room = randomRoom()
    const a = await peer(api, room)
    // The server relays the first batch; its answer waits at the proxy for good. A sender has one POST
    // in flight: without a timeout, none of its signals would ever leave again.
    let batches = 0
    const { proxy } = closedAfter(await holdAnswers(url, '/v1/signal', () => batches++ === 0))
    const client = clientThrough(proxy)
    const { peer: me } = await client.join(room, undefined, NO_HANDLERS)
    client.signal(me, a.peer, 'offer')
    expect((await a.stream.next('signal')).json).toEqual({ to: a.peer, from: me, data: 'offer' })
    client.signal(me, a.peer, 'candidate')
    // Given up, the batch is sent again (its receiver tells a repeat by its seal) and the candidate with it.
    const again = await a.stream.next('signal', () => true, POST_TIMEOUT_MS + 5_000)
    expect(again.json).toEqual({ to: a.peer, from: me, data: 'offer' })
    expect((await a.stream.next('signal')).json).toEqual({ to: a.peer, from: me, data: 'candidate' })
  }, 30_000)

  it('told NONCE_USED (its attempt was sent twice), cancels that nonce and retries with a fresh one', async () => {
    const { url, api } = await server()
    const room = randomRoom()
    const a = await peer(api, room)
    // The first copy seats a peer whose answer never comes back; the second is refused.
    let joins = 0
    const proxy = await startRecordingProxy(url, { resend: (path) => path === '/v1/join' && joins++ === 0 })
    closers.push(() => proxy.close())
    const client = clientThrough(proxy)
    const joined = client.join(room, undefined, NO_HANDLERS)
    const unheard = ((await a.stream.next('peer-joined')).json.peer as { id: string }).id
    expect((await a.stream.next('peer-left')).json).toEqual({ to: a.peer, peer: unheard, reason: 'leave' })
    expect((await joined).peer).not.toBe(unheard)
    expect(joins).toBe(2)
  })

  it('gives up when every attempt is told NONCE_USED (something on the way resends every join), leaving nobody', async () => {
    const { url, api } = await server()
    const room = randomRoom()
    const a = await peer(api, room)
    let joins = 0
    const proxy = await startRecordingProxy(url, {
      resend: (path) => {
        if (path !== '/v1/join') return false
        joins++
        return true
      },
    })
    closers.push(() => proxy.close())
    const client = clientThrough(proxy)
    await expect(client.join(room, undefined, NO_HANDLERS)).rejects.toMatchObject({ code: 'NONCE_USED', status: 409 })
    expect(joins).toBe(3)
    for (let copy = 0; copy < 3; copy++) expect((await a.stream.next('peer-left')).json.reason).toBe('leave')
    await pollUntil(async () => (await health(url)).peers === 1, 5_000, 'every copy that seated a peer cancelled')
  })
})
