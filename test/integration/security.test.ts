import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { nanoid } from 'nanoid'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { newRoomSecret } from '../../client/lib/crypto'
import { createSealer } from '../../client/lib/sealer'
import { type AppOptions, createApp } from '../../signaling/app'
import {
  connectPeer,
  DIST_CLIENT,
  join,
  postJson,
  randomRoom,
  rawRequest,
  SseClient,
  startServer,
  streamUrl,
  TEST_SECRET,
  type TestServer,
} from '../helpers'

const EVIL = 'https://evil.example'
const FRIEND = 'https://chat.example'
// Documentation addresses (RFC 5737): two clients behind the same trusted proxy.
const FLOODER = '203.0.113.7'
const BYSTANDER = '198.51.100.9'

/** The policy of app.ts, directive by directive: any change to it should be a deliberate one. */
const EXPECTED_CSP = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:', 'blob:'],
  'connect-src': ["'self'"],
  'worker-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
}

const servers: Array<{ close(): Promise<void> }> = []
const streams: SseClient[] = []
async function server(options: Partial<AppOptions> = {}): Promise<TestServer> {
  const s = await startServer(options)
  servers.push(s)
  return s
}
async function peer(api: string, room: string) {
  const p = await connectPeer(api, room)
  streams.push(p.stream)
  return p
}
async function stream(url: string, headers: Record<string, string> = {}) {
  const s = await SseClient.open(url, headers)
  streams.push(s)
  return s
}
afterEach(async () => {
  for (const s of streams.splice(0)) s.close()
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

type Headers = IncomingMessage['headers']
const header = (headers: Headers, name: string) => {
  const value = headers[name.toLowerCase()]
  return Array.isArray(value) ? value.join(', ') : value
}
const list = (value: string | undefined) =>
  (value ?? '')
    .split(',')
    .map((v) => v.trim().toLowerCase())
    .filter(Boolean)
const from = (address: string) => ({ 'x-forwarded-for': address })

function cspDirectives(value: string | undefined): Record<string, string[]> {
  const directives: Record<string, string[]> = {}
  for (const part of (value ?? '').split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/)
    if (name) directives[name.toLowerCase()] = sources
  }
  return directives
}

function expectSecurityHeaders(headers: Headers, what: string) {
  const csp = header(headers, 'content-security-policy')
  expect(cspDirectives(csp), what).toEqual(EXPECTED_CSP)
  expect(csp, what).not.toMatch(/unsafe-inline|unsafe-eval|\*/)
  expect(header(headers, 'x-content-type-options'), what).toBe('nosniff')
  expect(header(headers, 'referrer-policy'), what).toBe('no-referrer')
  expect(header(headers, 'x-frame-options'), what).toBe('DENY')
  expect(header(headers, 'x-powered-by'), what).toBeUndefined()
}

const jsonBody = (res: { body: string }) => (res.body ? (JSON.parse(res.body) as Record<string, unknown>) : null)

/** A JSON POST through node:http, which (unlike fetch) sends any Origin we name. */
function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  return rawRequest(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

const preflight = (url: string, origin: string, method = 'POST', requestHeaders = 'content-type, authorization') =>
  rawRequest(url, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': requestHeaders },
  })

describe('security headers', () => {
  it('sends the strict policy with the landing page and the room page, which are never stored', async () => {
    const { url } = await server()
    for (const path of ['/', `/r/${randomRoom()}`, `/r/${'r'.repeat(64)}`]) {
      const res = await rawRequest(`${url}${path}`)
      expect(res.status, path).toBe(200)
      expect(header(res.headers, 'content-type'), path).toMatch(/^text\/html/)
      expect(header(res.headers, 'cache-control'), path).toBe('no-store')
      expectSecurityHeaders(res.headers, path)
    }
  })

  it('serves a page that works under that policy: no inline script, style or handler; same-origin assets with their real types', async () => {
    const { url } = await server()
    const page = (await rawRequest(`${url}/r/${randomRoom()}`)).body
    const scripts = [...page.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)]
    expect(scripts.length).toBeGreaterThan(0)
    for (const [, attributes, content] of scripts) {
      expect(attributes).toMatch(/\ssrc="\/[^"/]/)
      expect(content!.trim()).toBe('')
    }
    expect(page).not.toMatch(/<style\b/i)
    expect(page).not.toMatch(/\sstyle\s*=/i)
    expect(page).not.toMatch(/\son[a-z]+\s*=/i)
    expect(page).not.toMatch(/javascript:/i)
    const assets = [...page.matchAll(/<(?:script|link)\b[^>]*\s(?:src|href)="(\/[^"]+)"/gi)].map((m) => m[1]!)
    expect(assets.some((a) => a.endsWith('.js'))).toBe(true)
    expect(assets.some((a) => a.endsWith('.css'))).toBe(true)
    for (const asset of assets) {
      const res = await rawRequest(`${url}${asset}`)
      expect(res.status, asset).toBe(200)
      // nosniff makes the browser refuse a script or stylesheet served under any other type.
      const types: Record<string, RegExp> = {
        js: /^(text|application)\/javascript/,
        css: /^text\/css/,
        svg: /^image\/svg\+xml/,
        png: /^image\/png/,
        webmanifest: /^application\/manifest\+json/,
      }
      expect(header(res.headers, 'content-type'), asset).toMatch(types[asset.split('.').pop()!]!)
      expectSecurityHeaders(res.headers, asset)
    }
  })

  it('sends the same headers with API answers, errors and the event stream', async () => {
    const { url, api } = await server()
    const joined = await post(`${api}/join`, { room: randomRoom() })
    expect(joined.status).toBe(200)
    expectSecurityHeaders(joined.headers, 'join')
    const key = (jsonBody(joined) as { key: string }).key
    const events = await stream(streamUrl(api, { key }))
    expect(events.status).toBe(200)
    // An event stream is no document (CSP and framing rules do not apply): it keeps only these two.
    expect(header(events.headers, 'x-content-type-options')).toBe('nosniff')
    expect(header(events.headers, 'referrer-policy')).toBe('no-referrer')
    expect(header(events.headers, 'x-powered-by')).toBeUndefined()
    for (const [path, status] of [
      [`${api}/nope`, 404],
      [`${api}/stream?key=forged`, 401],
      [`${url}/r/${'r'.repeat(65)}`, 404],
      [`${url}/healthz`, 200],
    ] as const) {
      const res = await rawRequest(path)
      expect(res.status, path).toBe(status)
      expectSecurityHeaders(res.headers, path)
    }
  })
})

