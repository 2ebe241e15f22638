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

/** The texts of the room's history this browser has written to IndexedDB (saved once a burst pauses). */
const storedTexts = (person: Person) =>
  person.page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve) => {
      const request = indexedDB.open('parley')
      request.onsuccess = () => resolve(request.result)
    })
    const rooms = await new Promise<Array<Array<{ message: { text: string } }>>>((resolve) => {
      const request = db.transaction('history').objectStore('history').getAll()
      request.onsuccess = () => resolve(request.result)
    })
    db.close()
    return rooms.flat().map((entry) => entry.message.text)
  })

it('a reload is the same person: Ben keeps his key for the room, so the block Ana put on him holds', async () => {
  const [ana, ben] = people as [Person, Person]
  const key = await ben.page.evaluate(() => window.parley!.self.key)
  const benId = await ben.page.evaluate(() => window.parley!.self.id)
  const row = `ul[aria-label="People"] li[data-peer="${benId}"]`
  // Blocking lasts, so the page asks first; declining changes nothing.
  const asked: string[] = []
  ana.page.once('dialog', (dialog) => {
    asked.push(dialog.message())
    void dialog.dismiss()
  })
  await ana.page.evaluate((r) => document.querySelector<HTMLButtonElement>(`${r} button.block`)!.click(), row)
  expect(asked).toEqual([expect.stringMatching(/^Block Ben\?/)])
  expect(await ana.page.evaluate(() => window.parley!.peers.map((p) => p.name))).toEqual(['Ben'])
  ana.page.once('dialog', (dialog) => void dialog.accept())
  await ana.page.evaluate((r) => document.querySelector<HTMLButtonElement>(`${r} button.block`)!.click(), row)
  await ana.page.waitForFunction((r) => !document.querySelector(r), {}, row)
  const listed = await ana.page.evaluate(() => localStorage.getItem(`parley:moderation:${location.pathname.split('/').pop()}`))
  // His live line was checked with his key, so the key is what is listed.
  expect(JSON.parse(listed!).blocked).toEqual([key])

  await ana.page.evaluate(() => {
    const w = window as unknown as { __greeted: string[] }
    w.__greeted = []
    window.parley!.on('peer-updated', (view) => view.key && w.__greeted.push(view.id))
  })
  await ben.page.reload()
  await ben.page.waitForFunction(() => window.parley?.self.id, {})
  expect(await ben.page.evaluate(() => window.parley!.self.key)).toBe(key)
  const newId = await ben.page.evaluate(() => window.parley!.self.id)
  expect(newId).not.toBe(benId)
  // Ana's page refuses his new session at its hello: by then he is gone from her people.
  await ana.page.waitForFunction((id) => (window as unknown as { __greeted: string[] }).__greeted.includes(id), {}, newId)
  expect(await ana.page.evaluate(() => window.parley!.peers.map((p) => p.name))).toEqual([])

  // Ana's own reload: his earlier line comes back from her store under his old session id, and stays
  // hidden because it carries the key she blocked.
  await expect.poll(() => storedTexts(ana), { timeout: 10_000 }).toContain('Hello Ana <b>not bold</b>')
  await ana.page.reload()
  await waitForMessage(ana.page, 'Hi Ben, it is Ana')
  expect((await messages(ana.page)).map((m) => m.text)).toEqual(['Hi Ben, it is Ana'])

  // Undone from People: Ana's page reloads and reaches him again.
  expect(await ana.page.$eval('#unblock', (b) => ((b as HTMLElement).hidden ? '' : b.textContent))).toBe('Unmute and unblock everyone (1)')
  await Promise.all([ana.page.waitForNavigation(), ana.page.evaluate(() => document.getElementById('unblock')!.click())])
  await Promise.all([waitForConnected(ana.page, 1), waitForConnected(ben.page, 1)])
  expect(await ana.page.$eval('#unblock', (b) => (b as HTMLElement).hidden)).toBe(true)
  await waitForMessage(ana.page, 'Hello Ana <b>not bold</b>')
})
