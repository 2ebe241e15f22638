import { nanoid } from 'nanoid'
import { afterAll, beforeAll, expect, it } from 'vitest'
import {
  closeAll,
  launchPeople,
  type Person,
  peopleList,
  say,
  setName,
  waitForConnected,
  waitForMessage,
  waitForPeopleCount,
} from '../browsers'
import { joinMinimal } from '../conformance/minimal-client'
import { randomRoom, startServer, type TestServer, within } from '../helpers'

// The protocol is enough to write a client: a minimal one that shares no code with Parley's own
// (test/conformance/minimal-client.ts) joins a room with the real page and chats.
let server: TestServer
let people: Person[] = []
let mini: Awaited<ReturnType<typeof joinMinimal>> | undefined
const POLL = { polling: 50, timeout: 20_000 }

beforeAll(async () => {
  ;[server, people] = await Promise.all([startServer({ iceServers: [] }), launchPeople(1)])
  await people[0]!.page.goto(server.url)
  await setName(people[0]!.page, 'Ana')
})
afterAll(async () => {
  await mini?.leave().catch(() => {})
  await closeAll(people)
  await server?.close()
})

it('a client written from the protocol alone joins, chats both ways and keeps its channel alive', async () => {
  const [ana] = people as [Person]
  const room = randomRoom()
  const secret = nanoid(22)
  await ana.page.goto(`${server.url}/r/${room}#${secret}`)
  await ana.page.waitForFunction(() => window.parley?.status === 'online', POLL)
  const earlier = `said before the minimal client came ${nanoid(6)}`
  await say(ana.page, earlier)
  await waitForMessage(ana.page, earlier)

  mini = await joinMinimal({ server: server.api, room, secret, name: 'Mini' })
  await within(
    mini.until(() => mini!.state.open && mini!.state.greeted),
    20_000,
    'the minimal client’s channel and the page’s hello',
  )
  // Its sealed name opened with the room key; the page connected and compares the same pair code.
  await waitForConnected(ana.page, 1)
  expect(await peopleList(ana.page)).toEqual(['Mini: connected'])
  await ana.page.waitForFunction(() => window.parley?.peers[0]?.code !== undefined, POLL)
  expect(await ana.page.evaluate(() => window.parley!.peers[0]!.code)).toBe(await mini.code())
  // History follows the page's hello: the line said before, signed, with its author's key.
  await within(
    mini.until(() => mini!.chats.some((c) => c.text === earlier)),
    20_000,
    'the page’s history',
  )
  expect(mini.chats.find((c) => c.text === earlier)).toMatchObject({ type: 'chat', name: 'Ana', verified: true, history: true })

  // Its signature checks out against the key in its hello: the page shows the line.
  const fromMini = `signed by hand ${nanoid(6)}`
  await mini.say(fromMini)
  await waitForMessage(ana.page, fromMini)
  expect(await ana.page.evaluate(() => window.parley!.stats().forged)).toBe(0)

  const fromAna = `hello, minimal client ${nanoid(6)}`
  await say(ana.page, fromAna)
  await within(
    mini.until(() => mini!.chats.some((c) => c.text === fromAna)),
    20_000,
    'Ana’s line at the minimal client',
  )
  expect(mini.chats.find((c) => c.text === fromAna)).toMatchObject({ from: mini.peer, name: 'Ana', verified: true, history: false })

  // Keep-alive: past the 5 s of silence that closes a channel, with pings each way.
  await within(
    mini.until(() => mini!.state.pings >= 6),
    20_000,
    'six pings from the page',
  )
  expect(mini.state.closed).toBe(false)
  expect(await ana.page.evaluate(() => window.parley!.peers.map((p) => p.state))).toEqual(['connected'])

  await mini.leave()
  mini = undefined
  await waitForPeopleCount(ana.page, 0)
})
