import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https'
import { connect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterEach, describe, expect, it } from 'vitest'
import { createApp } from '../../signaling/app'
import { createHttpServer } from '../../signaling/server'
import { END_TIMEOUT_MS } from '../../signaling/stream-socket'
import { join, pollUntil, postJson, randomRoom, SseClient, streamUrl, TEST_SECRET, within } from '../helpers'

// An open stream's socket is taken from Node's HTTP server (signaling/stream-socket.ts): what the stream
// does must not change, and Node's request and response for it must become garbage.

const WAIT_MS = 5_000
const HEARTBEAT_MS = 100

// For the whole worker process, not just this file: it only makes `gc` callable, which nothing else
// calls, and vitest runs each test file in a fresh worker by default.
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

interface Served {
  parley: ReturnType<typeof createApp>
  server: Server
  api: string
  port: number
  /** Node's request and response objects of every stream request, weakly. */
  streamObjects: WeakRef<IncomingMessage | ServerResponse>[]
  /** The server's end of every connection. */
  serverSockets: Socket[]
}

const running: Array<{ parley: Served['parley']; server: Pick<Server, 'closeAllConnections' | 'close'> }> = []
const sockets: Socket[] = []
const clients: SseClient[] = []
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy()
  for (const client of clients.splice(0)) client.close()
  for (const { parley, server } of running.splice(0)) {
    parley.close()
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
})

/** `wrap`: stands for middleware that wraps every stream response's `write`. */
/** `timeoutMs`: the server's `timeout`, as an embedder may set it. */
async function serve(
  options: Partial<Parameters<typeof createApp>[0]> = {},
  wrap?: (res: ServerResponse) => void,
  timeoutMs = 0,
): Promise<Served> {
  const parley = createApp({ secret: TEST_SECRET, heartbeatMs: HEARTBEAT_MS, ...options })
  const streamObjects: Served['streamObjects'] = []
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith('/v1/stream')) {
      streamObjects.push(new WeakRef(req), new WeakRef(res))
      wrap?.(res)
    }
    parley.handler(req, res)
  }
  const server = createHttpServer(handler, { headersTimeoutS: 10, bodyTimeoutS: 10, maxConnectionsPerIp: 10, isProxy: () => false })
  server.timeout = timeoutMs
  const serverSockets: Socket[] = []
  server.on('connection', (socket: Socket) => serverSockets.push(socket))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  const served = { parley, server, api: `http://127.0.0.1:${port}/v1`, port, streamObjects, serverSockets }
  running.push(served)
  return served
}

/** Whether every stream request and response is gone after a full collection (WeakRefs clear between tasks). */
function collected(served: Pick<Served, 'streamObjects'>): boolean {
  gc()
  return served.streamObjects.every((ref) => ref.deref() === undefined)
}

async function openStream(api: string, room: string) {
  const joined = await join(api, room)
  const stream = await SseClient.open(streamUrl(api, joined))
  clients.push(stream)
  await stream.next('roster', (d) => d.to === joined.peer)
  return { ...joined, stream }
}

/** Sends `request` (the key filled in) over a raw socket; `seen()` is what came back so far. */
function rawRequest(served: Served, request: (key: string) => string, joined: { key: string }) {
  const socket = connect({ host: '127.0.0.1', port: served.port })
  sockets.push(socket)
  socket.on('error', () => {})
  let text = ''
  const waiting: (() => void)[] = []
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1')
    for (const check of waiting.splice(0)) check()
  })
  const closed = new Promise<string>((resolve) => socket.once('close', () => resolve(text)))
  const until = (pattern: RegExp) =>
    new Promise<void>((resolve) => {
      const check = () => (pattern.test(text) ? resolve() : void waiting.push(check))
      check()
    })
  socket.write(request(encodeURIComponent(joined.key)))
  return { socket, closed, until }
}

const streamRequest = (key: string) => `GET /v1/stream?key=${key} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`

/** A stream opened over a raw socket; resolves once the socket has seen a heartbeat after the roster. */
async function rawStream(served: Served, room = randomRoom()) {
  const joined = await join(served.api, room)
  const raw = rawRequest(served, streamRequest, joined)
  await within(raw.until(/event: roster[\s\S]*\n:\n\n/), WAIT_MS, 'the roster and a heartbeat')
  return { ...joined, ...raw }
}

const takenOver = (served: Pick<Served, 'streamObjects'>) => pollUntil(async () => collected(served), WAIT_MS, 'the takeover')

/** Relays signals of 256 KB from `from` to `to` until `done()`, which must come within `max` of them. */
async function flood(served: Served, from: { peer: string; token: string }, to: string, done: () => boolean, max = 400) {
  const pad = 'x'.repeat(256 * 1024)
  let n = 0
  for (; !done(); n++) {
    expect(n).toBeLessThan(max)
    expect((await postJson(`${served.api}/signal`, { peer: from.peer, to, data: { n, pad } }, from.token)).status).toBe(204)
  }
  return n - 1
}

