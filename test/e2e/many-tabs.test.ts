import { readdirSync, readFileSync } from 'node:fs'
import type { Browser, Page } from 'puppeteer'
import { afterAll, beforeAll, expect, it } from 'vitest'
import {
  closeAll,
  launchPeople,
  type Person,
  say,
  waitForConnected,
  waitForJoined,
  waitForMessage,
  waitForPeopleCount,
  watch,
} from '../browsers'
import { roomLink, startServer, type TestServer } from '../helpers'
import { holdJoinAnswers, startRecordingProxy } from '../proxy'

// Browsers allow six HTTP/1.1 connections per host and an event stream holds one: with a stream per
// tab, the seventh tab's POSTs would queue forever. Parley shares one stream per browser.
const TABS = 8

let server: TestServer
let people: Person[] = []

beforeAll(async () => {
  ;[server, people] = await Promise.all([startServer({ iceServers: [] }), launchPeople(2)])
})
afterAll(async () => {
  await closeAll(people)
  await server?.close()
})

async function openTabs(person: Person, urls: string[]): Promise<Page[]> {
  const tabs = [person.page, ...(await Promise.all(urls.slice(1).map(() => person.browser.newPage())))]
  for (const tab of tabs.slice(1)) watch(tab, person.errors)
  // One after the other, as a person would open them (and each starts the next only once loaded).
  for (const [i, tab] of tabs.entries()) await tab.goto(urls[i]!)
  return tabs
}

/**
 * The renderer process that runs this Chromium's shared worker, found by its thread's name (Linux):
 * Chromium puts the worker in the process of a tab of the origin, which dies with it.
 */
function sharedWorkerProcess(browser: Browser): number {
  const profile = browser.process()!.spawnargs.find((arg) => arg.startsWith('--user-data-dir='))!
  const found: number[] = []
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      // A renderer rewrites its command line as one string (its title), so this is a substring.
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(profile)) continue
      const threads = readdirSync(`/proc/${pid}/task`).map((task) => readFileSync(`/proc/${pid}/task/${task}/comm`, 'utf8'))
      if (threads.some((name) => name.startsWith('SharedWorker'))) found.push(Number(pid))
    } catch {
      // That process ended meanwhile.
    }
  }
  if (found.length !== 1) throw new Error(`expected one process of this browser running a shared worker, found ${found.length}`)
  return found[0]!
}

/** Whether the page's renderer still answers (a crashed one never does: give it a few seconds). */
async function alive(page: Page): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const silent = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, 3_000, false)))
  const answered = page.evaluate(() => true).catch(() => false)
  return Promise.race([answered, silent]).finally(() => clearTimeout(timer))
}

async function closeTabs(tabs: Page[]) {
  await Promise.all(tabs.slice(1).map((t) => t.close()))
  await tabs[0]!.goto('about:blank')
}

it('eight tabs of one browser in one room form a full mesh over one event stream', async () => {
  const [ana] = people as [Person]
  const url = roomLink(server.url)
  const tabs = await openTabs(ana, Array(TABS).fill(url))
  try {
    await Promise.all(tabs.map((tab) => waitForConnected(tab, TABS - 1, 60_000)))
    expect(server.stats()).toMatchObject({ sessions: 1, streams: 1, peers: TABS })
    await say(tabs[0]!, 'hello from the first tab')
    await say(tabs[TABS - 1]!, 'hello from the last tab')
    await Promise.all(tabs.slice(1).map((tab) => waitForMessage(tab, 'hello from the first tab')))
    await Promise.all(tabs.slice(0, -1).map((tab) => waitForMessage(tab, 'hello from the last tab')))
  } finally {
    await closeTabs(tabs)
  }
  expect(ana.errors).toEqual([])
})

it('eight tabs of one browser in eight rooms all chat with a second browser', async () => {
  const [ana, ben] = people as [Person, Person]
  const urls = Array.from({ length: TABS }, () => roomLink(server.url))
  const anaTabs = await openTabs(ana, urls)
  const benTabs = await openTabs(ben, urls)
  try {
    await Promise.all([...anaTabs, ...benTabs].map((tab) => waitForConnected(tab, 1, 60_000)))
    // Two browsers, two sessions, two streams: however many tabs.
    expect(server.stats()).toMatchObject({ sessions: 2, streams: 2, rooms: TABS, peers: 2 * TABS })
    for (const [i, tab] of anaTabs.entries()) await say(tab, `ana in room ${i}`)
    for (const [i, tab] of benTabs.entries()) await say(tab, `ben in room ${i}`)
    await Promise.all(benTabs.map((tab, i) => waitForMessage(tab, `ana in room ${i}`)))
    await Promise.all(anaTabs.map((tab, i) => waitForMessage(tab, `ben in room ${i}`)))
  } finally {
    await Promise.all([closeTabs(anaTabs), closeTabs(benTabs)])
  }
  expect([...ana.errors, ...ben.errors]).toEqual([])
})

it('falls back to a connection of its own when the shared worker does not answer', async () => {
  // A worker that accepts tabs and never says a word, as a wedged one would.
  const proxy = await startRecordingProxy(server.url, {
    serveScript: (path) => (/^\/worker-[\w-]+\.js$/.test(path) ? 'self.onconnect = () => {}' : undefined),
  })
  try {
    const link = roomLink(proxy.url)
    await Promise.all(people.map((p) => p.page.goto(link)))
    await Promise.all(people.map((p) => waitForConnected(p.page, 1)))
    await say(people[0]!.page, 'no worker needed')
    await waitForMessage(people[1]!.page, 'no worker needed')
  } finally {
    await Promise.all(people.map((p) => p.page.goto('about:blank')))
    await proxy.close()
  }
})

