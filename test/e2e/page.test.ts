import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { networkInterfaces } from 'node:os'
import { nanoid } from 'nanoid'
import type { Page } from 'puppeteer'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { createApp } from '../../signaling/app'
import { axeFaults, closeAll, launchPeople, type Person, say, sayLines, setName, waitForConnected, waitForMessage } from '../browsers'
import { DIST_CLIENT, randomRoom, roomLink, startServer, TEST_SECRET, type TestServer } from '../helpers'

// The chat page as people meet it, on a phone and on a desktop, in light and dark: nothing wider than
// the screen, the message box always on it, text that arrives as written (formatted, never as HTML),
// no serious accessibility faults (axe-core), and an app shell that opens offline.
const VIEWPORTS = [
  { width: 320, height: 568 },
  { width: 390, height: 844 },
  { width: 1280, height: 800 },
]
const POLL = { polling: 50, timeout: 20_000 }

let server: TestServer
// One person per room fills it: the room-full state on demand.
let tiny: TestServer
let people: Person[] = []

beforeAll(async () => {
  ;[server, tiny, people] = await Promise.all([
    startServer({ iceServers: [], joinBurst: 1000 }),
    startServer({ iceServers: [], maxPeersPerRoom: 1 }),
    launchPeople(2),
  ])
  await Promise.all(
    people.map(async (person, i) => {
      await person.page.goto(server.url)
      await setName(person.page, ['Ana', 'Ben'][i]!)
    }),
  )
})
afterAll(async () => {
  await closeAll(people)
  await Promise.all([server?.close(), tiny?.close()])
})

/** What a person sees of the layout: nothing scrolls sideways, and (in a room) the message box is on screen. */
async function layout(page: Page) {
  return page.evaluate(() => {
    const box = document.querySelector('#room:not([hidden]) textarea[aria-label="Message"]')?.getBoundingClientRect()
    return {
      overflow: document.documentElement.scrollWidth > innerWidth,
      composerOnScreen: box ? box.top >= 0 && box.bottom <= innerHeight && box.left >= 0 && box.right <= innerWidth : null,
    }
  })
}

async function expectGoodState(page: Page, state: string, inRoom = true) {
  // Pending entries reach the page within a frame; measure after it.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))
  const seen = await layout(page)
  expect(seen.overflow, `${state}: wider than the screen`).toBe(false)
  if (inRoom) expect(seen.composerOnScreen, `${state}: message box off screen`).toBe(true)
  expect(await axeFaults(page), `${state}: axe`).toEqual([])
}

/** Sends one message of many lines at once (typing them would take a person's time). */
const submit = (page: Page, text: string) =>
  page.evaluate((text) => {
    const box = document.querySelector<HTMLTextAreaElement>('textarea[aria-label="Message"]')!
    box.value = text
    box.form!.requestSubmit()
  }, text)

const bannerShown = (page: Page, text: string) =>
  page.waitForFunction(
    (t) => !document.getElementById('banner')!.hidden && document.getElementById('banner')!.textContent!.includes(t),
    POLL,
    text,
  )

describe.each(VIEWPORTS)('at $width × $height', (viewport) => {
  it('every state fits the screen, keeps the message box on it and passes axe in light and dark', async () => {
    const [ana, ben] = people as [Person, Person]
    await Promise.all(people.map((p) => p.page.setViewport(viewport)))
    await ana.page.goto(server.url)
    await expectGoodState(ana.page, 'landing', false)

    const link = roomLink(server.url)
    await ana.page.goto(link)
    await ana.page.waitForFunction(() => window.parley?.status === 'online', POLL)
    await expectGoodState(ana.page, 'alone')

    await ben.page.goto(link)
    await Promise.all([waitForConnected(ana.page, 1), waitForConnected(ben.page, 1)])
    // Ana was there before Ben: he is not told she "joined".
    expect(await ben.page.$$eval('[role="log"] .notice', (ns) => ns.map((n) => n.textContent))).not.toContain('Ana joined')
    await say(ben.page, `A long word without breaks: ${'x'.repeat(120)} and https://example.com/${'y'.repeat(80)}`)
    await say(ana.page, 'Hi **Ben**, see `code` and _this_')
    await waitForMessage(ben.page, 'Hi **Ben**, see `code` and _this_')
    await ana.page.bringToFront()
    await expectGoodState(ana.page, 'chatting')

    // Private: choose Ben (in the drawer on a phone), write, and the composer says so.
    if (viewport.width < 700) {
      await ana.page.click('#panel-toggle')
      await expectGoodState(ana.page, 'people and settings drawer', false)
    }
    await ana.page.click('ul[aria-label="People"] li[data-peer] button.person-open')
    await say(ana.page, 'just for you')
    await waitForMessage(ben.page, 'just for you')
    await ana.page.bringToFront()
    expect(await ana.page.$eval('#private-bar', (bar) => !(bar as HTMLElement).hidden)).toBe(true)
    await expectGoodState(ana.page, 'private message')

    await ben.page.goto(`${server.url}/r/${randomRoom()}`)
    await bannerShown(ben.page, 'link is incomplete')
    expect(await ben.page.$eval('textarea[aria-label="Message"]', (box) => (box as HTMLTextAreaElement).disabled)).toBe(true)
    // Nothing that needs the room is offered: no invite, no empty colour picker; the theme stays.
    expect(
      await ben.page.$$eval('#share-section, .settings .needs-room, #theme', (all) => all.map((e) => e.closest('[hidden]') !== null)),
    ).toEqual([true, true, true, true, true, false])
    await expectGoodState(ben.page, 'banner (incomplete link)')

    const full = roomLink(tiny.url)
    await ana.page.goto(full)
    await ana.page.waitForFunction(() => window.parley?.status === 'online', POLL)
    await ben.page.goto(full)
    await bannerShown(ben.page, 'room is full')
    expect(await ben.page.$eval('#banner', (b) => b.textContent)).not.toContain('You left')
    expect(await ben.page.$eval('textarea[aria-label="Message"]', (box) => (box as HTMLTextAreaElement).disabled)).toBe(true)
    await expectGoodState(ben.page, 'room full')

    const doomed = await startServer({ iceServers: [] })
    await ben.page.goto(roomLink(doomed.url))
    await ben.page.waitForFunction(() => window.parley?.status === 'online', POLL)
    await doomed.close()
    await bannerShown(ben.page, 'Cannot reach the Parley server')
    expect(await ben.page.$eval('textarea[aria-label="Message"]', (box) => (box as HTMLTextAreaElement).disabled)).toBe(false)
    await expectGoodState(ben.page, 'server unreachable')
    await Promise.all(people.map((p) => p.page.setViewport({ width: 800, height: 600 })))
  })
})

