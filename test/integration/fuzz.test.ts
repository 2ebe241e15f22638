import { existsSync } from 'node:fs'
import { join as joinPath } from 'node:path'
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ErrorCode, JoinResponse } from '../../signaling/protocol'
import {
  connectPeer,
  DIST_CLIENT,
  join,
  postJson,
  randomRoom,
  rawRequest,
  startServer,
  streamUrl,
  type TestServer,
  within,
} from '../helpers'

// Enough runs that the rarer outcomes (a signal relayed whole: 204) come up every time, not just usually.
const RUNS = 1_500
const REQUEST_TIMEOUT_MS = 5_000
const MAX_BODY_CHARS = 100 * 1024
// Node itself answers 431 (without JSON) when a request head passes 16 KiB: paths and headers stay below.
const MAX_PATH_CHARS = 6_000

/** Every ErrorCode in protocol.ts with the statuses PROTOCOL.md section 5 gives it; the Record type keeps the list complete. */
const STATUSES: Record<ErrorCode, number[]> = {
  BAD_JSON: [400],
  BAD_REQUEST: [400],
  BAD_ROOM: [400],
  BAD_PEER: [400, 403],
  PAYLOAD_TOO_LARGE: [413],
  UNSUPPORTED_MEDIA_TYPE: [415],
  UNAUTHORIZED: [401],
  FORBIDDEN_ORIGIN: [403],
  NOT_YOUR_PEER: [403],
  UNKNOWN_PEER: [404],
  NOT_IN_ROOM: [403],
  ROOM_FULL: [409],
  TOO_MANY_PEERS: [409],
  RATE_LIMITED: [429],
  REQUEST_TIMEOUT: [408],
  BAD_VERIFIER: [403],
  TOO_MANY_SEATS: [409],
  JOIN_CANCELLED: [409],
  NONCE_USED: [409],
  EXPIRED: [401],
  NOT_FOUND: [404],
  METHOD_NOT_ALLOWED: [405],
  PRECONDITION_FAILED: [412],
  RANGE_NOT_SATISFIABLE: [416],
  SHUTTING_DOWN: [503],
  UNAVAILABLE: [503],
  INTERNAL: [500],
}

const API = ['join', 'signal', 'leave', 'stream'] as const
const ENDPOINTS = ['/v1/join', '/v1/signal', '/v1/leave', '/v1/stream', '/healthz', '/', '/r/x']
const NEAR_MISSES = [
  '/v1',
  '/v1/',
  '/V1/join',
  '/v1/JOIN',
  '/v1/join/',
  '/v1//join',
  '/v1/join/x',
  '/v1/stream.json',
  '/r/',
  '/r/x/y',
  '/healthz/',
  '/favicon.ico',
  '/index.html',
]
// Methods Node's HTTP parser accepts (others never reach the app). CONNECT opens a tunnel, not a request.
const METHODS = [
  'GET',
  'POST',
  'PUT',
  'DELETE',
  'PATCH',
  'OPTIONS',
  'HEAD',
  'TRACE',
  'PROPFIND',
  'MKCOL',
  'COPY',
  'LOCK',
  'PURGE',
  'SEARCH',
  'REPORT',
  'LINK',
  'M-SEARCH',
  'QUERY',
]

interface Fuzzed {
  method: string
  path: string
  headers: Record<string, string>
  body: string | Buffer | undefined
  /** Pool peers to re-join (re-claiming their ids) first, so a signal between them can reach the hub. */
  restore: JoinResponse[]
  /** A signal between real peers whose payload nests thousands of levels deep: see the it.fails test. */
  deepSignal: boolean
}

interface BodyCase {
  body: string | Buffer | undefined
  encoding?: string
  authorization?: string
  restore?: JoinResponse[]
  deepSignal?: boolean
}

let server: TestServer
/** Real rooms, credentials and peer ids, so the fuzzer gets past authentication and into the hub. */
let pool: { rooms: string[]; members: JoinResponse[] }