describe('CORS', () => {
  it('is closed by default: no CORS headers for a foreign origin, and its preflight is refused', async () => {
    const { api, stats } = await server()
    const room = randomRoom()
    const res = await post(`${api}/join`, { room }, { origin: EVIL })
    expect(header(res.headers, 'access-control-allow-origin')).toBeUndefined()
    expect(header(res.headers, 'access-control-expose-headers')).toBeUndefined()

    for (const path of ['/join', '/signal', '/leave', '/stream']) {
      const refused = await preflight(`${api}${path}`, EVIL, path === '/stream' ? 'GET' : 'POST')
      expect(refused.status, path).toBe(403)
      expect(jsonBody(refused), path).toMatchObject({ error: 'FORBIDDEN_ORIGIN' })
      expect(header(refused.headers, 'access-control-allow-origin'), path).toBeUndefined()
      expect(header(refused.headers, 'access-control-allow-methods'), path).toBeUndefined()
      expect(header(refused.headers, 'access-control-allow-headers'), path).toBeUndefined()
    }
    const joined = jsonBody(res) as { key: string }
    const events = await stream(streamUrl(api, joined), { origin: EVIL })
    expect(events.status).toBe(200)
    expect(events.headers['access-control-allow-origin']).toBeUndefined()
    expect(stats()).toMatchObject({ peers: 1 })
  })

  it('refuses join without application/json, so a foreign page cannot call it without a preflight', async () => {
    const { api, stats } = await server()
    const room = randomRoom()
    // The content types a cross-origin page may send without asking first.
    for (const type of ['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const res = await post(`${api}/join`, JSON.stringify({ room }), { origin: EVIL, 'content-type': type })
      expect(res.status, type).toBe(415)
      expect(jsonBody(res), type).toMatchObject({ error: 'UNSUPPORTED_MEDIA_TYPE' })
    }
    expect(stats()).toMatchObject({ rooms: 0, peers: 0, sessions: 0 })
  })

  it('lets leave take text/plain, as navigator.sendBeacon sends it', async () => {
    const { api, stats } = await server()
    const a = await join(api, randomRoom())
    expect(stats()).toMatchObject({ peers: 1 })
    const res = await post(`${api}/leave`, JSON.stringify({ token: a.token, peer: a.peer }), { 'content-type': 'text/plain;charset=UTF-8' })
    expect(res.status).toBe(204)
    expect(stats()).toMatchObject({ peers: 0, rooms: 0 })
  })

  it('answers the preflight of an allowed origin, and marks its answers and its stream as readable', async () => {
    const { api } = await server({ corsOrigins: [FRIEND] })
    const ok = await preflight(`${api}/join`, FRIEND, 'POST', 'authorization, content-type, last-event-id')
    expect(ok.status).toBe(204)
    expect(ok.body).toBe('')
    expect(header(ok.headers, 'access-control-allow-origin')).toBe(FRIEND)
    expect(list(header(ok.headers, 'access-control-allow-methods'))).toEqual(expect.arrayContaining(['get', 'post']))
    expect(list(header(ok.headers, 'access-control-allow-headers'))).toEqual(
      expect.arrayContaining(['authorization', 'content-type', 'last-event-id']),
    )
    expect(Number(header(ok.headers, 'access-control-max-age'))).toBeGreaterThan(0)
    expect(list(header(ok.headers, 'vary'))).toContain('origin')

    const joined = await post(`${api}/join`, { room: randomRoom() }, { origin: FRIEND })
    expect(joined.status).toBe(200)
    expect(header(joined.headers, 'access-control-allow-origin')).toBe(FRIEND)
    expect(list(header(joined.headers, 'vary'))).toContain('origin')
    expect(list(header(joined.headers, 'access-control-expose-headers'))).toContain('retry-after')

    const events = await stream(streamUrl(api, jsonBody(joined) as { key: string }), { origin: FRIEND })
    expect(events.status).toBe(200)
    expect(header(events.headers, 'access-control-allow-origin')).toBe(FRIEND)
    expect(list(header(events.headers, 'vary'))).toContain('origin')
    await events.next('roster')
  })

  it('lets an allowed origin read its errors, Retry-After included', async () => {
    const { api } = await server({ corsOrigins: [FRIEND], joinBurst: 1, joinsPerSec: 0.01 })
    expect((await post(`${api}/join`, { room: randomRoom() }, { origin: FRIEND })).status).toBe(200)
    const limited = await post(`${api}/join`, { room: randomRoom() }, { origin: FRIEND })
    expect(limited.status).toBe(429)
    expect(header(limited.headers, 'access-control-allow-origin')).toBe(FRIEND)
    expect(Number(header(limited.headers, 'retry-after'))).toBeGreaterThan(0)
    expect(list(header(limited.headers, 'access-control-expose-headers'))).toContain('retry-after')
  })

  it('still refuses every other origin when some are allowed', async () => {
    const { api } = await server({ corsOrigins: [FRIEND] })
    for (const origin of [EVIL, 'http://chat.example', 'https://chat.example:8443', 'https://sub.chat.example', 'null']) {
      const refused = await preflight(`${api}/join`, origin)
      expect(refused.status, origin).toBe(403)
      expect(jsonBody(refused), origin).toMatchObject({ error: 'FORBIDDEN_ORIGIN' })
      expect(header(refused.headers, 'access-control-allow-origin'), origin).toBeUndefined()
      const res = await post(`${api}/join`, { room: randomRoom() }, { origin })
      expect(header(res.headers, 'access-control-allow-origin'), origin).toBeUndefined()
    }
  })

  it('answers "*" to any origin when configured with "*"', async () => {
    const { api } = await server({ corsOrigins: ['*'] })
    for (const origin of [EVIL, FRIEND, 'null']) {
      const ok = await preflight(`${api}/signal`, origin)
      expect(ok.status, origin).toBe(204)
      expect(header(ok.headers, 'access-control-allow-origin'), origin).toBe('*')
      const res = await post(`${api}/join`, { room: randomRoom() }, { origin })
      expect(res.status, origin).toBe(200)
      expect(header(res.headers, 'access-control-allow-origin'), origin).toBe('*')
    }
  })
})

describe('abuse', () => {
  it('rate-limits a client flooding joins while another client behind the same proxy still joins', async () => {
    const { api } = await server({ trustProxy: 'loopback', joinBurst: 3, joinsPerSec: 0.01 })
    const room = randomRoom()
    for (let i = 0; i < 3; i++) expect((await postJson(`${api}/join`, { room }, undefined, from(FLOODER))).status).toBe(200)
    const refused = await postJson(`${api}/join`, { room }, undefined, from(FLOODER))
    expect(refused).toMatchObject({ status: 429, body: { error: 'RATE_LIMITED' } })
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    // A session token does not buy the flooder more joins.
    const token = (await postJson(`${api}/join`, { room }, undefined, from(BYSTANDER))).body!.token as string
    expect((await postJson(`${api}/join`, { room: randomRoom() }, token, from(FLOODER))).status).toBe(429)
    expect((await postJson(`${api}/join`, { room }, undefined, from(BYSTANDER))).status).toBe(200)
    expect((await postJson(`${api}/join`, { room }, undefined, from(FLOODER))).status).toBe(429)
  })

  it('caps the streams of a client flooding them while another client still opens its own', async () => {
    const { api, stats } = await server({ trustProxy: 'loopback', maxStreamsPerIp: 2, retryMs: 1000 })
    const sessions = await Promise.all(Array.from({ length: 4 }, () => join(api, randomRoom())))
    const [first, second] = [
      await stream(streamUrl(api, sessions[0]!), from(FLOODER)),
      await stream(streamUrl(api, sessions[1]!), from(FLOODER)),
    ]
    expect([first.status, second.status]).toEqual([200, 200])
    const refused = await rawRequest(streamUrl(api, sessions[2]!), { headers: from(FLOODER) })
    expect(refused.status).toBe(429)
    expect(jsonBody(refused)).toMatchObject({ error: 'RATE_LIMITED' })
    expect(Number(header(refused.headers, 'retry-after'))).toBeGreaterThanOrEqual(1)

    const other = await stream(streamUrl(api, sessions[3]!), from(BYSTANDER))
    expect(other.status).toBe(200)
    await other.next('roster')
    // The refused session was not given a stream by the attempt; its owner can open one elsewhere.
    const elsewhere = await stream(streamUrl(api, sessions[2]!), from(BYSTANDER))
    await elsewhere.next('roster')
    expect(stats()).toMatchObject({ streams: 4, ipsWithStreams: 2 })
    expect((await rawRequest(streamUrl(api, sessions[2]!), { headers: from(FLOODER) })).status).toBe(429)
  })

  it('rate-limits a peer flooding signals while another peer of the same room keeps relaying and receiving', async () => {
    const { api } = await server({ trustProxy: 'loopback', signalBurst: 5, signalsPerSec: 0.01 })
    const room = randomRoom()
    const [a, b, c] = [await peer(api, room), await peer(api, room), await peer(api, room)]
    const send = (sender: typeof a, to: typeof a, data: unknown) =>
      postJson(`${api}/signal`, { peer: sender.peer, to: to.peer, data }, sender.token, from(FLOODER))

    for (let i = 0; i < 5; i++) expect((await send(a, b, `flood-${i}`)).status).toBe(204)
    const refused = await send(a, b, 'flood-5')
    expect(refused).toMatchObject({ status: 429, body: { error: 'RATE_LIMITED' } })
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    const batch = Array.from({ length: 6 }, (_, i) => ({ to: b.peer, data: `batch-${i}` }))
    expect(await postJson(`${api}/signal`, { peer: a.peer, batch }, a.token)).toMatchObject({
      status: 429,
      body: { error: 'RATE_LIMITED' },
    })

    expect((await send(b, c, 'from-b')).status).toBe(204)
    expect((await c.stream.next('signal', (d) => d.from === b.peer)).json).toEqual({ to: c.peer, from: b.peer, data: 'from-b' })
    expect((await send(c, b, 'from-c')).status).toBe(204)
    expect((await b.stream.next('signal', (d) => d.from === c.peer)).json).toEqual({ to: b.peer, from: c.peer, data: 'from-c' })
    // B got exactly what was accepted from A, before C's signal.
    expect(b.stream.ofType('signal').map((s) => s.data)).toEqual(['flood-0', 'flood-1', 'flood-2', 'flood-3', 'flood-4', 'from-c'])
    expect((await send(a, c, 'still-limited')).status).toBe(429)
    expect(c.stream.ofType('signal')).toEqual([{ to: c.peer, from: b.peer, data: 'from-b' }])
  })

  it('answers an oversized body with 413, whether its length is declared or chunked, and keeps serving', async () => {
    const maxBodyBytes = 2048
    const { api } = await server({ maxBodyBytes })
    const room = randomRoom()
    const [a, b] = [await peer(api, room), await peer(api, room)]
    const padding = 'x'.repeat(maxBodyBytes)

    const declared = await postJson(`${api}/join`, { room, padding })
    expect(declared).toMatchObject({ status: 413, body: { error: 'PAYLOAD_TOO_LARGE' } })
    // node:http sends a body without Content-Length chunked: the server must count as it reads.
    const chunked = await rawRequest(`${api}/join`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify({ room, padding })),
    })
    expect(chunked.status).toBe(413)
    expect(jsonBody(chunked)).toMatchObject({ error: 'PAYLOAD_TOO_LARGE' })
    const signal = await postJson(`${api}/signal`, { peer: a.peer, to: b.peer, data: padding }, a.token)
    expect(signal).toMatchObject({ status: 413, body: { error: 'PAYLOAD_TOO_LARGE' } })
    const beacon = await post(`${api}/leave`, JSON.stringify({ token: a.token, padding }), { 'content-type': 'text/plain' })
    expect(beacon.status).toBe(413)

    expect((await postJson(`${api}/signal`, { peer: a.peer, to: b.peer, data: 'small' }, a.token)).status).toBe(204)
    expect((await b.stream.next('signal')).json).toEqual({ to: b.peer, from: a.peer, data: 'small' })
    expect(b.stream.ofType('signal')).toHaveLength(1)
    expect((await postJson(`${api}/join`, { room })).status).toBe(200)
  })

  it('refuses room ids over 64 characters as BAD_ROOM, and serves no page for them', async () => {
    const { url, api, stats } = await server()
    for (const room of ['r'.repeat(65), 'r'.repeat(10_000)]) {
      expect(await postJson(`${api}/join`, { room })).toMatchObject({ status: 400, body: { error: 'BAD_ROOM' } })
    }
    expect(stats()).toMatchObject({ rooms: 0, sessions: 0 })
    expect((await postJson(`${api}/join`, { room: 'r'.repeat(64) })).status).toBe(200)
    expect((await rawRequest(`${url}/r/${'r'.repeat(65)}`)).status).toBe(404)
  })
})