describe('messages', () => {
  it('keep new lines, arrive with links, and render formatting as nodes, never HTML', async () => {
    const [ana, ben] = people as [Person, Person]
    const link = roomLink(server.url)
    await Promise.all(people.map((p) => p.page.goto(link)))
    await Promise.all(people.map((p) => waitForConnected(p.page, 1)))

    await sayLines(ana.page, ['first line', 'second line'])
    await waitForMessage(ben.page, 'first line\nsecond line')
    // Read as "name, time: text", each part apart (the separators are there for screen readers).
    const entry = (await ben.page.$('[role="log"] .message'))!
    type Node = { role: string; name?: string; children?: Node[] }
    const texts = (node: Node | null): string[] =>
      !node ? [] : node.role === 'StaticText' ? [node.name ?? ''] : (node.children ?? []).flatMap(texts)
    const read = texts(await ben.page.accessibility.snapshot({ root: entry, interestingOnly: false }))
      .join('')
      .replace(/\s+/g, ' ')
    expect(read).toMatch(/^Ana, ?\d{1,2}:\d{2}( [AP]M)?: ?first line second line$/)

    const url = `https://example.com/a_b_c?q=${nanoid(6)}`
    await say(ana.page, `see ${url}.`)
    await waitForMessage(ben.page, `see ${url}.`)
    const anchor = await ben.page.$$eval('[role="log"] .message .text a', (as) =>
      as.map((a) => ({ href: a.getAttribute('href'), rel: a.getAttribute('rel'), target: a.getAttribute('target'), text: a.textContent })),
    )
    expect(anchor).toEqual([{ href: url, rel: 'noopener noreferrer', target: '_blank', text: url }])

    const hostile = 'javascript:alert(1) <img src=x onerror=alert(1)> **bold** _it_ `x<b>y</b>`'
    await say(ana.page, hostile)
    await waitForMessage(ben.page, hostile)
    const rendered = await ben.page.$$eval('[role="log"] .message .text', (texts) => {
      const text = texts.at(-1)!
      return {
        images: text.querySelectorAll('img').length,
        links: text.querySelectorAll('a').length,
        bold: text.querySelector('strong')?.textContent,
        italic: text.querySelector('em')?.textContent,
        code: text.querySelector('code')?.textContent,
        b: text.querySelectorAll('b').length,
      }
    })
    // The markers stay in the text (hidden), so the text is exactly what was sent.
    expect(rendered).toEqual({ images: 0, links: 0, bold: '**bold**', italic: '_it_', code: 'x<b>y</b>', b: 0 })
    const spoken = await ben.page.$$eval('[role="log"] .message', (entries) => {
      // biome-ignore lint/performance/useDomNodeTextContent: innerText is the point: the text as rendered, hidden markers dropped.
      const shown = (entries.at(-1) as HTMLElement).innerText
      return shown.replace(/\s+/g, ' ')
    })
    expect(spoken).toContain('bold it x<b>y</b>')
    expect([...ana.errors, ...ben.errors]).toEqual([])
  })
})