beforeAll(async () => {
  server = await startServer({
    // Parsing is under test, not limits: nothing may be refused for coming too often or too many.
    joinBurst: 1_000_000,
    joinsPerSec: 1_000_000,
    signalBurst: 1_000_000,
    signalsPerSec: 1_000_000,
    maxStreamsPerIp: 1_000_000,
    maxPeersPerRoom: 1_000_000,
    maxPeersPerSession: 1_000_000,
    sessionSignalsPerSec: 1_000_000,
    ipSignalsPerSec: 1_000_000,
    maxRequestsPerIp: 1_000_000,
    maxSeatsPerSession: 1_000_000,
    maxSeatsPerIp: 1_000_000,
    // Pool peers mostly have no stream open: keep them joined for the whole run.
    graceMs: 120_000,
  })
  const rooms = [randomRoom(), randomRoom(), randomRoom()]
  const members: JoinResponse[] = []
  for (const room of rooms) members.push(await join(server.api, room), await join(server.api, room))
  pool = { rooms, members }
})

afterAll(async () => {
  await server?.close()
})

function requests(): fc.Arbitrary<Fuzzed> {
  const { rooms, members } = pool
  const printable = (maxLength: number) => fc.string({ maxLength })
  const latin1 = fc.string({ unit: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 20 })
  const headerText = fc.oneof({ weight: 4, arbitrary: printable(120) }, { weight: 1, arbitrary: latin1 })
  const anyJson = fc.jsonValue({ maxDepth: 3 })
  const idLike = fc.stringMatching(/^[A-Za-z0-9_-]{1,70}$/)
  const token = fc.constantFrom(...members.map((m) => m.token))
  const key = fc.constantFrom(...members.map((m) => m.key))
  const peer = fc.constantFrom(...members.map((m) => m.peer))
  const pair = fc.integer({ min: 0, max: rooms.length - 1 }).map((i) => [members[2 * i]!, members[2 * i + 1]!] as const)

  // Paths: odd characters, percent-encoding (valid and broken), great length, and query strings.
  const oddPiece = fc.constantFrom(
    '%',
    '%2',
    '%zz',
    '%00',
    '%2F',
    '%2f',
    '%2e%2e',
    '%E0%A4%A',
    '%C3%A9',
    '%FF',
    '%25',
    '%20',
    'é',
    '😀',
    '..',
    '.',
    '/',
    '//',
    ';',
    ',',
    '~',
    "'",
    '"',
    '<',
    '>',
    '{',
    '}',
    '|',
    '^',
    '`',
    '[',
    ']',
    '@',
    '!',
    '$',
    '&',
    '(',
    ')',
    '*',
    '+',
    '=',
    ':',
    ' ',
    '\\',
    'a',
    'Z',
    '0',
    '-',
    '_',
    'x',
  )
  const oddSuffix = fc.oneof(
    { weight: 4, arbitrary: fc.array(oddPiece, { minLength: 1, maxLength: 12 }).map((a) => a.join('')) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom('a', '%41', '/x', '%', '..%2f', '%C3%A9'), fc.integer({ min: 50, max: 2_000 }))
        .map(([piece, n]) => piece.repeat(n).slice(0, MAX_PATH_CHARS)),
    },
  )
  const suffix = fc.oneof({ weight: 3, arbitrary: fc.constant('') }, { weight: 1, arbitrary: oddSuffix })
  const streamQuery = fc
    .record({
      key: fc.oneof({ weight: 3, arbitrary: key }, token, printable(40)),
      lastEventId: fc.option(fc.oneof(printable(30), fc.constantFrom('0', 'x-1', '-', `e-${'9'.repeat(30)}`)), { nil: undefined }),
    })
    .map(
      ({ key, lastEventId }) =>
        `?key=${encodeURIComponent(key)}${lastEventId === undefined ? '' : `&lastEventId=${encodeURIComponent(lastEventId)}`}`,
    )
  const query = fc.oneof(
    { weight: 6, arbitrary: fc.constant('') },
    { weight: 3, arbitrary: streamQuery },
    { weight: 1, arbitrary: fc.array(oddPiece, { maxLength: 10 }).map((a) => `?${a.join('')}`) },
    { weight: 1, arbitrary: fc.constantFrom('?key=a&key=b', '?key[]=x', '?key[a]=b', '?=', '?&&&', '?key=%', '?key=%E0%A4%A', '?key') },
  )

  const anyMethod = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('GET', 'POST') },
    { weight: 1, arbitrary: fc.constantFrom(...METHODS) },
  )

  // Headers: content types and charsets, credentials (real, swapped, tampered, garbage), resume ids, encodings.
  const contentType = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain;charset=UTF-8') },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        'text/plain',
        'APPLICATION/JSON',
        'application/json;charset="utf-8"',
        'application/json; charset=UTF-16',
        'application/json; charset=utf-16le',
        'application/json; charset=utf-7',
        'application/json; charset=utf-99',
        'application/json; charset=latin1',
        'text/plain; charset=iso-8859-1',
        'application/json; charset',
        'application/json; =',
        'application/json;;',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/vnd.api+json',
        'application/*',
        '*/*',
        'json',
        '',
        ';',
        'application/json, text/plain',
        'text/event-stream',
      ),
    },
    { weight: 1, arbitrary: headerText },
  )
  const authorization = fc.oneof(
    { weight: 4, arbitrary: token.map((t) => `Bearer ${t}`) },
    { weight: 1, arbitrary: key.map((k) => `Bearer ${k}`) },
    { weight: 1, arbitrary: token.map((t) => `bearer   ${t}  `) },
    { weight: 1, arbitrary: token.map((t) => `Bearer ${t.slice(0, -2)}zz`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('Bearer', 'Bearer ', 'Bearer a b', 'Basic Zm9vOmJhcg==', 'Token abc', '.', `Bearer ${'x'.repeat(4_000)}`),
    },
    { weight: 2, arbitrary: headerText },
  )
  const lastEventId = fc.oneof(headerText, fc.constantFrom('0', '-1', 'x-1', '-', '--', 'e-1.5', 'e-1e3', `e-${'9'.repeat(30)}`))
  const contentEncoding = fc.constantFrom(
    'identity',
    'gzip',
    'deflate',
    'br',
    'zstd',
    'compress',
    'x-garbage',
    'GZIP',
    'gzip, identity',
    '',
  )
  const oddHeaders = {
    'last-event-id': lastEventId,
    'content-encoding': contentEncoding,
    accept: fc.oneof(fc.constantFrom('text/event-stream', 'application/json', '*/*'), headerText),
    'accept-encoding': fc.constantFrom('gzip', 'br', 'identity', '*'),
    origin: fc.oneof(fc.constantFrom('null', 'http://evil.example'), headerText),
    cookie: headerText,
    'x-forwarded-for': fc.oneof(fc.constantFrom('203.0.113.7', '::1', 'unknown', '1.2.3.4, 5.6.7.8'), headerText),
    range: fc.oneof(fc.constantFrom('bytes=0-0', 'bytes=999999999-', 'bytes=5-1', 'bytes=-1', 'bytes=0-1,2-3', 'items=0-1'), headerText),
    'if-match': fc.constantFrom('*', '"x"', 'x', 'W/"x"'),
    'if-none-match': fc.constantFrom('*', '"x"', 'x'),
    'if-modified-since': fc.constantFrom('Thu, 01 Jan 1970 00:00:00 GMT', 'Fri, 01 Jan 2100 00:00:00 GMT', 'yesterday'),
    'if-unmodified-since': fc.constantFrom('Thu, 01 Jan 1970 00:00:00 GMT', 'Fri, 01 Jan 2100 00:00:00 GMT', 'yesterday'),
  }
  const wildHeaders = fc.record({ 'content-type': contentType, authorization, ...oddHeaders }, { requiredKeys: [] })
  // Mostly well-formed headers, so that bodies reach the parsers and the hub; sometimes odd extras.
  const tameHeaders = fc
    .tuple(
      fc.record({ 'content-type': contentType, authorization }, { requiredKeys: ['content-type'] }),
      fc.option(fc.record(oddHeaders, { requiredKeys: [] }), { freq: 3, nil: {} }),
    )
    .map(([main, extra]) => ({ ...extra, ...main }) as Record<string, string>)

  // Bodies: structured requests with real ids and random fields, any JSON, bytes, truncated and deep JSON, huge strings.
  const peerRef = fc.oneof({ weight: 3, arbitrary: peer }, idLike, printable(30), anyJson)
  const joinBody = fc.record(
    {
      room: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...rooms) }, idLike, printable(80), anyJson),
      meta: fc.oneof(printable(1_100), fc.string({ unit: 'grapheme', maxLength: 50 }), anyJson),
      peer: peerRef,
      token: fc.oneof(token, anyJson),
    },
    { requiredKeys: [] },
  )
  const signalData = fc.oneof(anyJson, fc.constant(null), fc.string({ unit: 'binary', maxLength: 200 }))
  const signalBody = fc.record(
    {
      peer: peerRef,
      to: peerRef,
      data: signalData,
      from: peerRef,
      batch: fc.oneof(fc.array(fc.record({ to: peerRef, data: signalData }, { requiredKeys: [] }), { maxLength: 70 }), anyJson),
    },
    { requiredKeys: [] },
  )
  const leaveBody = fc.record({ peer: peerRef, token: fc.oneof(token, printable(40), anyJson) }, { requiredKeys: [] })
  const jsonText = fc.oneof(joinBody, signalBody, leaveBody, anyJson).map((value) => JSON.stringify(value))
  const bomb = JSON.stringify({ room: rooms[0], meta: 'm'.repeat(2_000_000) }) // ~2 KB gzipped
  const compress = { gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync }
  const text = (arbitrary: fc.Arbitrary<string>): fc.Arbitrary<BodyCase> => arbitrary.map((body) => ({ body }))

  const genericBody: fc.Arbitrary<BodyCase> = fc.oneof(
    { weight: 2, arbitrary: fc.constant<BodyCase>({ body: undefined }) },
    { weight: 8, arbitrary: text(jsonText) },
    { weight: 2, arbitrary: text(fc.string({ unit: 'binary', maxLength: 300 })) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 2_048 }).map((bytes) => ({ body: Buffer.from(bytes) })) },
    { weight: 3, arbitrary: text(fc.tuple(jsonText, fc.nat()).map(([json, n]) => json.slice(0, n % Math.max(1, json.length)))) },
    {
      weight: 2,
      arbitrary: text(
        fc.tuple(fc.integer({ min: 2, max: 40_000 }), fc.constantFrom('[', '{"a":', '{"room":')).map(([depth, open]) => {
          const n = Math.min(depth, Math.floor(MAX_BODY_CHARS / (open.length + 1)))
          return open === '[' ? '['.repeat(n) + ']'.repeat(n) : `${open.repeat(n)}1${'}'.repeat(n)}`
        }),
      ),
    },
    {
      weight: 2,
      arbitrary: text(
        fc
          .tuple(fc.integer({ min: 1_000, max: MAX_BODY_CHARS - 100 }), fc.integer({ min: 0, max: 3 }))
          .map(
            ([n, shape]) =>
              [
                JSON.stringify({ room: rooms[0], meta: 'm'.repeat(n) }),
                JSON.stringify({ peer: 'x', to: 'y', data: 'd'.repeat(n) }),
                JSON.stringify('s'.repeat(n)),
                'x'.repeat(n),
              ][shape]!,
          ),
      ),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom('gzip', 'deflate', 'br') as fc.Arbitrary<keyof typeof compress>, fc.oneof(jsonText, fc.constant(bomb)))
        .map(([encoding, json]) => ({ body: compress[encoding](json), encoding })),
    },
  )

  // Well-formed signals between real peers (one, or a batch that may name peers who left), random payloads.
  const realSignal: fc.Arbitrary<BodyCase> = fc
    .tuple(
      pair,
      fc.boolean(),
      // Mostly payloads a real client could send, so that some of these reach the hub and are relayed.
      fc.oneof({ weight: 4, arbitrary: anyJson }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 70_000 }).map((n) => 'x'.repeat(n)) }),
      fc.nat(3),
    )
    .map(([[a, b], swap, data, batch]) => {
      const [from, to] = swap ? [b, a] : [a, b]
      const items = Array.from({ length: batch }, (_, i) => ({ to: i === 1 ? 'gone-peer' : to.peer, data }))
      const body = batch === 0 ? { peer: from.peer, to: to.peer, data } : { peer: from.peer, batch: items }
      return { body: JSON.stringify(body), authorization: `Bearer ${from.token}`, restore: [a, b] }
    })
  const deepSignal: fc.Arbitrary<BodyCase> = fc
    .tuple(pair, fc.integer({ min: 1, max: 20_000 }), fc.boolean())
    .map(([[from, to], depth, batch]) => {
      const item = `"to":"${to.peer}","data":${'['.repeat(depth)}${']'.repeat(depth)}`
      return {
        body: batch ? `{"peer":"${from.peer}","batch":[{${item}}]}` : `{"peer":"${from.peer}",${item}}`,
        authorization: `Bearer ${from.token}`,
        restore: [from, to],
        deepSignal: true,
      }
    })
  const bodyFor = {
    join: fc.oneof({ weight: 3, arbitrary: text(joinBody.map((b) => JSON.stringify(b))) }, { weight: 2, arbitrary: genericBody }),
    signal: fc.oneof(
      { weight: 3, arbitrary: realSignal },
      { weight: 1, arbitrary: deepSignal },
      { weight: 2, arbitrary: text(signalBody.map((b) => JSON.stringify(b))) },
      { weight: 2, arbitrary: genericBody },
    ),
    leave: fc.oneof({ weight: 3, arbitrary: text(leaveBody.map((b) => JSON.stringify(b))) }, { weight: 2, arbitrary: genericBody }),
    stream: fc.oneof({ weight: 4, arbitrary: fc.constant<BodyCase>({ body: undefined }) }, { weight: 1, arbitrary: genericBody }),
  }

  // Targeted: one API endpoint, mostly its own method, body shape and tame headers.
  const targeted = fc.constantFrom(...API).chain((endpoint) =>
    fc.record({
      method: fc.oneof(
        { weight: 9, arbitrary: fc.constant(endpoint === 'stream' ? 'GET' : 'POST') },
        { weight: 1, arbitrary: fc.constantFrom(...METHODS) },
      ),
      path: fc
        .tuple(suffix, endpoint === 'stream' ? fc.oneof({ weight: 4, arbitrary: streamQuery }, { weight: 1, arbitrary: query }) : query)
        .map(([tail, q]) => `/v1/${endpoint}${tail}${q}`),
      headers: tameHeaders,
      body: bodyFor[endpoint],
    }),
  )
  // Wild: any endpoint or near miss, any method, any headers, any body.
  const wild = fc.record({
    method: anyMethod,
    path: fc
      .tuple(
        fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...ENDPOINTS) }, { weight: 1, arbitrary: fc.constantFrom(...NEAR_MISSES) }),
        suffix,
        query,
      )
      .map(([base, tail, q]) => base + tail + q),
    headers: wildHeaders,
    body: fc.oneof({ weight: 4, arbitrary: genericBody }, { weight: 1, arbitrary: realSignal }),
  })

  return fc.oneof({ weight: 3, arbitrary: targeted }, { weight: 2, arbitrary: wild }).map(({ method, path, headers, body }) => {
    const all: Record<string, string> = { ...headers }
    if (body.encoding !== undefined) all['content-encoding'] = body.encoding
    if (body.authorization !== undefined) all.authorization = body.authorization
    // Node's client frames a GET/HEAD/DELETE/OPTIONS body only when told its length; unframed bytes
    // would be read as a second, garbage request (answered by Node itself, not by the app).
    if (body.body !== undefined) all['content-length'] = String(Buffer.byteLength(body.body))
    return { method, path, headers: all, body: body.body, restore: body.restore ?? [], deepSignal: body.deepSignal === true }
  })
}

