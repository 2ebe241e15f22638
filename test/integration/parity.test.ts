import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import { afterEach, describe, expect, it } from 'vitest'
import { createSignalingApi } from '../../signaling/api'
import type { ApiOptions } from '../../signaling/api-options'
import { createApp } from '../../signaling/app'
import { DIST_CLIENT, join, pollUntil, randomRoom, rawRequest, SseClient, streamUrl, TEST_SECRET } from '../helpers'
import { startRedis } from '../services'

// The API is served two ways: by the standalone server (createApp's handler, ahead of Express) and by
// the router an app mounts. Both must answer every request alike: same status, same error code, same
// headers. A plain Express app adds no header of its own once x-powered-by is off.

const FRIEND = 'https://friend.example'
const EVIL = 'https://evil.example'
// Headers that differ between any two answers (clock, socket, body length with its ids).
const VARYING = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding'])

interface Target {
  name: string
  api: string
  ready(): Promise<boolean>
  /** Shuts the API down (its server keeps answering, with SHUTTING_DOWN). */
  shutDown(): void
}

type Answer = Awaited<ReturnType<typeof rawRequest>>

const servers: Server[] = []
const closers: Array<() => void> = []
afterEach(async () => {
  for (const close of closers.splice(0)) close()
  await Promise.all(
    servers.splice(0).map((server) => {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(resolve))
    }),
  )
})

async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler)
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

async function standalone(options: Partial<ApiOptions>): Promise<Target> {
  const parley = createApp({ secret: TEST_SECRET, staticDir: DIST_CLIENT, ...options })
  closers.push(parley.close)
  const url = await listen(parley.handler)
  const ready = async () => (await fetch(`${url}/readyz`)).status === 200
  return { name: 'standalone', api: `${url}/v1`, ready, shutDown: parley.close }
}

async function embedded(options: Partial<ApiOptions>): Promise<Target> {
  const api = createSignalingApi({ secret: TEST_SECRET, ...options })
  closers.push(api.close)
  const app = express()
  app.disable('x-powered-by')
  app.use('/parley', api.router)
  const url = await listen(app)
  return { name: 'embedded', api: `${url}/parley`, ready: async () => api.ready(), shutDown: api.close }
}

const targets = async (options: Partial<ApiOptions> = {}) => [await standalone(options), await embedded(options)] as const