describe('the room page', () => {
  it('offers new messages with a count when scrolled up, and jumps to them', async () => {
    const [ana, ben] = people as [Person, Person]
    const link = roomLink(server.url)
    await Promise.all(people.map((p) => p.page.goto(link)))
    await Promise.all(people.map((p) => waitForConnected(p.page, 1)))
    // Shown again with nothing unread, the tab keeps its favicon rather than setting (and fetching) it anew.
    const faviconSets = await ana.page.evaluate(() => {
      const watcher = new MutationObserver(() => {})
      watcher.observe(document.getElementById('favicon')!, { attributes: true })
      document.dispatchEvent(new Event('visibilitychange'))
      const records = watcher.takeRecords().length
      watcher.disconnect()
      return records
    })
    expect(faviconSets).toBe(0)
    const tall = Array.from({ length: 60 }, (_, i) => `line ${i}`).join('\n')
    await submit(ben.page, tall)
    await waitForMessage(ana.page, tall)
    await ana.page.bringToFront()
    await ana.page.$eval('[role="log"]', (log) => log.scrollTo(0, 0))
    await ana.page.waitForFunction(() => document.querySelector('[role="log"]')!.scrollTop === 0, POLL)
    await say(ben.page, 'one')
    await say(ben.page, 'two')
    await ana.page.bringToFront()
    await ana.page.waitForFunction(() => document.getElementById('jump')!.textContent === '2 new messages ↓', POLL)
    await ana.page.click('#jump')
    const after = await ana.page.$eval('[role="log"]', (log) => ({
      gap: log.scrollHeight - log.scrollTop - log.clientHeight,
      jump: (document.getElementById('jump') as HTMLElement).hidden,
    }))
    expect(after.gap).toBeLessThan(2)
    expect(after.jump).toBe(true)

    // By keyboard: from the log, arrows walk the messages, and the focused one shows its full date.
    await ana.page.focus('[role="log"]')
    await ana.page.keyboard.press('ArrowUp')
    const focused = await ana.page.evaluate(() => {
      const entry = document.activeElement as HTMLElement
      return { text: entry.querySelector('.text')?.textContent, date: getComputedStyle(entry.querySelector('.when')!, '::after').content }
    })
    expect(focused.text).toBe('two')
    expect(focused.date).toContain(String(new Date().getFullYear()))
  })

  it('counts only the new lines it still holds when a flood pushes the oldest out while the reader is scrolled up', async () => {
    const [ana, ben] = people as [Person, Person]
    const link = roomLink(server.url)
    // Six tabs of Ben's browser are six people to Ana, each within its own burst budget (400 messages).
    const tabs = [ben.page, ...(await Promise.all(Array.from({ length: 5 }, () => ben.browser.newPage())))]
    onTestFinished(() => Promise.all(tabs.slice(1).map((tab) => tab.close())).then(() => {}))
    await Promise.all([ana, ...tabs].map((p) => ('page' in p ? p.page : p).goto(link)))
    await waitForConnected(ana.page, tabs.length)
    const tall = Array.from({ length: 60 }, (_, i) => `line ${i}`).join('\n')
    await submit(ben.page, tall)
    // Every line said from now on comes after it, for every tab.
    await Promise.all([ana.page, ...tabs].map((page) => waitForMessage(page, tall)))
    await ana.page.bringToFront()
    await ana.page.$eval('[role="log"]', (log) => log.scrollTo(0, 0))
    await ana.page.waitForFunction(() => document.querySelector('[role="log"]')!.scrollTop === 0, POLL)
    const shows = (page: Page, text: string) =>
      page.waitForFunction(
        (text) => [...document.querySelectorAll('[role="log"] .message .text')].some((e) => e.textContent === text),
        { polling: 100, timeout: 30_000 },
        text,
      )
    // All at once: lines said at the same time go in among each other (in Lamport order), below the
    // view all the same, so every one of them is new.
    await Promise.all(
      tabs.map((tab, t) =>
        tab.evaluate((t) => {
          for (let i = 1; i <= 5; i++) window.parley!.send(`together ${t} ${i}`)
        }, t),
      ),
    )
    await Promise.all(tabs.map((_, t) => shows(ana.page, `together ${t} 5`)))
    expect(await ana.page.$eval('#jump', (jump) => jump.textContent)).toBe(`${tabs.length * 5} new messages ↓`)

    // Then one tab after another, each having seen the last one's lines: every line is the newest when
    // it arrives.
    const PER_TAB = 390
    for (const [t, tab] of tabs.entries()) {
      await tab.evaluate(
        (t, n) => {
          for (let i = 0; i < n; i++) window.parley!.send(`flood ${t} ${i}`)
        },
        t,
        PER_TAB,
      )
      await Promise.all([ana.page, tabs[t + 1]].flatMap((page) => (page ? [shows(page, `flood ${t} ${PER_TAB - 1}`)] : [])))
    }
    const seen = await ana.page.evaluate(() => ({
      lines: document.querySelectorAll('[role="log"] .message').length,
      unseen: document.querySelectorAll('[role="log"] [data-unseen]').length,
      jump: document.getElementById('jump')!.textContent,
    }))
    // The log keeps 2,000 lines: some of the flood is forgotten unseen, and the count says what is left.
    expect(seen.lines).toBeLessThanOrEqual(2_000)
    expect(seen.unseen).toBeGreaterThan(1_000)
    expect(seen.jump).toBe(`${seen.unseen} new messages ↓`)
    expect(ana.errors).toEqual([])
  })

  it('keeps the lines a reader scrolled up to in place while a busy room goes on below', async () => {
    const [ana, ben] = people as [Person, Person]
    const link = roomLink(server.url)
    // Two of Ben's tabs: each is a person to Ana, with a burst budget of its own.
    const other = await ben.browser.newPage()
    onTestFinished(() => other.close())
    await Promise.all([ana.page, ben.page, other].map((page) => page.goto(link)))
    await waitForConnected(ana.page, 2)
    const sayMany = (page: Page, prefix: string, n: number) =>
      page.evaluate(
        (prefix, n) => {
          for (let i = 0; i < n; i++) window.parley!.send(`${prefix} ${i}`)
        },
        prefix,
        n,
      )
    await sayMany(ben.page, 'read', 300)
    // Ben's other tab has them all before it speaks: its lines come after every one of them.
    await Promise.all([ana.page, other].map((page) => waitForMessage(page, 'read 299')))
    await ana.page.bringToFront()
    // Where the text of the line at the top of the view is (it may gain its sender's name above it).
    const where = () =>
      ana.page.evaluate(() => {
        const text = [...document.querySelectorAll<HTMLElement>('[role="log"] .message .text')].find((e) => e.textContent === 'read 30')!
        const log = document.querySelector('[role="log"]')!
        return { shown: text.offsetParent !== null, top: text.getBoundingClientRect().top - log.getBoundingClientRect().top }
      })
    await ana.page.evaluate(async () => {
      const text = [...document.querySelectorAll<HTMLElement>('[role="log"] .message .text')].find((e) => e.textContent === 'read 30')!
      text.closest('.message')!.scrollIntoView({ block: 'start', behavior: 'instant' })
      // The scroll event (the reader is no longer at the newest line) comes before the next frame.
      await new Promise((frame) => requestAnimationFrame(frame))
    })
    const before = await where()
    // 150 more lines below: past the 100 the log adds before it holds back its oldest.
    await sayMany(other, 'later', 150)
    await ana.page.waitForFunction(() => document.getElementById('jump')!.textContent === '150 new messages ↓', POLL)
    const after = await where()
    expect(before.shown).toBe(true)
    expect(after.shown).toBe(true)
    expect(Math.abs(after.top - before.top)).toBeLessThan(2)
    // What was above the view is held back all the same.
    expect(await ana.page.$eval('[role="log"] .held', (held) => held.childElementCount)).toBeGreaterThan(0)
    // "Show earlier" brings them back above, and the newest of them takes the focus; none goes again.
    await ana.page.click('[role="log"] .earlier')
    await ana.page.evaluate(() => new Promise((frame) => requestAnimationFrame(() => requestAnimationFrame(frame))))
    const shown = await ana.page.evaluate(() => ({
      focused: document.activeElement?.querySelector('.text')?.textContent,
      visible: (document.activeElement as HTMLElement).offsetParent !== null,
      held: document.querySelector('[role="log"] .held')!.childElementCount,
    }))
    expect(shown).toEqual({ focused: 'read 29', visible: true, held: 0 })
    expect((await where()).shown).toBe(true)
  })

  it('on a touch screen Enter starts a new line and Send (or Ctrl+Enter) sends; with a keyboard Enter sends', async () => {
    const [ana, ben] = people as [Person, Person]
    const link = roomLink(server.url)
    const phone = await ana.browser.newPage()
    onTestFinished(() => phone.close())
    await phone.setViewport({ width: 390, height: 844, deviceScaleFactor: 2, isMobile: true, hasTouch: true })
    await Promise.all([phone.goto(link), ben.page.goto(link)])
    await waitForConnected(phone, 1)
    await phone.focus('[aria-label="Message"]')
    await phone.keyboard.type('first')
    await phone.keyboard.press('Enter')
    await phone.keyboard.type('second')
    expect(await phone.$eval('[aria-label="Message"]', (box) => (box as HTMLTextAreaElement).value)).toBe('first\nsecond')
    await phone.tap('#send')
    await waitForMessage(ben.page, 'first\nsecond')
    // A keyboard attached to the tablet: Ctrl+Enter sends.
    await phone.keyboard.type('by Ctrl+Enter')
    await phone.keyboard.down('Control')
    await phone.keyboard.press('Enter')
    await phone.keyboard.up('Control')
    await waitForMessage(ben.page, 'by Ctrl+Enter')
    await ben.page.bringToFront()
    await ben.page.focus('[aria-label="Message"]')
    await ben.page.keyboard.type('sent by Enter')
    await ben.page.keyboard.press('Enter')
    await waitForMessage(phone, 'sent by Enter')
  })

  it('opens after a reload with the message box focused and the newest line in view, its history included', async () => {
    const [ana, ben] = people as [Person, Person]
    const link = roomLink(server.url)
    await Promise.all(people.map((p) => p.page.goto(link)))
    await Promise.all(people.map((p) => waitForConnected(p.page, 1)))
    const tall = Array.from({ length: 60 }, (_, i) => `row ${i}`).join('\n')
    await submit(ben.page, tall)
    await waitForMessage(ana.page, tall)
    // The page stays hidden while its join runs (reveal.ts); what was set meanwhile must hold once shown.
    await ana.page.reload()
    await waitForConnected(ana.page, 1)
    await waitForMessage(ana.page, tall)
    await ana.page.waitForFunction(() => {
      const log = document.querySelector('[role="log"]')!
      return log.scrollHeight > log.clientHeight && log.scrollHeight - log.scrollTop - log.clientHeight < 2
    }, POLL)
    expect(await ana.page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Message')
  })

  it('holds older lines back in steps, and groups lines by sender and minute as they arrive', async () => {
    const [ana, ben] = people as [Person, Person]
    const link = roomLink(server.url)
    await Promise.all(people.map((p) => p.page.goto(link)))
    await Promise.all(people.map((p) => waitForConnected(p.page, 1)))
    // Within the 400-message burst every peer is allowed, then 100 a second (budget.ts).
    const send = (from: number, count: number) =>
      ben.page.evaluate(
        async (first, n) => {
          for (let i = first; i < first + n; i++) {
            window.parley!.send(`flood ${i}`)
            if (i % 10 === 9) await new Promise((r) => setTimeout(r, 50))
          }
        },
        from,
        count,
      )
    await send(0, 200)
    await say(ana.page, 'between')
    await send(200, 250)
    await waitForMessage(ana.page, 'flood 449')
    await ana.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))
    const seen = await ana.page.$eval('[role="log"]', (log) => {
      const entries = [...log.children].filter((e) => e.classList.contains('message')) as HTMLElement[]
      const wrong: string[] = []
      let previous: HTMLElement | undefined
      for (const entry of [...log.children] as HTMLElement[]) {
        if (!entry.dataset.time) {
          if (entry.classList.contains('day')) previous = undefined
          continue
        }
        const grouped = previous?.dataset.from === entry.dataset.from && previous?.dataset.minute === entry.dataset.minute
        if (entry.classList.contains('grouped') !== grouped) wrong.push(entry.textContent ?? '')
        previous = entry
      }
      return {
        rendered: entries.length,
        held: log.querySelectorAll('.held .message').length,
        days: [...log.children].filter((e) => e.classList.contains('day')).map((e) => e.textContent),
        firstIsDay: log.querySelector(':scope > .day + .message') !== null,
        wrong,
      }
    })
    expect(seen.rendered + seen.held).toBe(451)
    expect(seen.rendered).toBeGreaterThanOrEqual(300)
    expect(seen.rendered).toBeLessThanOrEqual(400)
    expect(seen.held).toBeGreaterThan(0)
    expect(seen.days).toEqual(['Today'])
    expect(seen.firstIsDay).toBe(true)
    expect(seen.wrong).toEqual([])
  })

  it('keeps a chosen theme across visits, paints the log opaque in each, and counts private messages per person', async () => {
    const [ana, ben] = people as [Person, Person]
    const link = roomLink(server.url)
    await Promise.all(people.map((p) => p.page.goto(link)))
    await Promise.all(people.map((p) => waitForConnected(p.page, 1)))
    await ana.page.select('select[aria-label="Theme"]:not(#landing-theme)', 'dark')
    await ana.page.reload()
    const scheme = () => ana.page.evaluate(() => getComputedStyle(document.documentElement).colorScheme)
    // The log is painted opaque, in the page's own colour: Chromium repaints a see-through scroller whole at every new line.
    const logBackground = () =>
      ana.page.evaluate(() => [
        getComputedStyle(document.getElementById('messages')!).backgroundColor,
        getComputedStyle(document.documentElement).backgroundColor,
      ])
    expect(await scheme()).toBe('dark')
    expect(await logBackground()).toEqual(['rgb(21, 22, 26)', 'rgb(21, 22, 26)'])
    await ana.page.select('select[aria-label="Theme"]:not(#landing-theme)', 'light')
    expect(await scheme()).toBe('light')
    expect(await logBackground()).toEqual(['rgb(243, 244, 247)', 'rgb(243, 244, 247)'])
    await ana.page.select('select[aria-label="Theme"]:not(#landing-theme)', 'system')
    await waitForConnected(ana.page, 1)

    // Ben writes to Ana privately twice: her People list counts them until she answers him.
    await ben.page.click('ul[aria-label="People"] li[data-peer] button.person-open')
    await say(ben.page, 'psst')
    await say(ben.page, 'psst again')
    await waitForMessage(ana.page, 'psst again')
    const unread = () => ana.page.$eval('ul[aria-label="People"] li .unread', (u) => ((u as HTMLElement).hidden ? '' : u.textContent))
    expect(await unread()).toBe('2 unread')
    await ana.page.click('ul[aria-label="People"] li[data-peer] button.person-open')
    expect(await unread()).toBe('')
  })

  // The join does not wait for the key: late, its failure comes after the join was answered.
  it.each([0, 400])('says a browser without Ed25519 signatures must be updated, and leaves the room (told %i ms late)', async (lateMs) => {
    const page = await people[0]!.browser.newPage()
    try {
      // As in Chromium before 137 or Firefox before 130: WebCrypto does not know the algorithm.
      await page.evaluateOnNewDocument(`{
        const generateKey = crypto.subtle.generateKey.bind(crypto.subtle)
        const refused = () => new DOMException('Unrecognized name.', 'NotSupportedError')
        crypto.subtle.generateKey = (algorithm, ...rest) =>
          (algorithm?.name ?? algorithm) === 'Ed25519'
            ? new Promise((_, reject) => setTimeout(() => reject(refused()), ${lateMs}))
            : generateKey(algorithm, ...rest)
      }`)
      await page.goto(roomLink(server.url))
      await bannerShown(page, 'cannot make Ed25519 signatures')
      expect(await page.evaluate(() => window.parley?.status)).toBe('closed')
      expect(await page.$eval('textarea[aria-label="Message"]', (box) => (box as HTMLTextAreaElement).disabled)).toBe(true)
    } finally {
      await page.close()
    }
  })

  it('says WebRTC is switched off in this browser, instead of joining a room it could not talk in', async () => {
    const page = await people[0]!.browser.newPage()
    try {
      // As in Firefox with media.peerconnection.enabled off, or Tor Browser.
      await page.evaluateOnNewDocument(() => delete (window as { RTCPeerConnection?: unknown }).RTCPeerConnection)
      await page.goto(roomLink(server.url))
      await bannerShown(page, 'WebRTC, which this browser has turned off')
      expect(await page.evaluate(() => window.parley)).toBeUndefined()
      expect(await page.$eval('textarea[aria-label="Message"]', (box) => (box as HTMLTextAreaElement).disabled)).toBe(true)
    } finally {
      await page.close()
    }
  })

  it('says on the first page, before anything is created, that a plain-HTTP address cannot work', async () => {
    const lan = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address
    if (!lan) return // a machine with loopback only has no insecure address to try
    const app = createApp({ secret: TEST_SECRET, staticDir: DIST_CLIENT, iceServers: [] })
    const http = createServer(app.handler)
    await new Promise<void>((resolve) => http.listen(0, lan, resolve))
    try {
      const [ana] = people as [Person]
      await ana.page.goto(`http://${lan}:${(http.address() as AddressInfo).port}/`)
      await ana.page.waitForFunction(() => !document.getElementById('insecure')!.hidden, POLL)
      expect(await ana.page.$eval('#create', (b) => (b as HTMLButtonElement).disabled)).toBe(true)
      expect(await ana.page.evaluate(() => window.isSecureContext)).toBe(false)
      expect(await axeFaults(ana.page)).toEqual([])
    } finally {
      app.close()
      http.closeAllConnections()
      await new Promise((resolve) => http.close(resolve))
    }
  })
})