describe('logs', () => {
  /** A real server whose app we keep, to make it refuse requests while shutting down (they log as errors). */
  async function loggedServer(options: Partial<AppOptions>) {
    const parley = createApp({ secret: TEST_SECRET, staticDir: DIST_CLIENT, ...options })
    const http = createServer(parley.app)
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`
    const handle = {
      url,
      api: `${url}/v1`,
      parley,
      close: () =>
        new Promise<void>((resolve) => {
          parley.close()
          http.closeAllConnections()
          http.close(() => resolve())
        }),
    }
    servers.push(handle)
    return handle
  }

  it('never contain tokens, stream keys, signal payloads or room secrets, even at trace level and on failures', async () => {
    let captured = ''
    const log = pino(
      { level: 'trace' },
      {
        write: (line: string) => {
          captured += line
        },
      },
    )
    const { url, api, parley } = await loggedServer({ log, maxBodyBytes: 2048 })
    log.trace('capture works')

    const room = randomRoom()
    const roomSecret = newRoomSecret()
    const marker = `payload-${nanoid()}`
    const meta = await createSealer(roomSecret, room).sealMeta('Alice')
    const a = await join(api, room, undefined, { meta })
    const b = await join(api, room)
    const aStream = await stream(streamUrl(api, a))
    const bStream = await stream(streamUrl(api, b))
    await aStream.next('roster')
    await bStream.next('roster')
    const data = { sdp: `v=0\r\na=fingerprint:sha-256 AB:CD\r\na=ice-pwd:${marker}\r\n`, secret: roomSecret, marker }
    expect((await postJson(`${api}/signal`, { peer: a.peer, to: b.peer, data }, a.token)).status).toBe(204)
    expect((await bStream.next('signal')).json).toMatchObject({ data })

    const failures: Array<[Promise<{ status: number }>, number]> = [
      [postJson(`${api}/signal`, { peer: a.peer, to: b.peer, data }, `${a.token}x`), 401],
      [postJson(`${api}/signal`, { peer: a.peer, to: b.peer, data }, b.token), 403],
      [postJson(`${api}/signal`, { peer: a.peer, to: b.peer, data: { marker, padding: 'x'.repeat(4096) } }, a.token), 413],
      [postJson(`${api}/join`, `{"room":"${room}","token":"${a.token}","secret":"${roomSecret}"`, a.token), 400],
      [postJson(`${api}/join`, { room: `${marker}-${'r'.repeat(64)}` }, a.token), 400],
      [post(`${api}/join`, JSON.stringify({ room, secret: roomSecret }), { 'content-type': 'text/plain' }), 415],
      [rawRequest(`${api}/stream?key=${encodeURIComponent(`${a.key}x`)}`), 401],
      [
        rawRequest(`${api}/nope?key=${a.key}&token=${a.token}&secret=${roomSecret}`, { headers: { authorization: `Bearer ${b.token}` } }),
        404,
      ],
      [preflight(`${api}/join`, EVIL), 403],
      [rawRequest(`${url}/r/${room}?secret=${roomSecret}`), 200],
      [rawRequest(`${url}/r/${room}-${roomSecret}${'x'.repeat(64)}`), 404],
    ]
    for (const [pending, status] of failures) expect((await pending).status).toBe(status)
    expect((await post(`${api}/leave`, JSON.stringify({ token: b.token }), { 'content-type': 'text/plain' })).status).toBe(204)
    expect((await postJson(`${api}/leave`, { peer: a.peer }, a.token)).status).toBe(204)

    // Refused while shutting down: these are the 5xx answers the error middleware logs.
    parley.close()
    const closing = await postJson(`${api}/signal`, { peer: a.peer, to: b.peer, data }, a.token)
    expect(closing).toMatchObject({ status: 503, body: { error: 'SHUTTING_DOWN' } })
    expect((await rawRequest(`${api}/stream?key=${a.key}&lastEventId=${marker}`)).status).toBe(503)

    expect(captured).toContain('capture works')
    expect(captured).toContain('SHUTTING_DOWN')
    const credentials = [a.token, a.key, b.token, b.key].flatMap((c) => [c, c.split('.')[1]!])
    for (const secret of [...credentials, roomSecret, marker, meta, TEST_SECRET]) {
      expect(captured, `log leaks ${secret}`).not.toContain(secret)
    }
    expect(captured).not.toMatch(/bearer/i)
  })
})
