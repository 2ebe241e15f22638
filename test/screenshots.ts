// `npm run screenshots`: the chat page as people see it, on a phone (390 × 844) and a desktop
// (1280 × 800), light and dark, written to client/page/screenshots/ (the README shows some of them).
import { mkdirSync } from 'node:fs'
import type { Page } from 'puppeteer'
import { closeAll, launchPeople, say, sayLines, setName, waitForConnected, waitForMessage } from './browsers'
import { roomLink, startServer } from './helpers'

const OUT = new URL('../client/page/screenshots/', import.meta.url).pathname
const VIEWPORTS = {
  phone: { width: 390, height: 844, deviceScaleFactor: 2, isMobile: true, hasTouch: true },
  desktop: { width: 1280, height: 800 },
}
const POLL = { polling: 50, timeout: 20_000 }

mkdirSync(OUT, { recursive: true })
const server = await startServer({ iceServers: [] })
const [ana, ben] = await launchPeople(2)
if (!ana || !ben) throw new Error('no browsers')

const focusOn = (page: Page, text: string) =>
  page.evaluate(
    (t) =>
      [...document.querySelectorAll<HTMLElement>('[role="log"] .message')]
        .find((e) => e.querySelector('.text')?.textContent === t)
        ?.focus(),
    text,
  )

async function shoot(page: Page, name: string) {
  // Not where the last click left it: a pointer resting over a message shows that message's actions.
  await page.mouse.move(0, 0)
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: scheme }])
    await page.screenshot({ path: `${OUT}${name}-${scheme}.png` })
  }
}

try {
  for (const [device, viewport] of Object.entries(VIEWPORTS)) {
    await Promise.all([ana.page.setViewport(viewport), ben.page.setViewport(viewport)])
    await ana.page.goto(server.url)
    await setName(ana.page, 'Ana')
    await ben.page.goto(server.url)
    await setName(ben.page, 'Ben')
    await shoot(ana.page, `${device}-landing`)
    const link = roomLink(server.url).replace(/#.*/, (hash) => `${hash}~${encodeURIComponent('Weekend trip')}`)
    await ana.page.goto(link)
    await ana.page.waitForFunction(() => window.parley?.status === 'online', POLL)
    // Alone, the page's extras (and with them the QR code) come a moment after joining (client/page/later.ts).
    await ana.page.waitForSelector('#qr[src]', { timeout: POLL.timeout })
    await shoot(ana.page, `${device}-alone`)
    await ben.page.goto(link)
    await waitForConnected(ana.page, 1)
    await say(ana.page, 'Hi Ben! Are we still on for **Saturday**?')
    await say(ben.page, 'Yes! Train leaves at 9:40, tickets here: https://example.com/tickets')
    await say(ben.page, 'Bring the `gpx` file for the _second_ day')
    await sayLines(ana.page, ['Will do:', '```', 'route: lakes-loop.gpx', 'length: 23 km', '```'])
    await waitForMessage(ben.page, 'Will do:\n```\nroute: lakes-loop.gpx\nlength: 23 km\n```')
    await ana.page.bringToFront()
    await shoot(ana.page, `${device}-chatting`)
    // A reply with its quote, reactions, an edit and a mention; the actions of the message in focus.
    await focusOn(ben.page, 'Hi Ben! Are we still on for **Saturday**?')
    await ben.page.click('#actions [data-act="reply"]')
    await ben.page.keyboard.type('Sure! @A')
    await ben.page.waitForSelector('#mentions button')
    await shoot(ben.page, `${device}-reply-mention`)
    await say(ben.page, 'Sure! @Ana I will be at the station at 9:30')
    await focusOn(ben.page, 'Hi Ben! Are we still on for **Saturday**?')
    await ben.page.click('#actions [data-act="react"]')
    await ben.page.click('#actions [aria-label="React with 👍"]')
    await ana.page.evaluate(() => {
      const entry = [...document.querySelectorAll<HTMLElement>('[role="log"] .message')].find((e) =>
        e.textContent?.includes('tickets here'),
      )
      return window.parley!.react(entry!.dataset.id!, '🎉', true)
    })
    await focusOn(ana.page, 'Hi Ben! Are we still on for **Saturday**?')
    await ana.page.click('#actions [data-act="edit"]')
    await say(ana.page, 'Hi Ben! Are we still on for **Saturday** morning?')
    await ana.page.waitForFunction(
      () => document.querySelectorAll('[role="log"] .reactions').length === 2 && document.querySelector('.mentions-me'),
      POLL,
    )
    await focusOn(ana.page, 'Will do:\n```\nroute: lakes-loop.gpx\nlength: 23 km\n```')
    await ana.page.click('#actions [data-act="react"]')
    await shoot(ana.page, `${device}-conversation`)
    await ana.page.keyboard.press('Escape')
    if (device === 'desktop') {
      await ana.page.type('#search', 'station')
      await shoot(ana.page, `${device}-search`)
    }
    if (device === 'phone') {
      await ana.page.click('#panel-toggle')
      await shoot(ana.page, `${device}-people`)
    }
    // Choosing a person (in the drawer on a phone) starts a private message to them.
    await ana.page.click(`ul[aria-label="People"] li button`)
    await sayLines(ana.page, ['Just between us: I booked the window seats'])
    await waitForMessage(ben.page, 'Just between us: I booked the window seats')
    await shoot(ana.page, `${device}-private`)
    await ben.page.goto(`${server.url}/r/no-secret-here`)
    await ben.page.waitForFunction(() => !document.getElementById('banner')!.hidden, POLL)
    await shoot(ben.page, `${device}-incomplete-link`)
    // The server goes away: the banner says so in plain words, and the message box stays.
    const doomed = await startServer({ iceServers: [] })
    await ben.page.goto(roomLink(doomed.url))
    await ben.page.waitForFunction(() => window.parley?.status === 'online', POLL)
    await doomed.close()
    await ben.page.waitForFunction(() => window.parley?.status === 'reconnecting', POLL)
    await ben.page.waitForSelector('#qr[src]', { timeout: POLL.timeout })
    await shoot(ben.page, `${device}-server-unreachable`)
  }
  console.log(`screenshots in ${OUT}`)
} finally {
  await closeAll([ana, ben])
  await server.close()
}