describe('your name', () => {
  it('is a placeholder guest name until chosen (also for a guest name an earlier page saved), so typing replaces it, and the room uses what the field shows', async () => {
    const [ana, ben] = people as [Person, Person]
    onTestFinished(() => ana.page.evaluate(() => localStorage.setItem('parley:name', 'Ana')))
    await ana.page.goto(server.url)
    // As an earlier page left it: the guest name it offered, saved as if chosen.
    await ana.page.evaluate(() => {
      localStorage.setItem('parley:name', 'Guest 512')
      localStorage.removeItem('parley:guest')
    })
    await ana.page.goto(server.url)
    const field = (id: string) =>
      ana.page.$eval(`#${id}`, (e) => ({ value: (e as HTMLInputElement).value, placeholder: (e as HTMLInputElement).placeholder }))
    const fresh = await field('landing-name')
    // The earlier page's guest name stays this person's: nobody sees them renamed.
    expect(fresh).toEqual({ value: '', placeholder: 'Guest 512' })
    const seenByBen = (name: string) =>
      ben.page.waitForFunction((n) => document.querySelector('#people .person-name')?.textContent === n, POLL, name)

    // Left empty: the room uses the guest name shown, and the room's own field shows it the same way.
    const link = roomLink(server.url)
    await Promise.all([ana.page.goto(link), ben.page.goto(link)])
    await seenByBen(fresh.placeholder)
    expect(await field('name')).toEqual(fresh)

    await ana.page.goto(server.url)
    expect(await ana.page.evaluate(() => document.activeElement?.id)).toBe('landing-name')
    await ana.page.keyboard.type('Fiona')
    expect(await field('landing-name')).toEqual({ value: 'Fiona', placeholder: fresh.placeholder })
    await ana.page.goto(link)
    await seenByBen('Fiona')
    expect(await field('name')).toEqual({ value: 'Fiona', placeholder: fresh.placeholder })
  })
})

