import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  closeAll,
  launchPeople,
  type Person,
  say,
  sendAndReload,
  storedTexts,
  waitForConnected,
  waitForJoined,
  waitForMessage,
} from '../browsers'
import { roomLink, startServer, type TestServer } from '../helpers'

// Nothing a person sent or received is lost to a reload, however soon it comes: each case reloads (or
// closes the tab) with no wait at all, then reads what this browser's IndexedDB kept of the room.
let server: TestServer
let people: Person[] = []

beforeAll(async () => {
  ;[server, people] = await Promise.all([startServer({ iceServers: [] }), launchPeople(2)])
})
afterAll(async () => {
  await closeAll(people)
  await server?.close()
})

const roomOf = (link: string) => new URL(link).pathname.split('/').pop()!

describe('a reload right after', () => {
  it('sending keeps the message (puppeteer reload after the click)', async () => {
    const [ana] = people as [Person]
    const link = roomLink(server.url)
    await ana.page.goto(link)
    await waitForJoined(ana.page)
    await say(ana.page, 'said just before a reload')
    await ana.page.reload()
    expect(await storedTexts(ana.page, roomOf(link))).toContain('said just before a reload')
    await waitForMessage(ana.page, 'said just before a reload')
  })

  it('sending keeps the message (reload in the same task)', async () => {
    const [ana] = people as [Person]
    const link = roomLink(server.url)
    await ana.page.goto(link)
    await waitForJoined(ana.page)
    await sendAndReload(ana.page, 'said in the reload’s own task')
    expect(await storedTexts(ana.page, roomOf(link))).toContain('said in the reload’s own task')
    await waitForMessage(ana.page, 'said in the reload’s own task')
  })

  it('receiving keeps the message', async () => {
    const [ana, ben] = people as [Person, Person]
    const link = roomLink(server.url)
    await Promise.all([ana, ben].map((p) => p.page.goto(link)))
    await Promise.all([ana, ben].map((p) => waitForConnected(p.page, 1)))
    // Ana's page reloads in the very task that shows Ben's line.
    await ana.page.evaluate(() => {
      window.parley!.on('message', (m) => m.text === 'heard just before a reload' && location.reload())
    })
    const reloaded = ana.page.waitForNavigation()
    await say(ben.page, 'heard just before a reload')
    await reloaded
    expect(await storedTexts(ana.page, roomOf(link))).toContain('heard just before a reload')
  })

  it('closing the tab keeps what was sent', async () => {
    const [ana] = people as [Person]
    const link = roomLink(server.url)
    await ana.page.goto(link)
    await waitForJoined(ana.page)
    await say(ana.page, 'said just before closing')
    await ana.page.close({ runBeforeUnload: true })
    ana.page = await ana.browser.newPage()
    await ana.page.goto(link)
    expect(await storedTexts(ana.page, roomOf(link))).toContain('said just before closing')
  })
})
