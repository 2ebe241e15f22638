import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { join, pollUntil, postJson, randomRoom, type ServerProcess, SseClient, spawnServer, streamUrl } from '../helpers'
import { type Service, startRedis } from '../services'

// Several instances share rooms through a real redis-server: any POST may land on any instance, and a
// stream may move to another instance and resume.
const GRACE_MS = 2_000
let redis: Service & { url: string }
const instances: ServerProcess[] = []
const streams: SseClient[] = []

beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis?.stop()
})
afterEach(async () => {
  for (const s of streams.splice(0)) s.close()
  await Promise.all(instances.splice(0).map((i) => i.stop('SIGKILL')))
})

async function instance() {
  const server = await spawnServer(['--grace-ms', String(GRACE_MS), '--redis-url', redis.url])
  instances.push(server)
  await pollUntil(async () => (await fetch(`${server.url}/readyz`)).status === 200, 10_000, 'instance ready')
  return server
}

async function open(url: string, lastEventId?: string) {
  const stream = await SseClient.open(url, lastEventId ? { 'last-event-id': lastEventId } : {})
  streams.push(stream)
  return stream
}

describe('two instances over Redis', () => {
  it('share presence, rosters and signals, whichever instance a request reaches', async () => {
    const [one, two] = [await instance(), await instance()]
    const room = randomRoom()
    const a = await join(one.api, room)
    const aStream = await open(streamUrl(one.api, a))
    await aStream.next('roster')
    const b = await join(two.api, room) // the other instance
    expect(b.peers).toEqual([{ id: a.peer }])
    const bStream = await open(streamUrl(two.api, b))
    expect((await bStream.next('roster')).json).toEqual({ to: b.peer, room, peers: [{ id: a.peer }] })
    expect((await aStream.next('peer-joined')).json).toEqual({ to: a.peer, peer: { id: b.peer } })

    // B's signal POSTed to instance one reaches A (streaming from one) and the reply, POSTed to
    // instance two, reaches B; in order per sender.
    for (let i = 0; i < 5; i++) {
      expect((await postJson(`${(i % 2 ? one : two).api}/signal`, { peer: b.peer, to: a.peer, data: i }, b.token)).status).toBe(204)
    }
    await aStream.until(() => aStream.ofType('signal').length === 5, 5_000, 'five signals')
    expect(aStream.ofType('signal').map((s) => s.data)).toEqual([0, 1, 2, 3, 4])
    expect((await postJson(`${two.api}/signal`, { peer: a.peer, to: b.peer, data: 'reply' }, a.token)).status).toBe(204)
    expect((await bStream.next('signal')).json).toEqual({ to: b.peer, from: a.peer, data: 'reply' })

    // Unknown targets and foreign peers are refused the same way as with one instance.
    expect(await postJson(`${two.api}/signal`, { peer: a.peer, to: 'nobody', data: 1 }, a.token)).toMatchObject({ status: 404 })
    expect(await postJson(`${one.api}/signal`, { peer: a.peer, to: b.peer, data: 1 }, b.token)).toMatchObject({ status: 403 })

    // One leave, on either instance, is exactly one peer-left for the others.
    expect((await postJson(`${two.api}/leave`, { peer: b.peer }, b.token)).status).toBe(204)
    expect((await aStream.next('peer-left')).json).toEqual({ to: a.peer, peer: b.peer, reason: 'leave' })
    expect(aStream.ofType('peer-left')).toHaveLength(1)
  })

  it('resumes a stream on the other instance with Last-Event-ID, missing nothing, hiding the move', async () => {
    const [one, two] = [await instance(), await instance()]
    const room = randomRoom()
    const a = await join(one.api, room)
    const b = await join(two.api, room)
    const aStream = await open(streamUrl(one.api, a))
    const bStream = await open(streamUrl(two.api, b))
    await aStream.next('roster')
    await bStream.next('roster')
    await postJson(`${two.api}/signal`, { peer: b.peer, to: a.peer, data: 'before' }, b.token)
    await aStream.next('signal')
    const last = aStream.lastEventId!
    aStream.close()
    await aStream.closedPromise()
    for (const data of ['m1', 'm2', 'm3']) await postJson(`${two.api}/signal`, { peer: b.peer, to: a.peer, data }, b.token)
    const moved = await open(streamUrl(two.api, a), last)
    await moved.until(() => moved.ofType('signal').length === 3, 5_000, 'replay on the other instance')
    expect(moved.ofType('signal').map((s) => s.data)).toEqual(['m1', 'm2', 'm3'])
    await postJson(`${one.api}/signal`, { peer: b.peer, to: a.peer, data: 'live' }, b.token)
    await moved.next('signal', (d) => d.data === 'live')
    expect(bStream.ofType('peer-left')).toEqual([])
  })

  it('an instance crashes: its clients resume on the other one; one that never comes back leaves after the grace period', async () => {
    const [one, two] = [await instance(), await instance()]
    const room = randomRoom()
    const stayer = await join(two.api, room)
    const stayerStream = await open(streamUrl(two.api, stayer))
    const mover = await join(one.api, room)
    const ghost = await join(one.api, room)
    const moverStream = await open(streamUrl(one.api, mover))
    const ghostStream = await open(streamUrl(one.api, ghost))
    await Promise.all([
      moverStream.next('roster'),
      ghostStream.next('roster'),
      stayerStream.next('peer-joined'),
      stayerStream.next('peer-joined'),
    ])

    await one.stop('SIGKILL')
    await moverStream.closedPromise()
    const crashed = Date.now()
    const resumed = await open(streamUrl(two.api, mover), moverStream.lastEventId!)
    await postJson(`${two.api}/signal`, { peer: stayer.peer, to: mover.peer, data: 'still here?' }, stayer.token)
    expect((await resumed.next('signal')).json).toMatchObject({ data: 'still here?' })

    const left = await stayerStream.next('peer-left', () => true, GRACE_MS + 5_000)
    expect(left.json).toEqual({ to: stayer.peer, peer: ghost.peer, reason: 'timeout' })
    expect(Date.now() - crashed).toBeLessThan(GRACE_MS + 3_000)
    expect(stayerStream.ofType('peer-left').map((l) => l.peer)).toEqual([ghost.peer]) // not the mover
  })

  it('Redis stops: readiness goes red and requests get 503; Redis returns: everything recovers', async () => {
    const server = await instance()
    const a = await join(server.api, randomRoom())
    await redis.stop()
    try {
      await pollUntil(async () => (await fetch(`${server.url}/readyz`)).status === 503, 10_000, 'readiness red')
      expect(await (await fetch(`${server.url}/readyz`)).json()).toEqual({ status: 'storage-unavailable' })
      expect(await postJson(`${server.api}/join`, { room: randomRoom() })).toMatchObject({ status: 503, body: { error: 'UNAVAILABLE' } })
      expect(await postJson(`${server.api}/leave`, {}, a.token)).toMatchObject({ status: 503 })
      expect(server.child.exitCode).toBeNull() // no crash, no crash loop
    } finally {
      redis = await startRedis(redis.port)
    }
    await pollUntil(async () => (await fetch(`${server.url}/readyz`)).status === 200, 20_000, 'readiness green again')
    const room = randomRoom()
    const b = await join(server.api, room)
    const stream = await open(streamUrl(server.api, b))
    expect((await stream.next('roster')).json).toMatchObject({ room })
    expect(server.output()).toMatch(/redis unavailable; retrying/)
  })
})