describe('the People list', () => {
  it('shortens a long name instead of widening every row, on a phone and on a desktop', async () => {
    const [ana, ben] = people as [Person, Person]
    const long = 'W'.repeat(40)
    const link = roomLink(server.url)
    await Promise.all(people.map((p) => p.page.goto(link)))
    await Promise.all(people.map((p) => waitForConnected(p.page, 1)))
    onTestFinished(() => ben.page.evaluate(() => localStorage.setItem('parley:name', 'Ben')))
    await setName(ben.page, long)
    await ana.page.waitForFunction((n) => document.querySelector('#people .person-name')?.textContent === n, POLL, long)
    for (const viewport of [
      { width: 390, height: 844 },
      { width: 1280, height: 800 },
    ]) {
      await ana.page.setViewport(viewport)
      if (viewport.width < 700) await ana.page.click('#panel-toggle')
      await ana.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))
      const seen = await ana.page.evaluate(() => {
        const panel = document.getElementById('panel')!
        const box = panel.getBoundingClientRect()
        return {
          sideways: panel.scrollWidth > panel.clientWidth,
          statesInside: [...panel.querySelectorAll('#people .state')].map((s) => {
            const r = s.getBoundingClientRect()
            return r.width > 0 && r.left >= box.left && r.right <= box.right
          }),
          shortened: [...panel.querySelectorAll<HTMLElement>('#people .person-name')].map((n) => n.scrollWidth > n.clientWidth),
        }
      })
      expect(seen, `${viewport.width} px`).toEqual({ sideways: false, statesInside: [true], shortened: [true] })
      expect(await ana.page.$eval('#people button.person-open', (b) => b.title)).toContain(long)
    }
    await ana.page.setViewport({ width: 800, height: 600 })
  })
})

