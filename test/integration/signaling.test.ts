import { afterEach, describe, expect, it } from 'vitest'
import { connectPeer, join, postJson, randomRoom, rawRequest, SseClient, startServer, streamUrl, type TestServer } from '../helpers'

const servers: TestServer[] = []
const streams: SseClient[] = []
async function server(options: Parameters<typeof startServer>[0] = {}, port?: number) {
  const s = await startServer(options, port)
  servers.push(s)
  return s
}
async function peer(api: string, room: string, token?: string) {
  const p = await connectPeer(api, room, token)
  streams.push(p.stream)
  return p
}
afterEach(async () => {
  for (const s of streams.splice(0)) s.close()
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

describe('join and presence', () => {
  it('issues ids and credentials, sends the roster, announces joins and leaves exactly once', async () => {
    const { api, stats } = await server()
    const room = randomRoom()
    const a = await peer(api, room)
    expect(a.peer).toMatch(/^[A-Za-z0-9_-]{21}$/)
    expect(a.token.startsWith(`${a.session}.`)).toBe(true)
    expect(a.key).not.toBe(a.token)
    expect(a.peers).toEqual([])

    const b = await peer(api, room)
    expect(b.peers).toEqual([{ id: a.peer }])
    expect(b.stream.ofType('roster')).toEqual([{ to: b.peer, room, peers: [{ id: a.peer }] }])
    const joined = await a.stream.next('peer-joined')
    expect(joined.json).toEqual({ to: a.peer, peer: { id: b.peer } })

    const left = await postJson(`${api}/leave`, { peer: b.peer }, b.token)
    expect(left.status).toBe(204)
    expect((await a.stream.next('peer-left')).json).toEqual({ to: a.peer, peer: b.peer, reason: 'leave' })
    // A second leave of the same peer is a no-op: still exactly one peer-left.
    expect((await postJson(`${api}/leave`, { peer: b.peer }, b.token)).status).toBe(204)
    await postJson(`${api}/leave`, {}, a.token)
    await a.stream.closedPromise()
    expect(a.stream.ofType('peer-left')).toHaveLength(1)
    expect(stats()).toMatchObject({ rooms: 0, peers: 0, sessions: 1, streams: 1 })
  })

  it('carries the joiner metadata (opaque to the server) in roster and peer-joined', async () => {
    const { api } = await server()
    const room = randomRoom()
    const a = await peer(api, room)
    const b = await join(api, room, undefined, { meta: 'ciphertext==' })
    expect((await a.stream.next('peer-joined')).json).toEqual({ to: a.peer, peer: { id: b.peer, meta: 'ciphertext==' } })
  })

  it('writes exact SSE frames with proxy-friendly headers and a retry hint', async () => {
    const { api } = await server({ retryMs: 1000 })
    const room = randomRoom()
    const a = await peer(api, room)
    expect(a.stream.status).toBe(200)
    expect(a.stream.headers['content-type']).toBe('text/event-stream; charset=utf-8')
    expect(a.stream.headers['cache-control']).toBe('no-cache, no-transform')
    expect(a.stream.headers['x-accel-buffering']).toBe('no')
    expect(a.stream.retry).toBeGreaterThanOrEqual(1000)
    expect(a.stream.retry).toBeLessThanOrEqual(2000)
    const epoch = a.stream.lastEventId!.replace(/-\d+$/, '')
    expect(a.stream.raw).toBe(
      `retry: ${a.stream.retry}\n\n` + `id: ${epoch}-1\nevent: roster\ndata: {"to":"${a.peer}","room":"${room}","peers":[]}\n\n`,
    )
    const b = await join(api, room)
    await a.stream.next('peer-joined')
    await postJson(`${api}/signal`, { peer: b.peer, to: a.peer, data: { sdp: 'v=0\r\na=x' } }, b.token)
    await a.stream.next('signal')
    expect(
      a.stream.raw.endsWith(
        `id: ${epoch}-2\nevent: peer-joined\ndata: {"to":"${a.peer}","peer":{"id":"${b.peer}"}}\n\n` +
          `id: ${epoch}-3\nevent: signal\ndata: {"to":"${a.peer}","from":"${b.peer}","data":{"sdp":"v=0\\r\\na=x"}}\n\n`,
      ),
    ).toBe(true)
  })

  it('sends heartbeat comments on the configured interval', async () => {
    const { api } = await server({ heartbeatMs: 100 })
    const a = await peer(api, randomRoom())
    await a.stream.until(() => a.stream.comments >= 2, 3_000, 'two heartbeats')
    expect(a.stream.raw).toContain('\n:\n\n')
  })

  it('carries several peers in several rooms over one session stream', async () => {
    const { api } = await server()
    const [room1, room2] = [randomRoom(), randomRoom()]
    const a = await peer(api, room1)
    const a2 = await join(api, room2, a.token)
    expect(a2.session).toBe(a.session)
    await a.stream.next('roster', (d) => d.to === a2.peer && d.room === room2)
    const b = await peer(api, room1)
    const c = await peer(api, room2)
    await postJson(`${api}/signal`, { peer: b.peer, to: a.peer, data: 'for-room1' }, b.token)
    await postJson(`${api}/signal`, { peer: c.peer, to: a2.peer, data: 'for-room2' }, c.token)
    expect((await a.stream.next('signal', (d) => d.data === 'for-room1')).json).toMatchObject({ to: a.peer, from: b.peer })
    expect((await a.stream.next('signal', (d) => d.data === 'for-room2')).json).toMatchObject({ to: a2.peer, from: c.peer })
    // A's second peer answers from the same session token.
    expect((await postJson(`${api}/signal`, { peer: a2.peer, to: c.peer, data: 'reply' }, a.token)).status).toBe(204)
    expect((await c.stream.next('signal')).json).toEqual({ to: c.peer, from: a2.peer, data: 'reply' })
  })

  it('serves GET /healthz with counts', async () => {
    const { url, api } = await server()
    await peer(api, randomRoom())
    const res = await fetch(`${url}/healthz`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: 'ok', rooms: 1, peers: 1, sessions: 1, streams: 1 })
  })
})

describe('relay', () => {
  it('delivers to the target only, stamps the sender and ignores a forged "from"', async () => {
    const { api } = await server()
    const room = randomRoom()
    const [a, b, c] = [await peer(api, room), await peer(api, room), await peer(api, room)]
    const other = await peer(api, randomRoom())
    const res = await postJson(`${api}/signal`, { peer: a.peer, to: b.peer, from: c.peer, data: { type: 'offer' } }, a.token)
    expect(res.status).toBe(204)
    expect((await b.stream.next('signal')).json).toEqual({ to: b.peer, from: a.peer, data: { type: 'offer' } })
    // A marker signal to C proves C's stream is flowing and saw nothing before it.
    await postJson(`${api}/signal`, { peer: a.peer, to: c.peer, data: 'marker' }, a.token)
    await c.stream.next('signal')
    expect(c.stream.ofType('signal')).toEqual([{ to: c.peer, from: a.peer, data: 'marker' }])
    expect(other.stream.ofType('signal')).toEqual([])
  })

  it('refuses targets in other rooms and unknown targets', async () => {
    const { api } = await server()
    const a = await peer(api, randomRoom())
    const stranger = await peer(api, randomRoom())
    const cross = await postJson(`${api}/signal`, { peer: a.peer, to: stranger.peer, data: 1 }, a.token)
    expect(cross).toMatchObject({ status: 403, body: { error: 'NOT_IN_ROOM' } })
    const unknown = await postJson(`${api}/signal`, { peer: a.peer, to: 'nobody', data: 1 }, a.token)
    expect(unknown).toMatchObject({ status: 404, body: { error: 'UNKNOWN_PEER' } })
    expect(stranger.stream.ofType('signal')).toEqual([])
  })

  it('rejects wrong, missing and forged credentials', async () => {
    const { api } = await server()
    const room = randomRoom()
    const [a, b] = [await peer(api, room), await peer(api, room)]
    const body = { peer: a.peer, to: b.peer, data: 1 }
    expect(await postJson(`${api}/signal`, body)).toMatchObject({ status: 401, body: { error: 'UNAUTHORIZED' } })
    expect(await postJson(`${api}/signal`, body, `${a.session}.forgedmacforgedmacforge`)).toMatchObject({ status: 401 })
    expect(await postJson(`${api}/signal`, body, a.key)).toMatchObject({ status: 401 }) // a stream key is not a token
    expect(await postJson(`${api}/signal`, body, b.token)).toMatchObject({ status: 403, body: { error: 'NOT_YOUR_PEER' } })
    expect(await postJson(`${api}/signal`, body, undefined, { authorization: 'Basic abc' })).toMatchObject({ status: 401 })
    const badKey = await rawRequest(`${api}/stream?key=${a.session}.wrong`)
    expect(badKey.status).toBe(401)
    expect(JSON.parse(badKey.body)).toMatchObject({ error: 'UNAUTHORIZED' })
    expect((await rawRequest(`${api}/stream`)).status).toBe(401)
    expect(await postJson(`${api}/leave`, { peer: a.peer }, b.token)).toMatchObject({ status: 204 })
    expect(b.stream.ofType('peer-left')).toEqual([]) // B's token cannot remove A
    const reclaim = await postJson(`${api}/join`, { room, peer: a.peer }, b.token)
    expect(reclaim).toMatchObject({ status: 403, body: { error: 'BAD_PEER' } })
  })

  it('keeps per-sender order', async () => {
    const { api } = await server()
    const room = randomRoom()
    const [a, b] = [await peer(api, room), await peer(api, room)]
    for (let i = 0; i < 60; i++) {
      const res = await postJson(`${api}/signal`, { peer: a.peer, to: b.peer, data: i }, a.token)
      expect(res.status).toBe(204)
    }
    await b.stream.until(() => b.stream.ofType('signal').length === 60, 5_000, '60 signals')
    expect(b.stream.ofType('signal').map((s) => s.data)).toEqual([...Array(60).keys()])
  })
})

describe('resume and grace', () => {
  it('replays exactly the missed events after a drop (Last-Event-ID header or query)', async () => {
    const { api } = await server()
    const room = randomRoom()
    const [a, b] = [await peer(api, room), await peer(api, room)]
    await postJson(`${api}/signal`, { peer: b.peer, to: a.peer, data: 'before' }, b.token)
    await a.stream.next('signal')
    const last = a.stream.lastEventId!
    a.stream.close()
    await a.stream.closedPromise()
    for (const data of ['m1', 'm2', 'm3']) await postJson(`${api}/signal`, { peer: b.peer, to: a.peer, data }, b.token)

    const resumed = await SseClient.open(streamUrl(api, a), { 'last-event-id': last })
    streams.push(resumed)
    await resumed.until(() => resumed.ofType('signal').length === 3, 3_000, 'replay')
    expect(resumed.ofType('signal').map((s) => s.data)).toEqual(['m1', 'm2', 'm3'])
    expect(resumed.events.map((e) => e.event)).toEqual(['signal', 'signal', 'signal'])

    await postJson(`${api}/signal`, { peer: b.peer, to: a.peer, data: 'm4' }, b.token)
    await resumed.until(() => resumed.ofType('signal').length === 4, 3_000, 'live after replay')
    const fromMiddle = await SseClient.open(streamUrl(api, a, resumed.events[1]!.id))
    streams.push(fromMiddle)
    await fromMiddle.until(() => fromMiddle.ofType('signal').length === 2, 3_000, 'query resume')
    expect(fromMiddle.ofType('signal').map((s) => s.data)).toEqual(['m3', 'm4'])
    // The newer stream replaced the older one.
    await resumed.closedPromise()
  })

  it('hides a drop shorter than the grace period from the others', async () => {
    const { api, stats } = await server({ graceMs: 1_500 })
    const room = randomRoom()
    const [a, b] = [await peer(api, room), await peer(api, room)]
    const last = a.stream.lastEventId!
    a.stream.close()
    await a.stream.closedPromise()
    const back = await SseClient.open(streamUrl(api, a), { 'last-event-id': last })
    streams.push(back)
    await postJson(`${api}/signal`, { peer: a.peer, to: b.peer, data: 'still here' }, a.token)
    await b.stream.next('signal')
    // No grace timer is left running (only the heartbeat), so no peer-left can follow.
    expect(stats()).toMatchObject({ peers: 2, streams: 2, timers: 1 })
    expect(b.stream.ofType('peer-left')).toEqual([])
    // The others got presence hints only: away, then back.
    await b.stream.next('peer-back')
    const hints = b.stream.events.filter((e) => e.event === 'peer-away' || e.event === 'peer-back')
    expect(hints.map((e) => [e.event, JSON.parse(e.data)])).toEqual([
      ['peer-away', { to: b.peer, peer: a.peer }],
      ['peer-back', { to: b.peer, peer: a.peer }],
    ])
  })

  it('turns a drop longer than the grace period into exactly one peer-left and frees everything', async () => {
    const { api, stats } = await server({ graceMs: 300 })
    const room = randomRoom()
    const [a, b] = [await peer(api, room), await peer(api, room)]
    a.stream.close()
    const left = await b.stream.next('peer-left', () => true, 3_000)
    expect(left.json).toEqual({ to: b.peer, peer: a.peer, reason: 'timeout' })
    await postJson(`${api}/leave`, {}, b.token)
    await b.stream.closedPromise()
    expect(b.stream.ofType('peer-left')).toHaveLength(1)
    expect(stats()).toMatchObject({ rooms: 0, peers: 0, sessions: 0, streams: 0, timers: 1 })
  })

  it('removes a peer that joined but never opened its stream after the grace period', async () => {
    const { api, stats } = await server({ graceMs: 200 })
    const room = randomRoom()
    const a = await peer(api, room)
    const ghost = await join(api, room)
    expect((await a.stream.next('peer-left', () => true, 3_000)).json).toMatchObject({ peer: ghost.peer, reason: 'timeout' })
    expect(stats()).toMatchObject({ peers: 1, sessions: 1 })
  })

  it('says "reset" when the gap is larger than the replay buffer', async () => {
    const { api } = await server({ replayEvents: 3 })
    const room = randomRoom()
    const [a, b] = [await peer(api, room), await peer(api, room)]
    const last = a.stream.lastEventId!
    a.stream.close()
    await a.stream.closedPromise()
    for (let i = 0; i < 5; i++) await postJson(`${api}/signal`, { peer: b.peer, to: a.peer, data: i }, b.token)
    const back = await SseClient.open(streamUrl(api, a, last))
    streams.push(back)
    expect((await back.next('reset')).json).toEqual({ reason: 'gap' })
    expect(back.ofType('signal')).toEqual([])
    // Re-joining with the same peer id is idempotent: a fresh roster, nothing for the others.
    const again = await join(api, room, a.token, { peer: a.peer })
    expect(again.peer).toBe(a.peer)
    expect((await back.next('roster')).json).toEqual({ to: a.peer, room, peers: [{ id: b.peer }] })
    expect(b.stream.ofType('peer-joined')).toEqual([])
  })

  it('survives a server restart: same credentials, reset, re-claimed ids, no duplicate presence', async () => {
    const first = await server({ graceMs: 5_000 })
    const room = randomRoom()
    const [a, b] = [await peer(first.api, room), await peer(first.api, room)]
    await first.close()
    await a.stream.closedPromise()
    const second = await server({ graceMs: 5_000 }, first.port)
    const aBack = await SseClient.open(streamUrl(second.api, a), { 'last-event-id': a.stream.lastEventId! })
    const bBack = await SseClient.open(streamUrl(second.api, b), { 'last-event-id': b.stream.lastEventId! })
    streams.push(aBack, bBack)
    expect((await aBack.next('reset')).json).toEqual({ reason: 'unknown-session' })
    await bBack.next('reset')
    const aJoined = await join(second.api, room, a.token, { peer: a.peer })
    const bJoined = await join(second.api, room, b.token, { peer: b.peer })
    expect([aJoined.peer, bJoined.peer]).toEqual([a.peer, b.peer])
    expect(bJoined.peers).toEqual([{ id: a.peer }])
    expect((await aBack.next('peer-joined')).json).toEqual({ to: a.peer, peer: { id: b.peer } })
    expect(second.stats()).toMatchObject({ rooms: 1, peers: 2, sessions: 2 })
  })
})

describe('limits and malformed input', () => {
  it('answers ROOM_FULL and TOO_MANY_PEERS', async () => {
    const { api, stats } = await server({ maxPeersPerRoom: 2, maxPeersPerSession: 2 })
    const room = randomRoom()
    const a = await join(api, room)
    await join(api, room)
    expect(await postJson(`${api}/join`, { room })).toMatchObject({ status: 409, body: { error: 'ROOM_FULL' } })
    await join(api, randomRoom(), a.token)
    const third = await postJson(`${api}/join`, { room: randomRoom() }, a.token)
    expect(third).toMatchObject({ status: 409, body: { error: 'TOO_MANY_PEERS' } })
    expect(stats()).toMatchObject({ sessions: 2, peers: 3 })
  })

  it('rate-limits joins and streams per address and signals per peer, with Retry-After', async () => {
    const { api } = await server({ joinBurst: 4, joinsPerSec: 0.1, maxStreamsPerIp: 2, signalBurst: 3, signalsPerSec: 0.1 })
    const room = randomRoom()
    const [a, b] = [await peer(api, room), await peer(api, room)]
    const third = await rawRequest(streamUrl(api, a))
    expect(third.status).toBe(429)
    expect(JSON.parse(third.body)).toMatchObject({ error: 'RATE_LIMITED' })
    await join(api, room)
    await join(api, room)
    const flood = await postJson(`${api}/join`, { room })
    expect(flood).toMatchObject({ status: 429, body: { error: 'RATE_LIMITED' } })
    expect(Number(flood.headers.get('retry-after'))).toBeGreaterThan(0)
    const send = () => postJson(`${api}/signal`, { peer: a.peer, to: b.peer, data: 1 }, a.token)
    expect([(await send()).status, (await send()).status, (await send()).status]).toEqual([204, 204, 204])
    expect(await send()).toMatchObject({ status: 429, body: { error: 'RATE_LIMITED' } })
    // Other peers are unaffected.
    expect((await postJson(`${api}/signal`, { peer: b.peer, to: a.peer, data: 1 }, b.token)).status).toBe(204)
  })

  it('counts client addresses from X-Forwarded-For only when trust proxy is set', async () => {
    const trusting = await server({ trustProxy: 'loopback', maxStreamsPerIp: 1 })
    const a = await join(trusting.api, randomRoom())
    const s1 = await SseClient.open(streamUrl(trusting.api, a), { 'x-forwarded-for': '203.0.113.1' })
    const s2 = await SseClient.open(streamUrl(trusting.api, a), { 'x-forwarded-for': '203.0.113.2' })
    const s3 = await rawRequest(streamUrl(trusting.api, a), { headers: { 'x-forwarded-for': '203.0.113.2' } })
    streams.push(s1, s2)
    expect([s1.status, s2.status, s3.status]).toEqual([200, 200, 429])

    const plain = await server({ maxStreamsPerIp: 1 })
    const b = await join(plain.api, randomRoom())
    const t1 = await SseClient.open(streamUrl(plain.api, b), { 'x-forwarded-for': '203.0.113.1' })
    streams.push(t1)
    const t2 = await rawRequest(streamUrl(plain.api, b), { headers: { 'x-forwarded-for': '203.0.113.2' } })
    expect([t1.status, t2.status]).toEqual([200, 429])
  })

  it('answers every malformed request with its code and keeps serving', async () => {
    const { url, api } = await server()
    const room = randomRoom()
    const [a, b] = [await peer(api, room), await peer(api, room)]
    const cases: Array<[Promise<{ status: number; body: unknown }>, number, string]> = [
      [postJson(`${api}/join`, '{"room":'), 400, 'BAD_JSON'],
      [postJson(`${api}/join`, '[1,2]'), 400, 'BAD_REQUEST'],
      [postJson(`${api}/join`, {}), 400, 'BAD_REQUEST'],
      [postJson(`${api}/join`, { room: 'no spaces' }), 400, 'BAD_ROOM'],
      [postJson(`${api}/join`, { room: 'x'.repeat(65) }), 400, 'BAD_ROOM'],
      [postJson(`${api}/join`, { room: 42 }), 400, 'BAD_ROOM'],
      [postJson(`${api}/join`, { room, meta: 'm'.repeat(2000) }), 400, 'BAD_REQUEST'],
      [postJson(`${api}/join`, { room, peer: 'abc' }), 403, 'BAD_PEER'],
      [postJson(`${api}/signal`, { peer: a.peer, to: b.peer }, a.token), 400, 'BAD_REQUEST'],
      [postJson(`${api}/signal`, { peer: a.peer, data: 1 }, a.token), 400, 'BAD_REQUEST'],
      [postJson(`${api}/signal`, { peer: a.peer, to: '../x', data: 1 }, a.token), 400, 'BAD_PEER'],
      [postJson(`${api}/signal`, { peer: a.peer, to: b.peer, data: 'x'.repeat(70_000) }, a.token), 413, 'PAYLOAD_TOO_LARGE'],
      [rawPost(`${api}/join`, 'room=x', 'application/x-www-form-urlencoded'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      [rawPost(`${api}/join`, '{"room":"x"}', 'application/json; charset=latin-7'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      [jsonOf(rawRequest(`${api}/join`)), 405, 'METHOD_NOT_ALLOWED'],
      [jsonOf(rawRequest(`${api}/stream`, { method: 'POST' })), 405, 'METHOD_NOT_ALLOWED'],
      [jsonOf(rawRequest(`${api}/nope`)), 404, 'NOT_FOUND'],
      [jsonOf(rawRequest(`${url}/nope`)), 404, 'NOT_FOUND'],
    ]
    for (const [pending, status, code] of cases) {
      const res = await pending
      expect(res, code).toMatchObject({ status, body: { error: code } })
      expect(typeof (res.body as { message: unknown }).message).toBe('string')
    }
    expect((await postJson(`${api}/signal`, { peer: a.peer, to: b.peer, data: 'ok' }, a.token)).status).toBe(204)
    expect((await b.stream.next('signal')).json).toMatchObject({ data: 'ok' })
  })

  it('accepts a sendBeacon-style leave: text/plain JSON with the token in the body', async () => {
    const { api } = await server()
    const room = randomRoom()
    const [a, b] = [await peer(api, room), await peer(api, room)]
    const res = await rawPost(`${api}/leave`, JSON.stringify({ token: a.token }), 'text/plain;charset=UTF-8')
    expect(res.status).toBe(204)
    expect((await b.stream.next('peer-left')).json).toEqual({ to: b.peer, peer: a.peer, reason: 'leave' })
    await a.stream.closedPromise()
  })
})

async function rawPost(url: string, body: string, type: string) {
  return jsonOf(rawRequest(url, { method: 'POST', body, headers: { 'content-type': type } }))
}

async function jsonOf(pending: ReturnType<typeof rawRequest>) {
  const res = await pending
  return { status: res.status, body: res.body ? (JSON.parse(res.body) as unknown) : null }
}