/** The server's end of the connection with the most bytes queued beyond the kernel's buffers. */
const fullest = (served: Served) =>
  served.serverSockets.reduce((most, socket) => (socket.writableLength > most.writableLength ? socket : most))

const closes = (socket: Socket) => new Promise((resolve) => (socket.destroyed ? resolve(null) : socket.once('close', resolve)))

describe('a stream taken over from Node', () => {
  it('leaves its request and response to the collector, and still relays, beats and closes', async () => {
    const served = await serve()
    const room = randomRoom()
    const alice = await openStream(served.api, room)
    await pollUntil(async () => collected(served), WAIT_MS, "Node's request and response of the open stream to be collected")
    const bob = await openStream(served.api, room)
    expect((await alice.stream.next('peer-joined')).json).toMatchObject({ peer: { id: bob.peer } })
    expect((await postJson(`${served.api}/signal`, { peer: bob.peer, to: alice.peer, data: { n: 1 } }, bob.token)).status).toBe(204)
    expect((await alice.stream.next('signal', (d) => d.from === bob.peer)).json.data).toEqual({ n: 1 })
    const beats = alice.stream.comments
    await alice.stream.until(() => alice.stream.comments >= beats + 2, WAIT_MS, 'two more heartbeats')

    alice.stream.close()
    await pollUntil(async () => served.parley.stats().streams === 1, WAIT_MS, "alice's stream to be released")
  })

  it('ends with the server: every stream closes and the server closes without forcing connections', async () => {
    const served = await serve()
    const room = randomRoom()
    const streams = [await openStream(served.api, room), await openStream(served.api, room)]
    await pollUntil(async () => collected(served), WAIT_MS, 'the takeovers')
    running.splice(running.indexOf(served), 1)
    served.parley.close()
    await within(new Promise((resolve) => served.server.close(resolve)), WAIT_MS, 'the server to close by itself')
    await Promise.all(streams.map(({ stream }) => stream.closedPromise()))
  })

  it('ends a stream whose client sends a request after its request, and serves others', async () => {
    const served = await serve()
    const { socket, closed } = await rawStream(served)
    await takenOver(served)
    // Before the takeover, Node would queue this request's answer behind the stream's, never sent.
    socket.write('GET /livez HTTP/1.1\r\nHost: x\r\n\r\n')
    await within(closed, WAIT_MS, 'the stream to be cut')
    await pollUntil(async () => served.parley.stats().ipsWithStreams === 0, WAIT_MS, "the stream's seat to be released")
    const other = await openStream(served.api, randomRoom())
    expect(other.stream.closed).toBe(false)
  })

  it('ends a stream whose request came with part of a next one, not dropping it unread', async () => {
    const served = await serve()
    const joined = await join(served.api, randomRoom())
    const { closed } = rawRequest(served, (key) => `${streamRequest(key)}GET /li`, joined)
    await within(closed, WAIT_MS, 'the stream to be cut')
    await pollUntil(async () => served.parley.stats().ipsWithStreams === 0, WAIT_MS, "the stream's seat to be released")
  })

  it('ends a stream whose client half-closes its connection', async () => {
    const served = await serve()
    const { socket, closed } = await rawStream(served)
    await takenOver(served)
    socket.end()
    await within(closed, WAIT_MS, 'the stream to be closed')
    await pollUntil(async () => served.parley.stats().ipsWithStreams === 0, WAIT_MS, "the stream's seat to be released")
  })

  it('drops a stream whose client stops reading once its backlog passes the bound, and ends it', async () => {
    const served = await serve({ maxStreamBacklogBytes: 64 * 1024, maxBodyBytes: 512 * 1024 })
    const room = randomRoom()
    const alice = await rawStream(served, room)
    alice.socket.pause()
    const bob = await openStream(served.api, room)
    // The kernel's buffers on both ends take some megabytes before the server's socket queues any.
    const last = await flood(served, bob, alice.peer, () => served.parley.stats().streams !== 2)
    alice.socket.resume()
    const text = await within(alice.closed, WAIT_MS, "the dropped stream's end, after what was queued")
    expect(text.endsWith('\n\n')).toBe(true)
    expect(text.slice(text.lastIndexOf('event: ')).startsWith('event: signal\n')).toBe(true)
    expect(text.slice(text.lastIndexOf('event: '))).toContain(`"n":${last},`)
  })

  // In these, the client stops reading for good: only the server's end of its connection sees it close.
  it('destroys a dropped stream whose client never reads again', async () => {
    const served = await serve({ maxStreamBacklogBytes: 1024 * 1024, maxBodyBytes: 512 * 1024 })
    const room = randomRoom()
    const alice = await rawStream(served, room)
    await takenOver(served)
    alice.socket.pause()
    const bob = await openStream(served.api, room)
    await flood(served, bob, alice.peer, () => served.parley.stats().streams !== 2)
    const stalled = fullest(served)
    expect(stalled.writableLength).toBeGreaterThan(0)
    await within(closes(stalled), END_TIMEOUT_MS + WAIT_MS, 'the dropped stream to be destroyed')
  })

  it('lets the server close with a client that stopped reading, MBs queued for it', async () => {
    const served = await serve({ maxStreamBacklogBytes: 64 * 1024 * 1024, maxBodyBytes: 512 * 1024 })
    const room = randomRoom()
    const alice = await rawStream(served, room)
    await takenOver(served)
    alice.socket.pause()
    const bob = await openStream(served.api, room)
    await flood(served, bob, alice.peer, () => fullest(served).writableLength > 2 * 1024 * 1024)
    running.splice(running.indexOf(served), 1)
    // main.ts's order.
    const closing = new Promise((resolve) => served.server.close(resolve))
    served.parley.close()
    await within(closing, END_TIMEOUT_MS + WAIT_MS, 'the server to close by itself')
  })

  it("keeps the server's timeout: a stalled stream is destroyed, a beating one is not", async () => {
    const timeoutMs = 1_000
    const served = await serve({ maxStreamBacklogBytes: 64 * 1024 * 1024, maxBodyBytes: 512 * 1024 }, undefined, timeoutMs)
    const room = randomRoom()
    const alice = await rawStream(served, room)
    await takenOver(served)
    alice.socket.pause()
    const bob = await openStream(served.api, room)
    await flood(served, bob, alice.peer, () => fullest(served).writableLength > 1024 * 1024)
    await within(closes(fullest(served)), timeoutMs + WAIT_MS, 'the stalled stream to be destroyed')
    const beats = bob.stream.comments
    await bob.stream.until(() => bob.stream.comments >= beats + 2, WAIT_MS, 'two more heartbeats')
    expect(bob.stream.closed).toBe(false)
  })

  it('stays on its response when middleware wraps its writes: the middleware sees every frame', async () => {
    let seen = ''
    const served = await serve({}, (res) => {
      const write = res.write
      res.write = function (this: ServerResponse, ...args: Parameters<typeof write>) {
        seen += String(args[0])
        return write.apply(this, args)
      } as typeof res.write
    })
    const room = randomRoom()
    const alice = await openStream(served.api, room)
    const bob = await openStream(served.api, room)
    await alice.stream.next('peer-joined')
    const beats = alice.stream.comments
    await alice.stream.until(() => alice.stream.comments >= beats + 2, WAIT_MS, 'two more heartbeats')
    expect(seen).toContain('event: peer-joined')
    expect(seen.split('\n:\n').length).toBeGreaterThan(2)
    alice.stream.close()
    bob.stream.close()
    await pollUntil(async () => served.parley.stats().streams === 0, WAIT_MS, 'both streams to be released')
  })
})