const describeRequest = (r: Fuzzed) =>
  `${r.method} ${r.path.slice(0, 120)} ${JSON.stringify(r.headers).slice(0, 300)} body=${
    r.body === undefined ? 'none' : JSON.stringify(r.body.toString().slice(0, 120))
  }`

describe('fuzzing every endpoint', () => {
  it('never answers 5xx, answers every 4xx with {error, message}, and keeps serving', async () => {
    const statuses = new Map<number, number>()
    await fc.assert(
      fc.asyncProperty(requests(), async (r) => {
        const what = describeRequest(r)
        // Earlier runs may have made these peers leave; bring them back (a no-op when they are there).
        for (const member of r.restore) await postJson(`${server.api}/join`, { room: member.room, peer: member.peer }, member.token)
        const res = await within(
          rawRequest(server.url + r.path, { method: r.method, headers: r.headers, body: r.body }),
          REQUEST_TIMEOUT_MS,
          what,
        )
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
        expect(res.status, what).toBeGreaterThanOrEqual(200)
        expect(res.status, what).toBeLessThan(500)
        if (res.status < 400 || r.method === 'HEAD') return
        expect(res.headers['content-type'], what).toBe('application/json; charset=utf-8')
        const body = JSON.parse(res.body) as Record<string, unknown>
        expect(Object.keys(body).sort(), what).toEqual(['error', 'message'])
        expect(Object.keys(STATUSES), what).toContain(body.error)
        expect(STATUSES[body.error as ErrorCode], `${what} -> ${res.status} ${res.body}`).toContain(res.status)
        expect(typeof body.message === 'string' && body.message.length > 0, what).toBe(true)
        if (res.status === 405) expect(res.headers.allow, what).toMatch(/^(GET|POST)$/)
        if (res.status === 429) expect(res.headers['retry-after'], what).toMatch(/^\d+$/)
      }),
      { numRuns: RUNS },
    )
    // The run reached past parsing and authentication (joins, relayed signals, open streams).
    const seen = JSON.stringify([...statuses].sort(([a], [b]) => a - b))
    console.log('SEEN', seen)
    expect(statuses.get(200), seen).toBeGreaterThan(0)
    expect(statuses.get(204), seen).toBeGreaterThan(0)

    const health = await fetch(`${server.url}/healthz`)
    expect(health.status).toBe(200)
    expect(await health.json()).toMatchObject({ status: 'ok' })

    const room = randomRoom()
    const a = await connectPeer(server.api, room)
    const b = await connectPeer(server.api, room)
    try {
      expect((await a.stream.next('peer-joined')).json).toEqual({ to: a.peer, peer: { id: b.peer } })
      const data = { type: 'offer', sdp: 'v=0' }
      expect((await postJson(`${server.api}/signal`, { peer: b.peer, to: a.peer, data }, b.token)).status).toBe(204)
      expect((await a.stream.next('signal')).json).toEqual({ to: a.peer, from: b.peer, data })
    } finally {
      a.stream.close()
      b.stream.close()
    }
  }, 60_000)

  it('relays a payload nested 1,000 levels deep', async () => {
    const room = randomRoom()
    const a = await connectPeer(server.api, room)
    try {
      const b = await join(server.api, room)
      const nested = '['.repeat(1_000) + ']'.repeat(1_000)
      const res = await rawRequest(`${server.api}/signal`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${b.token}` },
        body: `{"peer":"${b.peer}","to":"${a.peer}","data":${nested}}`,
      })
      expect(res.status).toBe(204)
      expect((await a.stream.next('signal')).data).toBe(`{"to":"${a.peer}","from":"${b.peer}","data":${nested}}`)
    } finally {
      a.stream.close()
    }
  })

  it('answers a payload nested 20,000 levels deep with 400, not a crash', async () => {
    const room = randomRoom()
    const [a, b] = [await join(server.api, room), await join(server.api, room)]
    const nested = '['.repeat(20_000) + ']'.repeat(20_000)
    const res = await rawRequest(`${server.api}/signal`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${b.token}` },
      body: `{"peer":"${b.peer}","to":"${a.peer}","data":${nested}}`,
    })
    expect(res.status, res.body).toBe(400)
    expect(JSON.parse(res.body)).toMatchObject({ error: 'BAD_REQUEST' })
  })

  it.runIf(existsSync(joinPath(DIST_CLIENT, 'index.html')))(
    'answers a static-file error (unsatisfiable Range) as a JSON error',
    async () => {
      for (const path of ['/index.html', `/r/${randomRoom()}`]) {
        const res = await rawRequest(`${server.url}${path}`, { headers: { range: 'bytes=999999999-' } })
        expect(res.status, path).toBe(416)
        expect(res.headers['content-type'], path).toBe('application/json; charset=utf-8')
        expect(JSON.parse(res.body), path).toEqual({ error: expect.any(String), message: expect.any(String) })
      }
    },
  )

  it('answers HEAD /v1/stream with a valid key with the stream headers', async () => {
    const a = await join(server.api, randomRoom())
    const res = await within(rawRequest(streamUrl(server.api, a), { method: 'HEAD' }), 1_000, 'HEAD /v1/stream headers')
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8')
  })
})
