import { nanoid } from 'nanoid'
import type { Page } from 'puppeteer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { closeAll, launchPeople, messages, type Person, say, setName, waitForConnected, waitForMessage } from '../browsers'
import { randomRoom, roomLink, startServer, type TestServer } from '../helpers'
import { type SseFrame, startRecordingProxy } from '../proxy'

// A server that tampers with what it relays (played by a proxy in front of a real one) must not get
// anyone connected; a person with the wrong secret is refused a seat, and even where a server seats
// them must never connect or read a message.
let server: TestServer
let people: Person[] = []
const proxies: Array<{ close(): Promise<void> }> = []

beforeAll(async () => {
  ;[server, people] = await Promise.all([startServer({ iceServers: [] }), launchPeople(3)])
})
afterAll(async () => {
  await closeAll(people)
  await Promise.all(proxies.map((p) => p.close()))
  await server?.close()
})

const POLL = { polling: 50, timeout: 20_000 }

/** Everyone in the People list shows as failed, and the page said why. */
async function refusesAll(page: Page, count: number) {
  await page.waitForFunction(
    (n) => {
      const rows = [...document.querySelectorAll('ul[aria-label="People"] li')]
      return rows.length === n && rows.every((r) => r.getAttribute('data-state') === 'failed')
    },
    POLL,
    count,
  )
  await page.waitForFunction(
    () => [...document.querySelectorAll('[role="log"] .notice')].some((n) => n.textContent?.includes('Cannot verify')),
    POLL,
  )
}

/** Runs `group` in a fresh room behind a proxy that rewrites every relayed signal event. */
async function behindTamperingProxy(group: Person[], rewrite: (frame: SseFrame, data: Record<string, unknown>) => SseFrame[]) {
  const proxy = await startRecordingProxy(server.url, {
    rewriteEvent: (frame) => (frame.event === 'signal' ? rewrite(frame, JSON.parse(frame.data) as Record<string, unknown>) : [frame]),
  })
  const link = roomLink(proxy.url)
  await Promise.all(group.map((p) => p.page.goto(link)))
  return proxy
}

describe('a tampering server', () => {
  it('flips bits in relayed payloads: nobody connects, and the page says so', async () => {
    const pair = people.slice(0, 2)
    const proxy = await behindTamperingProxy(pair, (frame, data) => {
      const sealed = data.data as string
      const i = Math.floor(sealed.length / 2)
      const flipped = sealed.slice(0, i) + (sealed[i] === 'A' ? 'B' : 'A') + sealed.slice(i + 1)
      return [{ ...frame, data: JSON.stringify({ ...data, data: flipped }) }]
    })
    try {
      await Promise.all(pair.map((p) => refusesAll(p.page, 1)))
      expect(await pair[0]!.page.evaluate(() => window.parley!.stats().connections)).toBe(0)
    } finally {
      await proxy.close()
    }
  })

  it('swaps senders: nobody connects', async () => {
    const ids = new Set<string>()
    const proxy = await behindTamperingProxy(people, (frame, data) => {
      ids.add(data.to as string).add(data.from as string)
      const other = [...ids].find((id) => id !== data.to && id !== data.from)
      return other ? [{ ...frame, data: JSON.stringify({ ...data, from: other }) }] : []
    })
    try {
      await Promise.all(people.map((p) => refusesAll(p.page, 2)))
    } finally {
      await proxy.close()
    }
  })

  it('replays payloads from another room: nobody connects', async () => {
    // First record what an honest server relayed in one room…
    const recorded: string[] = []
    const honest = await behindTamperingProxy(people.slice(0, 2), (frame, data) => {
      recorded.push(data.data as string)
      return [frame]
    })
    await Promise.all(people.slice(0, 2).map((p) => waitForConnected(p.page, 1)))
    await honest.close()
    // …then relay those instead of the real ones in another room of the same people.
    let next = 0
    const replaying = await behindTamperingProxy(people.slice(0, 2), (frame, data) => [
      { ...frame, data: JSON.stringify({ ...data, data: recorded[next++ % recorded.length] }) },
    ])
    try {
      await Promise.all(people.slice(0, 2).map((p) => refusesAll(p.page, 1)))
    } finally {
      await replaying.close()
    }
  })

  it('replays each payload to the same pair: the copies are refused and reported', async () => {
    const pair = people.slice(0, 2)
    const proxy = await behindTamperingProxy(pair, (frame) => [frame, frame])
    try {
      await Promise.all(pair.map((p) => waitForConnected(p.page, 1)))
      await pair[0]!.page.waitForFunction(
        () => [...document.querySelectorAll('[role="log"] .notice')].some((n) => n.textContent?.includes('replayed')),
        POLL,
      )
    } finally {
      await proxy.close()
    }
  })
})

