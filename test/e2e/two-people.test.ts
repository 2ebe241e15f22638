import { afterAll, beforeAll, expect, it } from 'vitest'
import { closeAll, launchPeople, messages, type Person, say, setName, waitForConnected, waitForMessage } from '../browsers'
import { startServer, type TestServer } from '../helpers'

let server: TestServer
let people: Person[] = []

beforeAll(async () => {
  ;[server, people] = await Promise.all([startServer({ iceServers: [] }), launchPeople(2)])
})
afterAll(async () => {
  await closeAll(people)
  await server?.close()
})

it('two people create and open a room link and chat both ways', async () => {
  const [ana, ben] = people as [Person, Person]
  await ana.page.goto(server.url)
  await setName(ana.page, 'Ana')
  await Promise.all([ana.page.waitForNavigation(), ana.page.locator('::-p-aria(Create room[role="button"])').click()])
  const link = ana.page.url()
  expect(link).toMatch(/\/r\/[A-Za-z0-9_-]{12}#[A-Za-z0-9_-]{22}$/)

  await ben.page.goto(server.url)
  await setName(ben.page, 'Ben')
  await ben.page.goto(link)
  await Promise.all([waitForConnected(ana.page, 1), waitForConnected(ben.page, 1)])

  await say(ana.page, 'Hi Ben, it is Ana')
  await waitForMessage(ben.page, 'Hi Ben, it is Ana')
  await say(ben.page, 'Hello Ana <b>not bold</b>')
  await waitForMessage(ana.page, 'Hello Ana <b>not bold</b>')

  expect(await messages(ana.page)).toEqual([
    { who: 'You', text: 'Hi Ben, it is Ana', mine: true },
    { who: 'Ben', text: 'Hello Ana <b>not bold</b>', mine: false },
  ])
  expect(await messages(ben.page)).toEqual([
    { who: 'Ana', text: 'Hi Ben, it is Ana', mine: false },
    { who: 'You', text: 'Hello Ana <b>not bold</b>', mine: true },
  ])
  expect(await ana.page.$$eval('[role="log"] b', (b) => b.length)).toBe(0)
  expect([...ana.errors, ...ben.errors]).toEqual([])
})