describe('files', () => {
  it('show sizes people read, the sender its own image, and cancel on both sides', async () => {
    const [ana, ben] = people as [Person, Person]
    const link = roomLink(server.url)
    await Promise.all(people.map((p) => p.page.goto(link)))
    await Promise.all(people.map((p) => waitForConnected(p.page, 1)))
    await say(ana.page, 'files coming')
    await waitForMessage(ben.page, 'files coming')
    const entry = (name: string) => `[role="log"] .message.file[data-name="${name}"]`
    // Files as a person picks them: through the page's own file input.
    await ana.page.evaluate(() => {
      const transfer = new DataTransfer()
      const png = Uint8Array.from(
        atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='),
        (c) => c.charCodeAt(0),
      )
      transfer.items.add(new File([png], 'dot.png', { type: 'image/png' }))
      transfer.items.add(new File([new Uint8Array(1536)], 'notes.bin'))
      transfer.items.add(new File(['%PDF'], 'quarterly_report_final_v2_REALLY_FINAL_with_a_very_long_file_name.pdf'))
      const input = document.getElementById('file') as HTMLInputElement
      input.files = transfer.files
      input.dispatchEvent(new Event('change'))
    })
    for (const page of [ana.page, ben.page]) {
      await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('data-state') === 'done', POLL, entry('notes.bin'))
      expect(await page.$eval(`${entry('notes.bin')} .file-state`, (e) => e.textContent)).toBe('1.5 KB')
    }
    // A long name reaches the receiver whole, extension and all: shown, and what Save names the file.
    const report = 'quarterly_report_final_v2_REALLY_FINAL_with_a_very_long_file_name.pdf'
    await ben.page.waitForSelector(`[role="log"] .message.file[data-state="done"] a[download="${report}"]`, POLL)
    expect(await ben.page.$$eval('[role="log"] .message.file .file-name', (names) => names.map((n) => n.textContent))).toContain(report)
    await ana.page.waitForFunction(
      (s) => (document.querySelector(`${s} img.preview`) as HTMLImageElement | null)?.naturalWidth === 1,
      POLL,
      entry('dot.png'),
    )

    // A big file, cancelled by its sender as soon as it starts: both sides say so.
    await ana.page.evaluate(() => {
      const transfer = new DataTransfer()
      transfer.items.add(new File([new Uint8Array(60 * 1024 * 1024)], 'big.bin'))
      const input = document.getElementById('file') as HTMLInputElement
      input.files = transfer.files
      input.dispatchEvent(new Event('change'))
    })
    await ana.page.locator(`${entry('big.bin')} button.cancel`).click()
    for (const page of [ana.page, ben.page]) {
      await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('data-state') === 'cancelled', POLL, entry('big.bin'))
      expect(await page.$eval(`${entry('big.bin')} .file-state`, (e) => e.textContent)).toBe('cancelled')
      expect(await page.$$(`${entry('big.bin')} button.cancel`)).toHaveLength(0)
    }
  })
})