/** What must be equal on both paths: status, error code, and every header the API sends. */
function normalise(res: Answer) {
  const headers = Object.fromEntries(Object.entries(res.headers).filter(([name]) => !VARYING.has(name)))
  const code =
    res.headers['content-type']?.startsWith('application/json') && res.body
      ? (JSON.parse(res.body) as { error?: unknown }).error
      : undefined
  return { status: res.status, code, headers }
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  rawRequest(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

/** Two peers of one room, both joined through `api`. */
async function pair(api: string) {
  const room = randomRoom()
  return [await join(api, room), await join(api, room)] as const
}

interface Case {
  name: string
  options?: Partial<ApiOptions>
  send(api: string): Promise<Answer>
  status: number
  code?: string
}

const CASES: Case[] = [
  { name: 'join', send: (api) => post(`${api}/join`, { room: randomRoom() }), status: 200 },
  {
    name: 'stream',
    send: async (api) => rawRequest(streamUrl(api, await join(api, randomRoom()))),
    status: 200,
  },
  {
    name: 'HEAD stream',
    send: async (api) => rawRequest(streamUrl(api, await join(api, randomRoom())), { method: 'HEAD' }),
    status: 200,
  },
  {
    name: 'signal',
    send: async (api) => {
      const [a, b] = await pair(api)
      return post(`${api}/signal`, { peer: a.peer, to: b.peer, data: { type: 'offer' } }, bearer(a.token))
    },
    status: 204,
  },
  {
    name: 'signal batch with a failed item',
    send: async (api) => {
      const [a, b] = await pair(api)
      return post(
        `${api}/signal`,
        {
          peer: a.peer,
          batch: [
            { to: b.peer, data: 1 },
            { to: 'nobody', data: 2 },
          ],
        },
        bearer(a.token),
      )
    },
    status: 200,
  },
  {
    name: 'signal to an unknown peer',
    send: async (api) => {
      const [a] = await pair(api)
      return post(`${api}/signal`, { peer: a.peer, to: 'nobody', data: 1 }, bearer(a.token))
    },
    status: 404,
    code: 'UNKNOWN_PEER',
  },
  {
    name: 'leave',
    send: async (api) => {
      const a = await join(api, randomRoom())
      return post(`${api}/leave`, { peer: a.peer }, bearer(a.token))
    },
    status: 204,
  },
  {
    name: 'leave as a beacon (text/plain)',
    send: async (api) => {
      const a = await join(api, randomRoom())
      return post(`${api}/leave`, { token: a.token }, { 'content-type': 'text/plain;charset=UTF-8' })
    },
    status: 204,
  },
  {
    name: 'ice',
    send: async (api) => {
      const a = await join(api, randomRoom())
      return post(`${api}/ice`, { peer: a.peer }, bearer(a.token))
    },
    status: 200,
  },
  { name: 'bad JSON', send: (api) => post(`${api}/join`, '{"room":'), status: 400, code: 'BAD_JSON' },
  { name: 'a JSON array', send: (api) => post(`${api}/join`, '[]'), status: 400, code: 'BAD_REQUEST' },
  { name: 'a bad room', send: (api) => post(`${api}/join`, { room: 'no spaces' }), status: 400, code: 'BAD_ROOM' },
  {
    name: 'wrong content type',
    send: (api) => post(`${api}/join`, { room: 'x' }, { 'content-type': 'application/x-www-form-urlencoded' }),
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'a compressed body',
    send: (api) => post(`${api}/signal`, { room: 'x' }, { 'content-encoding': 'gzip' }),
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'an oversized body',
    options: { maxBodyBytes: 2048 },
    send: async (api) => {
      const [a, b] = await pair(api)
      return post(`${api}/signal`, { peer: a.peer, to: b.peer, data: 'x'.repeat(4096) }, bearer(a.token))
    },
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'a forged token',
    send: async (api) => {
      const [a, b] = await pair(api)
      return post(`${api}/signal`, { peer: a.peer, to: b.peer, data: 1 }, bearer(`${a.token}x`))
    },
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'a malformed Authorization',
    send: (api) => post(`${api}/signal`, {}, { authorization: 'Basic x' }),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  { name: 'a forged stream key', send: (api) => rawRequest(`${api}/stream?key=forged`), status: 401, code: 'UNAUTHORIZED' },
  {
    name: "another session's peer",
    send: async (api) => {
      const [a, b] = await pair(api)
      return post(`${api}/ice`, { peer: a.peer }, bearer(b.token))
    },
    status: 403,
    code: 'NOT_YOUR_PEER',
  },
  { name: 'an unknown route', send: (api) => rawRequest(`${api}/nope?key=x`), status: 404, code: 'NOT_FOUND' },
  { name: 'the mount point itself', send: (api) => rawRequest(`${api}/`), status: 404, code: 'NOT_FOUND' },
  { name: 'GET on a POST endpoint', send: (api) => rawRequest(`${api}/signal`), status: 405, code: 'METHOD_NOT_ALLOWED' },
  { name: 'POST on the stream', send: (api) => post(`${api}/stream`, {}), status: 405, code: 'METHOD_NOT_ALLOWED' },
  {
    name: 'OPTIONS without an Origin',
    send: (api) => rawRequest(`${api}/join`, { method: 'OPTIONS' }),
    status: 405,
    code: 'METHOD_NOT_ALLOWED',
  },
  {
    name: 'a preflight from an allowed origin',
    options: { corsOrigins: [FRIEND] },
    send: (api) => rawRequest(`${api}/signal`, { method: 'OPTIONS', headers: { origin: FRIEND, 'access-control-request-method': 'POST' } }),
    status: 204,
  },
  {
    name: 'a preflight from another origin',
    options: { corsOrigins: [FRIEND] },
    send: (api) => rawRequest(`${api}/signal`, { method: 'OPTIONS', headers: { origin: EVIL, 'access-control-request-method': 'POST' } }),
    status: 403,
    code: 'FORBIDDEN_ORIGIN',
  },
  {
    name: 'a join from an allowed origin',
    options: { corsOrigins: [FRIEND] },
    send: (api) => post(`${api}/join`, { room: randomRoom() }, { origin: FRIEND }),
    status: 200,
  },
  {
    name: 'a signal from another origin',
    options: { corsOrigins: [FRIEND] },
    send: async (api) => {
      const [a, b] = await pair(api)
      return post(`${api}/signal`, { peer: a.peer, to: b.peer, data: 1 }, { ...bearer(a.token), origin: EVIL })
    },
    status: 204,
  },
  {
    name: 'rate-limited joins',
    options: { joinsPerSec: 0.001, joinBurst: 1 },
    send: async (api) => {
      await join(api, randomRoom())
      return post(`${api}/join`, { room: randomRoom() }, { origin: FRIEND })
    },
    status: 429,
    code: 'RATE_LIMITED',
  },
  {
    name: 'rate-limited streams',
    options: { maxStreamsPerIp: 1 },
    send: async (api) => {
      const a = await join(api, randomRoom())
      const held = await SseClient.open(streamUrl(api, a))
      closers.push(() => held.close())
      return rawRequest(streamUrl(api, await join(api, randomRoom())))
    },
    status: 429,
    code: 'RATE_LIMITED',
  },
]

describe('the standalone server and the mounted router answer alike', () => {
  it.each(CASES)('$name', async ({ options, send, status, code }) => {
    const [one, two] = await targets(options)
    const [a, b] = [await send(one.api), await send(two.api)]
    expect(normalise(a).status, a.body).toBe(status)
    expect(normalise(a).code).toBe(code)
    expect(normalise(b)).toEqual(normalise(a))
    if (status === 429) expect(Number(a.headers['retry-after'])).toBeGreaterThanOrEqual(1)
  })

  it('the mounted router serves a host app that parses JSON bodies itself', async () => {
    const api = createSignalingApi({ secret: TEST_SECRET })
    closers.push(api.close)
    const app = express()
    app.use(express.json())
    app.use('/parley', api.router)
    const base = `${await listen(app)}/parley`
    const [a, b] = await pair(base)
    const sent = await post(`${base}/signal`, { peer: a.peer, to: b.peer, data: { type: 'offer' } }, bearer(a.token))
    expect(sent.status, sent.body).toBe(204)
    expect(normalise(await post(`${base}/join`, '[]'))).toMatchObject({ status: 400, code: 'BAD_REQUEST' })
  })

  it('while shutting down: 503 SHUTTING_DOWN on every endpoint, a preflight still answered', async () => {
    const both = await targets({ corsOrigins: [FRIEND] })
    const answers: Array<Array<ReturnType<typeof normalise>>> = []
    for (const target of both) {
      const a = await join(target.api, randomRoom())
      target.shutDown()
      answers.push(
        (
          await Promise.all([
            post(`${target.api}/signal`, { peer: a.peer, to: a.peer, data: 1 }, bearer(a.token)),
            post(`${target.api}/join`, { room: randomRoom() }, { origin: FRIEND }),
            rawRequest(streamUrl(target.api, a)),
            rawRequest(`${target.api}/nope`),
            rawRequest(`${target.api}/join`, { method: 'OPTIONS', headers: { origin: FRIEND, 'access-control-request-method': 'POST' } }),
          ])
        ).map(normalise),
      )
    }
    expect(answers[0]!.map((a) => [a.status, a.code])).toEqual([
      [503, 'SHUTTING_DOWN'],
      [503, 'SHUTTING_DOWN'],
      [503, 'SHUTTING_DOWN'],
      [503, 'SHUTTING_DOWN'],
      [204, undefined],
    ])
    expect(answers[1]).toEqual(answers[0])
  })

  it('with Redis unreachable: 503 UNAVAILABLE with Retry-After, POST /signal included', async () => {
    const redis = await startRedis()
    try {
      const both = await targets({ redisUrl: redis.url })
      const readiness = async () => Promise.all(both.map((t) => t.ready()))
      await pollUntil(async () => (await readiness()).every(Boolean), 10_000, 'both connected to Redis')
      const peers = await Promise.all(both.map((t) => pair(t.api)))
      await redis.stop()
      await pollUntil(async () => !(await readiness()).some(Boolean), 10_000, 'both see Redis gone')
      const answers: Array<Array<ReturnType<typeof normalise>>> = []
      for (const [i, target] of both.entries()) {
        const [a, b] = peers[i]!
        const sent = [
          await post(`${target.api}/signal`, { peer: a.peer, to: b.peer, data: 1 }, bearer(a.token)),
          await post(`${target.api}/join`, { room: randomRoom() }),
          await post(`${target.api}/leave`, { peer: a.peer }, bearer(a.token)),
          await post(`${target.api}/ice`, { peer: a.peer }, bearer(a.token)),
          await rawRequest(streamUrl(target.api, a)),
        ]
        for (const res of sent) expect(Number(res.headers['retry-after']), `${target.name}: ${res.body}`).toBeGreaterThanOrEqual(1)
        answers.push(sent.map(normalise))
      }
      for (const answer of answers[0]!) expect([answer.status, answer.code]).toEqual([503, 'UNAVAILABLE'])
      expect(answers[1]).toEqual(answers[0])
    } finally {
      await redis.stop()
    }
  })
})
