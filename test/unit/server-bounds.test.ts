import { request } from 'node:http'
import { connect, type Socket } from 'node:net'
import { nanoid } from 'nanoid'
import { afterEach, describe, expect, it } from 'vitest'
import { createApp } from '../../signaling/app'
import type { JoinResponse } from '../../signaling/protocol'
import { createHttpServer } from '../../signaling/server'
import { join, pollUntil, postJson, randomRoom, SseClient, startServer, streamUrl, TEST_SECRET, type TestServer, within } from '../helpers'

// Every bound of the server's hygiene and admission rules, at the boundary and one past it.

const WAIT_MS = 5_000
const verifier = () => nanoid(43)

const servers: TestServer[] = []
const sockets: Socket[] = []
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy()
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

async function serve(options: Parameters<typeof startServer>[0]) {
  const server = await startServer(options)
  servers.push(server)
  return server
}

/** A POST whose body stays unfinished until `finish` is called; resolves with the status it got. */
function stalledPost(url: string, declared = 100) {
  let finish: () => void = () => {}
  const answered = new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': declared } },
      (res) => {
        let body = ''
        res.on('data', (c: Buffer) => (body += c.toString()))
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }))
      },
    )
    req.on('error', reject)
    req.write('{"room":"')
    finish = () => req.end(`${'a'.repeat(declared - 11)}"}`)
  })
  return { answered, finish: () => finish() }
}

/** Raw sockets from the loopback address `from`; resolves once the server has accepted or cut each. */
function openSocket(port: number, from = '127.0.0.1'): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port, localAddress: from })
  sockets.push(socket)
  socket.on('error', () => {})
  return new Promise((resolve) => socket.once('connect', () => resolve(socket)))
}

const closedOrAnswered = (socket: Socket) =>
  new Promise<string>((resolve) => {
    let head = ''
    socket.on('data', (c: Buffer) => (head += c.toString('latin1')))
    socket.once('close', () => resolve(head))
  })

describe('body deadline', () => {
  it('reads a body that arrives within the deadline, and answers a stalled one 408 REQUEST_TIMEOUT, closing', async () => {
    const { api } = await serve({ bodyTimeoutS: 0.3 })
    const slow = stalledPost(`${api}/join`)
    slow.finish()
    expect((await slow.answered).status).toBe(400) // a valid answer to a finished (if nonsense) body
    const stalled = stalledPost(`${api}/join`)
    const answer = await within(stalled.answered, WAIT_MS, 'the stalled body to time out')
    expect(answer.status).toBe(408)
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'REQUEST_TIMEOUT' })
    expect(answer.headers.connection).toBe('close')
  })
})

describe('requests in flight per address', () => {
  it('admits the cap, refuses one more with 429 RATE_LIMITED and Retry-After, and admits again once one ends', async () => {
    const { api } = await serve({ maxRequestsPerIp: 3, bodyTimeoutS: 30 })
    const held = [stalledPost(`${api}/join`), stalledPost(`${api}/join`), stalledPost(`${api}/join`)]
    // The server has seen them when a fourth is refused; poll with fresh requests until then.
    let refused: Awaited<ReturnType<typeof postJson>>
    for (;;) {
      refused = await postJson(`${api}/join`, { room: randomRoom() })
      if (refused.status === 429) break
      expect(refused.status).toBe(200)
    }
    expect(refused.body).toMatchObject({ error: 'RATE_LIMITED' })
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    held[0]!.finish()
    await held[0]!.answered
    expect((await postJson(`${api}/join`, { room: randomRoom() })).status).toBe(200)
    for (const post of held.slice(1)) post.finish()
    await Promise.all(held.map((p) => p.answered))
  })
})