describe('the app shell', () => {
  it('runs the extras once the room has settled (alone: at once) and installs the shell once connected to everyone', async () => {
    type Seen = { qr?: number; register?: number }
    // When the QR code (drawn by the extras) got its image and when the service worker was registered, on the page's clock.
    const watch = () => {
      const seen: Seen = {}
      ;(window as unknown as { __settle: Seen }).__settle = seen
      const register = ServiceWorkerContainer.prototype.register
      ServiceWorkerContainer.prototype.register = function (this: ServiceWorkerContainer, ...args: Parameters<typeof register>) {
        seen.register ??= performance.now()
        return register.apply(this, args)
      }
      new MutationObserver(() => {
        if (document.getElementById('qr')?.getAttribute('src')) seen.qr ??= performance.now()
      }).observe(document, { subtree: true, attributes: true, attributeFilter: ['src'] })
    }
    const times = (page: Page) =>
      page.evaluate(() => {
        const at = (name: string) => performance.getEntriesByName(`parley:${name}`)[0]?.startTime
        const seen = (window as unknown as { __settle: Seen }).__settle
        return { ...seen, settled: at('settled'), connected: at('connected') }
      })
    const registered = (page: Page) => page.waitForFunction(() => (window as unknown as { __settle: Seen }).__settle.register, POLL)
    const scripts = await Promise.all(people.map((p) => p.page.evaluateOnNewDocument(watch)))
    onTestFinished(async () => {
      await Promise.all(people.map((p, i) => p.page.removeScriptToEvaluateOnNewDocument(scripts[i]!.identifier)))
    })
    const local = await startServer({ iceServers: [] })
    onTestFinished(() => local.close())
    const [ana, ben] = people as [Person, Person]
    const link = roomLink(local.url)
    await ana.page.goto(link)
    // Nobody to connect to: no press needed.
    await ana.page.waitForFunction(() => document.getElementById('qr')?.getAttribute('src')?.startsWith('data:image/png'), POLL)
    const alone = await times(ana.page)
    expect(alone.settled).toBeGreaterThan(0)
    expect(alone.connected).toBeUndefined()
    expect(alone.qr).toBeGreaterThanOrEqual(alone.settled!)
    // Alone, the shell waits (its install would compete with whoever joins next).
    expect(alone.register).toBeUndefined()

    await ben.page.goto(link)
    await waitForConnected(ben.page, 1)
    await registered(ben.page)
    const joined = await times(ben.page)
    expect(joined.settled).toBeGreaterThanOrEqual(joined.connected!)
    expect(joined.register).toBeGreaterThanOrEqual(joined.settled!)
    if (joined.qr !== undefined) expect(joined.qr).toBeGreaterThanOrEqual(joined.settled!)
  })

  it('registers a service worker, and opens with recent rooms while the server is down', async () => {
    const [ana] = people as [Person]
    const local = await startServer({ iceServers: [] })
    try {
      const link = `${roomLink(local.url)}~${encodeURIComponent('Shell test')}`
      await ana.page.goto(link)
      await ana.page.waitForFunction(() => window.parley?.status === 'online', POLL)
      await ana.page.goto(local.url)
      // Installed and active (the shell cached), then a page load it controls from the start.
      await ana.page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined))
      await ana.page.reload()
      await ana.page.waitForFunction(() => navigator.serviceWorker.controller !== null, POLL)
      // The API goes straight to the network, not through the worker (its static route, sw.ts): a goodbye
      // sent by beacon through it as its page went was seen lost. A keepalive POST of plain text to /leave, as
      // a beacon is (the route matches on the URL alone): a join cancel, 204 for a nonce on a fresh server.
      // Chromium's Resource Timing says which way it went.
      const api = `${local.api}/leave`
      await ana.page.evaluate(
        (url) => fetch(url, { method: 'POST', body: '{"nonce":"0123456789abcdefABCDEF"}', keepalive: true }).then(() => undefined),
        api,
      )
      await ana.page.waitForFunction((url) => performance.getEntriesByName(url).length > 0, POLL, api)
      const route = await ana.page.evaluate(
        (url) =>
          (performance.getEntriesByName(url)[0] as PerformanceResourceTiming & { workerMatchedSourceType?: string })
            .workerMatchedSourceType,
        api,
      )
      expect(route).toBe('network')
      await local.close()
      await ana.page.reload()
      await ana.page.waitForFunction(() => !document.getElementById('landing')!.hidden, POLL)
      const recent = await ana.page.$$eval('#recent a', (as) => as.map((a) => ({ href: a.getAttribute('href'), text: a.textContent })))
      expect(recent[0]).toMatchObject({ href: link })
      expect(recent[0]!.text).toContain('Shell test')
    } finally {
      await local.close().catch(() => {})
    }
  })
})
