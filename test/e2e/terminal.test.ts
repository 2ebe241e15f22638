import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { nanoid } from 'nanoid'
import puppeteer, { type Browser, type Page } from 'puppeteer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { closeAll, launchPeople, type Person, say, setName, waitForConnected, waitForMessage } from '../browsers'
import { join, randomRoom, roomLink, startServer, type TestServer } from '../helpers'
import { type Line, spawnTerminal, type Terminal } from '../terminal'

// The terminal client as a bot runs it (its own process, --json) in one room with Chromium pages.
let server: TestServer
let people: Person[] = []
const terminals: Terminal[] = []
const POLL = { polling: 50, timeout: 20_000 }

beforeAll(async () => {
  ;[server, people] = await Promise.all([startServer({ iceServers: [], joinBurst: 1000 }), launchPeople(2)])
  await Promise.all(
    people.map(async (person, i) => {
      await person.page.goto(server.url)
      await setName(person.page, ['Ana', 'Ben'][i]!)
    }),
  )
})
afterAll(async () => {
  await Promise.all(terminals.map((t) => t.kill()))
  await closeAll(people)
  await server?.close()
})

const terminal = (args: string[]) => {
  const t = spawnTerminal(args)
  terminals.push(t)
  return t
}
const message = (text: string) => (l: Line) => l.type === 'message' && l.text === text

/** The page's (private) marker of a message: null when it went to everyone. */
const privateMark = (page: Person['page'], text: string) =>
  page.$$eval(
    '[role="log"][aria-label="Messages"] .message',
    (entries, t) => {
      const entry = entries.find((e) => e.querySelector('.text')?.textContent === t)
      const marker = entry?.querySelector<HTMLElement>('.private')
      return marker && !marker.hidden ? marker.textContent : null
    },
    text,
  )

describe('the terminal client with Chromium pages', () => {
  it('chats both ways, with history in both directions and direct messages', async () => {
    const [ana, ben] = people as [Person, Person]
    const link = roomLink(server.url)
    const early = `said before the bot came ${nanoid(6)}`
    await ana.page.goto(link)
    await ana.page.waitForFunction(() => window.parley?.status === 'online', POLL)
    await say(ana.page, early)

    const bot = terminal([link, '--name', 'Bot', '--json'])
    const seen = await bot.next(message(early), 30_000, 'Ana’s earlier line')
    expect(seen).toMatchObject({ name: 'Ana', history: true })
    const anaId = (await bot.next((l) => l.type === 'peer-connected', 30_000, 'peer-connected')).id as string
    const botId = (await bot.next((l) => l.type === 'status' && l.status === 'online')).id as string
    await waitForConnected(ana.page, 1)

    const fromBot = `hello from the terminal ${nanoid(6)}`
    bot.send({ text: fromBot })
    await waitForMessage(ana.page, fromBot)
    const live = `live from Ana ${nanoid(6)}`
    await say(ana.page, live)
    expect(await bot.next(message(live))).toMatchObject({ from: anaId, name: 'Ana', history: false })
    expect(await bot.next(message(live))).not.toHaveProperty('to')

    // Ana → Bot privately, and Bot answers her by name.
    await ana.page.click(`ul[aria-label="People"] li[data-peer="${botId}"] button.person-open`)
    const secret = `just for the bot ${nanoid(6)}`
    await say(ana.page, secret)
    expect(await bot.next(message(secret))).toMatchObject({ from: anaId, to: botId, history: false })
    await ana.page.locator('::-p-aria(Back to everyone[role="button"])').click()
    const answer = `just for Ana ${nanoid(6)}`
    bot.send({ text: answer, to: 'Ana' })
    expect(await bot.next((l) => l.type === 'sent' && l.text === answer)).toMatchObject({ to: anaId })
    await waitForMessage(ana.page, answer)
    expect(await privateMark(ana.page, answer)).toBe('private')

    // Ana goes: only the terminal holds the room's history now, and Ben gets it from there.
    await ana.page.goto('about:blank')
    await bot.next((l) => l.type === 'peer-left' && l.id === anaId, 30_000, 'Ana leaving')
    await ben.page.goto(link)
    await Promise.all([
      waitForMessage(ben.page, fromBot, 30_000),
      waitForMessage(ben.page, early, 30_000),
      waitForMessage(ben.page, live, 30_000),
    ])
    const benSees = await ben.page.$$eval('[role="log"][aria-label="Messages"] .message .text', (e) => e.map((x) => x.textContent))
    expect(benSees).not.toContain(secret)
    expect(benSees).not.toContain(answer)

    const started = Date.now()
    expect(await bot.end()).toBe(0)
    // Nothing (simple-peer's ICE timer, the stream) keeps the process past its goodbye.
    expect(Date.now() - started).toBeLessThan(3_000)
    expect(bot.lines.at(-1)).toEqual({ type: 'status', status: 'closed' })
    await ben.page.waitForFunction(() => window.parley?.peers.length === 0, POLL)
  })

  it('posts what it is given before the join completes, and waits for delivery before leaving', async () => {
    const [ana] = people as [Person]
    const link = roomLink(server.url)
    await ana.page.goto(link)
    await ana.page.waitForFunction(() => window.parley?.status === 'online', POLL)
    const text = `a one-shot post ${nanoid(6)}`
    const bot = terminal([link, '--name', 'CI', '--json'])
    bot.send({ text })
    expect(await bot.end()).toBe(0)
    await waitForMessage(ana.page, text)
  })
})