it('two tabs of one browser still chat when the shared worker they would share does not answer', async () => {
  // The first tab joins on its own; the second asks it to hand its session to the worker, which never answers.
  const proxy = await startRecordingProxy(server.url, {
    serveScript: (path) => (/^\/worker-[\w-]+\.js$/.test(path) ? 'self.onconnect = () => {}' : undefined),
  })
  const [ana] = people as [Person]
  const tabs = await openTabs(ana, Array(2).fill(roomLink(proxy.url)))
  try {
    await Promise.all(tabs.map((tab) => waitForConnected(tab, 1, 60_000)))
    await say(tabs[0]!, 'from the first tab')
    await waitForMessage(tabs[1]!, 'from the first tab')
    await say(tabs[1]!, 'from the second tab')
    await waitForMessage(tabs[0]!, 'from the second tab')
  } finally {
    await closeTabs(tabs)
    await proxy.close()
  }
  expect(ana.errors).toEqual([])
})

it('a tab whose shared worker died (its renderer crashed) gives up its seat, joins through a new one and chats again', async () => {
  const [ana, ben] = people as [Person, Person]
  const link = roomLink(server.url)
  const tabs = await openTabs(ana, [link, link])
  try {
    await ben.page.goto(link)
    await Promise.all([...tabs, ben.page].map((tab) => waitForConnected(tab, 2)))
    const before = await Promise.all(tabs.map((tab) => tab.evaluate(() => window.parley!.self.id)))
    process.kill(sharedWorkerProcess(ana.browser), 'SIGKILL')
    const survivors = (await Promise.all(tabs.map(alive))).flatMap((up, i) => (up ? [i] : []))
    // The worker ran in one tab's process: the other tab lives on, with no signaling behind it.
    expect(survivors).toHaveLength(1)
    const i = survivors[0]!
    const tab = tabs[i]!
    // Joined again (while it joins, its id is '').
    const rejoined = (old: string) => ![old, ''].includes(window.parley!.self.id)
    await tab.waitForFunction(rejoined, { polling: 50, timeout: 15_000 }, before[i]!)
    const id = await tab.evaluate(() => window.parley!.self.id)
    // Its old seat went at once (its beacon; its channels closed), well before the server's 10 s grace.
    await ben.page.waitForFunction((old) => !window.parley!.peers.some((p) => p.id === old), { polling: 50, timeout: 5_000 }, before[i]!)
    // The dead tab's goes when Ben's channel to it falls silent.
    await Promise.all([waitForConnected(tab, 1), waitForConnected(ben.page, 1)])
    expect(await ben.page.evaluate(() => window.parley!.peers.map((p) => p.id))).toEqual([id])
    await say(tab, 'after the worker died')
    await waitForMessage(ben.page, 'after the worker died')
    await say(ben.page, 'heard you')
    await waitForMessage(tab, 'heard you')
    // It signals through a new shared worker, which a tab opened now shares: one stream per browser still.
    const third = await ana.browser.newPage()
    tabs.push(third)
    await third.goto(link)
    await Promise.all([tab, third, ben.page].map((page) => waitForConnected(page, 2)))
    await expect.poll(() => server.stats().streams).toBe(2)
  } finally {
    // A crashed tab navigates again in a fresh renderer. Errors here must not hide the test's own.
    await Promise.allSettled([ben.page.goto('about:blank'), ...tabs.slice(1).map((t) => t.close()), tabs[0]!.goto('about:blank')])
  }
})

it('a second tab that goes away while the worker’s join for it is in flight leaves no ghost', async () => {
  // The second tab joins through the shared worker, on the first tab's session; the server seats it,
  // but the answer waits at the proxy, so neither the tab nor the worker learns the peer.
  let holding = false
  await secondTabGoesWithJoinHeld(await holdJoinAnswers(server.url, () => holding), () => (holding = true))
})

it('a second tab that goes away while the worker retries its join leaves no ghost (it hears each retry’s nonce)', async () => {
  // Every answer to the second tab's first join attempt is lost on the way (Chromium may resend it
  // once, then the worker cancels it itself); the worker's retry, with a nonce it chose, is seated, and
  // its answer waits at the proxy. The tab cancels the retry's nonce, which the worker told it.
  let holding = false
  let first: string | undefined
  let latest: string | undefined
  const held = await holdJoinAnswers(server.url, () => holding && latest !== first, {
    rewriteRequest(body, path) {
      if (path === '/v1/join' && holding) {
        latest = (JSON.parse(body) as { nonce: string }).nonce
        first ??= latest
      }
      return body
    },
    dropResponse: (path) => path === '/v1/join' && holding && latest === first,
  })
  await secondTabGoesWithJoinHeld(held, () => (holding = true))
})

/**
 * Ana in the room through `held`'s proxy, then a second tab of hers whose join is seated while its
 * answer is held (`hold` starts holding): the tab goes, and its peer must go at once with it.
 */
async function secondTabGoesWithJoinHeld(held: Awaited<ReturnType<typeof holdJoinAnswers>>, hold: () => void) {
  const [ana] = people as [Person]
  const link = roomLink(held.proxy.url)
  const second = await ana.browser.newPage()
  try {
    await ana.page.goto(link)
    await waitForConnected(ana.page, 0)
    // Ana's own join goes through the proxy too: hold only the second tab's.
    await waitForJoined(ana.page)
    hold()
    await second.goto(link)
    await held.landed
    await waitForPeopleCount(ana.page, 1)
    await second.goto('about:blank')
    // Gone at once (the tab's cancel beacon), not when the worker hears the answer or after the grace.
    await waitForPeopleCount(ana.page, 0, 4_000)
  } finally {
    held.release()
    await second.close()
    await ana.page.goto('about:blank')
    await held.proxy.close()
  }
}