// TLS with a pre-shared key: an https server needs no certificate for it, so none is kept in the repository.
const TLS_KEY = Buffer.alloc(32, 7)
const TLS = { ciphers: 'PSK-AES128-GCM-SHA256', minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' } as const
const TLS_CLIENT = { ...TLS, pskCallback: () => ({ psk: TLS_KEY, identity: 'test' }), checkServerIdentity: () => undefined }

describe("a stream taken over from an embedder's https server", () => {
  it('still relays and beats over TLS, its request and response collected', async () => {
    const parley = createApp({ secret: TEST_SECRET, heartbeatMs: HEARTBEAT_MS })
    const streamObjects: Served['streamObjects'] = []
    const server = createHttpsServer({ ...TLS, pskCallback: () => TLS_KEY }, (req, res) => {
      if (req.url?.startsWith('/v1/stream')) streamObjects.push(new WeakRef(req), new WeakRef(res))
      parley.handler(req, res)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as { port: number }
    running.push({ parley, server })
    const post = (path: string, body: unknown, token?: string) =>
      new Promise<{ status: number; json: { peer: string; key: string; token: string } }>((resolve, reject) => {
        const headers = { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }
        const req = httpsRequest({ host: '127.0.0.1', port, path, method: 'POST', headers, ...TLS_CLIENT }, (res) => {
          let text = ''
          res.on('data', (chunk: Buffer) => (text += chunk))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : {} }))
        })
        req.on('error', reject)
        req.end(JSON.stringify(body))
      })
    const room = randomRoom()
    const alice = (await post('/v1/join', { room })).json
    const bob = (await post('/v1/join', { room })).json
    const socket = tlsConnect({ host: '127.0.0.1', port, ...TLS_CLIENT })
    sockets.push(socket)
    let text = ''
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')))
    socket.write(streamRequest(encodeURIComponent(alice.key)))
    const seen = (pattern: RegExp, what: string) => pollUntil(async () => pattern.test(text), WAIT_MS, what)
    await seen(/event: roster/, 'the roster over TLS')
    await takenOver({ streamObjects })
    expect((await post('/v1/signal', { peer: bob.peer, to: alice.peer, data: { over: 'tls' } }, bob.token)).status).toBe(204)
    await seen(/"over":"tls"/, 'the signal over TLS')
    const beats = text.split('\n:\n').length
    await pollUntil(async () => text.split('\n:\n').length >= beats + 2, WAIT_MS, 'two more heartbeats over TLS')
  })
})