const FIREFOX = '/usr/lib/firefox-esr/firefox-esr'
// Host candidates on loopback, unobfuscated: what makes Firefox's WebRTC connect on this machine.
const FIREFOX_PREFS = {
  'media.peerconnection.ice.loopback': true,
  'media.peerconnection.ice.no_host': false,
  'media.peerconnection.ice.obfuscate_host_addresses': false,
}

/** Firefox ESR over WebDriver BiDi, its profile in a directory of its own. */
async function launchFirefox(): Promise<{ browser: Browser; page: Page; profile: string }> {
  const profile = mkdtempSync(joinPath(tmpdir(), 'parley-firefox-'))
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    userDataDir: profile,
    extraPrefsFirefox: FIREFOX_PREFS,
  })
  const page = (await browser.pages())[0] ?? (await browser.newPage())
  return { browser, page, profile }
}

// Page state is read inside the page and polled rarely: each round trip to Firefox is slow.
const FIREFOX_POLL = { polling: 200, timeout: 30_000 }
const firefoxShows = (page: Page, text: string) =>
  page.waitForFunction(
    (t) => [...document.querySelectorAll('[role="log"][aria-label="Messages"] .message .text')].some((e) => e.textContent === t),
    FIREFOX_POLL,
    text,
  )
/** Types a line into the page's composer and submits it (optionally to one person). */
const firefoxSays = (page: Page, text: string, to = '') =>
  page.evaluate(
    (t, peer) => {
      // Choosing a person writes to them privately; "Back to everyone" ends it.
      const choose = peer
        ? document.querySelector<HTMLButtonElement>(`ul[aria-label="People"] li[data-peer="${peer}"] button.person-open`)
        : document.querySelector<HTMLButtonElement>('#private-bar button')
      if (peer || !document.getElementById('private-bar')!.hidden) choose!.click()
      ;(document.getElementById('message') as HTMLInputElement).value = t
      ;(document.getElementById('composer') as HTMLFormElement).requestSubmit()
    },
    text,
    to,
  )

