import { request } from 'node:http'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { closeAll, launchPeople, type Person, say, waitForConnected, waitForMessage } from '../browsers'
import { join, postJson, randomRoom, roomLink, SseClient, startServer, streamUrl } from '../helpers'
import { startNginx } from '../services'

// A real nginx with the README's plain proxy_pass configuration in front of Parley.
const READ_TIMEOUT_S = 2

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function behindNginx(options: Parameters<typeof startServer>[0] = {}) {
  const server = await startServer({ iceServers: [], heartbeatMs: 400, ...options })
  const nginx = await startNginx(server.port, READ_TIMEOUT_S)
  cleanups.push(
    () => server.close(),
    () => nginx.stop(),
  )
  return { server, nginx, api: `${nginx.url}/v1` }
}

describe('browsers through nginx', () => {
  let people: Person[] = []
  beforeAll(async () => {
    people = await launchPeople(2)
  })
  afterAll(() => closeAll(people))

  it('chat through the proxy', async () => {
    const { nginx } = await behindNginx()
    const link = roomLink(nginx.url)
    await Promise.all(people.map((p) => p.page.goto(link)))
    await Promise.all(people.map((p) => waitForConnected(p.page, 1)))
    await say(people[0]!.page, 'via nginx')
    await waitForMessage(people[1]!.page, 'via nginx')
  })
})

describe('event streams through nginx', () => {
  it('deliver each event at once, not when a buffer fills', async () => {
    const { api } = await behindNginx()
    const room = randomRoom()
    const a = await join(api, room)
    const b = await join(api, room)
    const stream = await SseClient.open(streamUrl(api, a))
    cleanups.push(async () => stream.close())
    await stream.next('roster')
    for (let i = 0; i < 3; i++) {
      const sent = Date.now()
      await postJson(`${api}/signal`, { peer: b.peer, to: a.peer, data: `tiny ${i}` }, b.token)
      await stream.next('signal', (d) => d.data === `tiny ${i}`, 1_000)
      expect(Date.now() - sent).toBeLessThan(1_000) // a buffered proxy would hold a 100-byte event
    }
  })

  it('stay open past the proxy read timeout on heartbeats alone', async () => {
    const { api } = await behindNginx()
    const a = await join(api, randomRoom())
    const stream = await SseClient.open(streamUrl(api, a))
    cleanups.push(async () => stream.close())
    const opened = Date.now()
    // Idle (no events), for twice nginx's read timeout: only heartbeats cross the proxy.
    await stream.until(() => stream.comments >= Math.ceil((2 * READ_TIMEOUT_S * 1000) / 400), 3 * READ_TIMEOUT_S * 1000, 'heartbeats')
    expect(stream.closed).toBe(false)
    expect(Date.now() - opened).toBeGreaterThan(2 * READ_TIMEOUT_S * 1000 - 500)
  })

  it('count client addresses from X-Forwarded-For only when trust proxy is set', async () => {
    // Two clients with different loopback addresses, one stream each, under a limit of one per address.
    const openFrom = (api: string, key: string, localAddress: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${api}/stream?key=${encodeURIComponent(key)}`, { localAddress, agent: false }, (res) => {
          resolve(res.statusCode ?? 0)
          if (res.statusCode === 200) cleanups.push(async () => void req.destroy())
          else res.resume()
        })
        req.on('error', reject)
        req.end()
      })
    const trusting = await behindNginx({ trustProxy: 1, maxStreamsPerIp: 1 })
    const t = await join(trusting.api, randomRoom())
    expect([await openFrom(trusting.api, t.key, '127.0.0.2'), await openFrom(trusting.api, t.key, '127.0.0.3')]).toEqual([200, 200])

    const blind = await behindNginx({ maxStreamsPerIp: 1 }) // sees only nginx's own address
    const u = await join(blind.api, randomRoom())
    expect([await openFrom(blind.api, u.key, '127.0.0.2'), await openFrom(blind.api, u.key, '127.0.0.3')]).toEqual([200, 429])
  })
})