describe('a wrong secret', () => {
  it('is turned away at the door by the server: the room admits holders of its link only', async () => {
    const [ana, , eve] = people as [Person, Person, Person]
    const room = randomRoom()
    await ana.page.goto(`${server.url}/r/${room}#${nanoid(22)}`)
    await ana.page.waitForFunction(() => window.parley?.status === 'online', POLL)
    await eve.page.goto(`${server.url}/r/${room}#${nanoid(22)}`) // same room, another secret
    await eve.page.waitForFunction(() => document.getElementById('banner')?.textContent?.includes('does not match this room'), POLL)
    expect(await eve.page.$eval('#message', (box) => (box as HTMLTextAreaElement).disabled)).toBe(true)
  })

  it('behind a server that admits anyone, never connects to anyone and never sees a message', async () => {
    const [ana, ben, eve] = people as [Person, Person, Person]
    await Promise.all(people.map((p, i) => p.page.goto(server.url).then(() => setName(p.page, ['Ana', 'Ben', 'Eve'][i]!))))
    // A server that lets anyone in (here: one that never sees the admission verifier) still cannot
    // make a wrong key open anything: the sealing holds on its own.
    const admitsAnyone = await startRecordingProxy(server.url, {
      rewriteRequest: (body, path) => (path.endsWith('/join') ? JSON.stringify({ ...JSON.parse(body), verifier: undefined }) : body),
    })
    proxies.push(admitsAnyone)
    const room = randomRoom()
    const link = `${admitsAnyone.url}/r/${room}#${nanoid(22)}`
    await Promise.all([ana, ben].map((p) => p.page.goto(link)))
    await eve.page.goto(`${admitsAnyone.url}/r/${room}#${nanoid(22)}`) // same room, another secret
    await refusesAll(eve.page, 2)
    await ana.page.waitForFunction(
      () =>
        [...document.querySelectorAll('ul[aria-label="People"] li')]
          .map((r) => r.getAttribute('data-state'))
          .sort()
          .join() === 'connected,failed',
      POLL,
    )
    const marker = `secret-${nanoid()}`
    await say(ana.page, marker)
    await waitForMessage(ben.page, marker)
    await say(eve.page, 'can anyone hear me?')
    expect(await messages(eve.page)).toEqual([{ who: 'You', text: 'can anyone hear me?', mine: true }])
    expect((await messages(ben.page)).map((m) => m.text)).toEqual([marker])
    expect(await eve.page.evaluate(() => window.parley!.stats().connections)).toBe(0)
  })

  it('a link without its secret does not join at all', async () => {
    await Promise.all(people.map((p) => p.page.goto('about:blank')))
    const [ana] = people as [Person]
    const rooms = server.stats().rooms
    await ana.page.goto(`${server.url}/r/${randomRoom()}`)
    await ana.page.waitForFunction(() => document.getElementById('banner')?.textContent?.includes('link is incomplete'), POLL)
    expect(await ana.page.evaluate(() => window.parley)).toBeUndefined()
    expect(server.stats().rooms).toBeLessThanOrEqual(rooms) // nobody joined (others may still be leaving)
  })
})