describe.skipIf(!existsSync(FIREFOX))('the terminal client with a Firefox page', () => {
  let firefox: Awaited<ReturnType<typeof launchFirefox>> | undefined
  afterAll(async () => {
    await firefox?.browser.close().catch(() => {})
    if (firefox) rmSync(firefox.profile, { recursive: true, force: true })
  })

  it('chats both ways, with history and direct messages', async () => {
    firefox = await launchFirefox()
    const { page } = firefox
    const link = roomLink(server.url)
    await page.goto(server.url)
    await page.evaluate(() => localStorage.setItem('parley:name', 'Fox'))
    await page.goto(link)
    await page.waitForFunction(() => window.parley?.status === 'online', FIREFOX_POLL)
    const early = `Firefox said this first ${nanoid(6)}`
    await firefoxSays(page, early)
    await firefoxShows(page, early)

    const bot = terminal([link, '--name', 'Bot', '--json'])
    expect(await bot.next(message(early), 30_000, 'Fox’s earlier line')).toMatchObject({ name: 'Fox', history: true })
    const foxId = (await bot.next((l) => l.type === 'peer-connected', 30_000, 'peer-connected')).id as string
    const botId = (await bot.next((l) => l.type === 'status' && l.status === 'online')).id as string

    const fromBot = `terminal to Firefox ${nanoid(6)}`
    bot.send({ text: fromBot })
    await firefoxShows(page, fromBot)
    const secret = `Firefox to the bot only ${nanoid(6)}`
    await firefoxSays(page, secret, botId)
    expect(await bot.next(message(secret), 30_000, 'the DM from Firefox')).toMatchObject({ from: foxId, to: botId })
    const answer = `bot to Firefox only ${nanoid(6)}`
    bot.send({ text: answer, to: foxId })
    await firefoxShows(page, answer)
    const started = Date.now()
    expect(await bot.end()).toBe(0)
    // Everything it sent was confirmed already: no waiting for receipts.
    expect(Date.now() - started).toBeLessThan(3_000)
  })

  it('chats in one room with a Chromium page and a Firefox page at once', async () => {
    firefox ??= await launchFirefox()
    const fox = firefox.page
    const [ana] = people as [Person]
    const link = roomLink(server.url)
    await ana.page.goto(link)
    await ana.page.waitForFunction(() => window.parley?.status === 'online', POLL)
    await fox.goto(link)
    await fox.waitForFunction(() => window.parley?.status === 'online', FIREFOX_POLL)
    const bot = terminal([link, '--name', 'Bot', '--json'])
    const first = await bot.next((l) => l.type === 'peer-connected', 30_000, 'a page connected')
    await bot.next((l) => l.type === 'peer-connected' && l.id !== first.id, 30_000, 'the other page connected')

    const fromBot = `terminal to both pages ${nanoid(6)}`
    bot.send({ text: fromBot })
    await Promise.all([waitForMessage(ana.page, fromBot), firefoxShows(fox, fromBot)])
    const fromAna = `Chromium to both ${nanoid(6)}`
    await say(ana.page, fromAna)
    expect(await bot.next(message(fromAna), 30_000, 'Ana’s line')).toMatchObject({ name: 'Ana', history: false })
    await firefoxShows(fox, fromAna)
    const fromFox = `Firefox to both ${nanoid(6)}`
    await firefoxSays(fox, fromFox)
    expect(await bot.next(message(fromFox), 30_000, 'the Firefox line')).toMatchObject({ history: false })
    await waitForMessage(ana.page, fromFox)
    expect(await bot.end()).toBe(0)
  })
})

describe('terminal errors', () => {
  it('refuses a link without its secret with exit code 2', async () => {
    const bot = terminal([`${server.url}/r/${randomRoom()}`, '--json'])
    expect(await bot.exited).toBe(2)
    expect(bot.stderr()).toContain('not a room link')
  })

  it('exits 1 with the code when the room is full', async () => {
    const small = await startServer({ iceServers: [], maxPeersPerRoom: 2 })
    try {
      const room = randomRoom()
      await join(small.api, room)
      await join(small.api, room)
      const bot = terminal([`${small.url}/r/${room}#${nanoid(22)}`, '--json'])
      expect(await bot.exited).toBe(1)
      expect(bot.lines).toContainEqual(expect.objectContaining({ type: 'error', code: 'ROOM_FULL' }))
    } finally {
      await small.close()
    }
  })

  it('keeps trying, and says so, while the server cannot be reached', async () => {
    const gone = await startServer({ iceServers: [] })
    const link = roomLink(gone.url)
    await gone.close()
    const bot = terminal([link, '--json'])
    expect(await bot.next((l) => l.type === 'error')).toMatchObject({ code: 'UNREACHABLE' })
    expect(bot.child.exitCode).toBeNull()
    expect(await bot.end()).toBe(0)
  })
})