describe('the standalone HTTP server', () => {
  async function listen(limits: Partial<Parameters<typeof createHttpServer>[1]>, heartbeatMs?: number) {
    const parley = createApp({ secret: TEST_SECRET, ...(heartbeatMs ? { heartbeatMs } : {}) })
    const server = createHttpServer(parley.handler, {
      headersTimeoutS: 10,
      bodyTimeoutS: 10,
      maxConnectionsPerIp: 3,
      isProxy: () => false,
      ...limits,
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as { port: number }).port
    servers.push({
      url: '',
      api: '',
      port,
      stats: parley.stats,
      close: () =>
        new Promise<void>((resolve) => {
          parley.close()
          server.closeAllConnections()
          server.close(() => resolve())
        }),
    })
    return port
  }

  it('keeps the cap of connections per address open and cuts one more; another address is not affected', async () => {
    const port = await listen({ maxConnectionsPerIp: 3 })
    const kept = await Promise.all([openSocket(port), openSocket(port), openSocket(port)])
    const extra = await openSocket(port)
    expect(await within(closedOrAnswered(extra), WAIT_MS, 'the fourth connection to be cut')).toBe('')
    const other = await openSocket(port, '127.0.0.2')
    other.write('GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    expect(await within(closedOrAnswered(other), WAIT_MS, 'the other address to be answered')).toMatch(/^HTTP\/1\.1 200/)
    for (const socket of kept) expect(socket.destroyed).toBe(false)
  })

  it("does not count a trusted proxy's connections", async () => {
    const port = await listen({ maxConnectionsPerIp: 1, isProxy: (address) => address.endsWith('127.0.0.1') })
    await Promise.all([openSocket(port), openSocket(port)])
    const third = await openSocket(port)
    third.write('GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    expect(await within(closedOrAnswered(third), WAIT_MS, 'the proxy to be answered')).toMatch(/^HTTP\/1\.1 200/)
  })

  it('keeps an event stream open past every request deadline', async () => {
    // Deadlines of 1 s each (Node's whole-request one: 3 s); the stream lives through 4 heartbeats of 1 s.
    const port = await listen({ headersTimeoutS: 1, bodyTimeoutS: 1 }, 1_000)
    const api = `http://127.0.0.1:${port}/v1`
    const joined = await join(api, randomRoom())
    const stream = await SseClient.open(streamUrl(api, joined))
    await stream.until(() => stream.comments >= 4 || undefined, 10_000, 'four heartbeats')
    expect(stream.closed).toBe(false)
    stream.close()
  })

  it('answers half-sent headers 408 after the headers deadline', async () => {
    const port = await listen({ headersTimeoutS: 1 })
    const socket = await openSocket(port)
    socket.write('POST /v1/join HTTP/1.1\r\nHost: x\r\nContent-Ty')
    expect(await within(closedOrAnswered(socket), WAIT_MS, 'the headers deadline')).toMatch(/^HTTP\/1\.1 408/)
  })
})

describe('admission', () => {
  it('takes verifiers of 22 to 128 base64url characters, and refuses 21 and 129 with 400', async () => {
    const { api } = await serve({})
    for (const [length, status] of [
      [21, 400],
      [22, 200],
      [128, 200],
      [129, 400],
    ] as const) {
      const res = await postJson(`${api}/join`, { room: randomRoom(), verifier: 'v'.repeat(length) })
      expect(res.status, `${length} characters`).toBe(status)
    }
    expect((await postJson(`${api}/join`, { room: randomRoom(), verifier: `${'v'.repeat(30)}+` })).status).toBe(400)
  })

  it('refuses a join without the registered verifier with 403 BAD_VERIFIER', async () => {
    const { api } = await serve({})
    const room = randomRoom()
    const proof = verifier()
    await join(api, room, undefined, { verifier: proof })
    const squatter = await postJson(`${api}/join`, { room })
    expect(squatter.status).toBe(403)
    expect(squatter.body).toMatchObject({ error: 'BAD_VERIFIER' })
    expect((await postJson(`${api}/join`, { room, verifier: verifier() })).body).toMatchObject({ error: 'BAD_VERIFIER' })
    await join(api, room, undefined, { verifier: proof })
  })

  it('seats the cap of peers per session and per address in one room, and refuses one more with 409 TOO_MANY_SEATS', async () => {
    const { api } = await serve({ maxSeatsPerSession: 2, maxSeatsPerIp: 3 })
    const room = randomRoom()
    const first = await join(api, room)
    await join(api, room, first.token)
    const third = await postJson(`${api}/join`, { room }, first.token)
    expect(third.status).toBe(409)
    expect(third.body).toMatchObject({ error: 'TOO_MANY_SEATS' })
    await join(api, room) // the address's third seat
    expect((await postJson(`${api}/join`, { room })).body).toMatchObject({ error: 'TOO_MANY_SEATS' })
  })
})

describe('signal limits per session and per address', () => {
  async function pair(api: string, token?: string) {
    const room = randomRoom()
    const a = await join(api, room, token)
    const b = await join(api, room, a.token)
    return { a, b }
  }
  const signal = (api: string, from: JoinResponse, to: string) => postJson(`${api}/signal`, { peer: from.peer, to, data: 'x' }, from.token)

  it('lets a session send its burst (4 s of its rate) across its peers, and refuses one more with 429', async () => {
    const { api } = await serve({ sessionSignalsPerSec: 1, ipSignalsPerSec: 1000 })
    const { a, b } = await pair(api)
    for (let i = 0; i < 2; i++) expect((await signal(api, a, b.peer)).status).toBe(204)
    for (let i = 0; i < 2; i++) expect((await signal(api, b, a.peer)).status).toBe(204)
    const refused = await signal(api, a, b.peer)
    expect(refused.status).toBe(429)
    expect(refused.body).toMatchObject({ error: 'RATE_LIMITED' })
  })

  it('lets an address send its burst across its sessions, and refuses one more with 429', async () => {
    const { api } = await serve({ sessionSignalsPerSec: 1000, ipSignalsPerSec: 1 })
    const first = await pair(api)
    const second = await pair(api)
    for (let i = 0; i < 2; i++) expect((await signal(api, first.a, first.b.peer)).status).toBe(204)
    for (let i = 0; i < 2; i++) expect((await signal(api, second.a, second.b.peer)).status).toBe(204)
    expect((await signal(api, second.a, second.b.peer)).status).toBe(429)
  })
})

describe('expiring credentials', () => {
  it('renews a valid token into fresh credentials, and answers an expired one 401 EXPIRED', async () => {
    // A TTL of 2 s: credentials last 1-2 s.
    const { api } = await serve({ credentialTtlS: 2 })
    const joined = await join(api, randomRoom())
    expect(joined.credentialsTtlS).toBeGreaterThanOrEqual(1)
    expect(joined.credentialsTtlS).toBeLessThanOrEqual(2)
    const renewed = await postJson(`${api}/renew`, {}, joined.token)
    expect(renewed.status).toBe(200)
    expect(renewed.body).toMatchObject({ token: expect.any(String), key: expect.any(String), credentialsTtlS: expect.any(Number) })
    let answer = renewed
    await pollUntil(
      async () => {
        answer = await postJson(`${api}/renew`, {}, joined.token)
        return answer.status !== 200
      },
      WAIT_MS,
      'the token to expire',
      100,
    )
    expect(answer.status).toBe(401)
    expect(answer.body).toMatchObject({ error: 'EXPIRED' })
    expect((await postJson(`${api}/renew`, {}, `${joined.session}.${'A'.repeat(22)}`)).body).toMatchObject({ error: 'UNAUTHORIZED' })
  })
})
