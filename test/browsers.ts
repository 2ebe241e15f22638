import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import puppeteer, { type Browser, type Page } from 'puppeteer'

/** Flags for Chromium as root on a machine without internet (see test/README.md, Browsers). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--disable-default-apps',
  '--mute-audio',
  // Real host candidates instead of mDNS .local names, which need a resolver these machines lack.
  '--disable-features=WebRtcHideLocalIpsWithMdns',
]

const SYSTEM_BROWSERS = [
  '/usr/lib/chromium/chromium', // Debian's real binary (the /usr/bin wrapper adds flags and noise)
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
]

/** PUPPETEER_EXECUTABLE_PATH, then a system Chromium/Chrome, then puppeteer's own download. */
export function findBrowser(): string {
  const fromEnv = process.env.PUPPETEER_EXECUTABLE_PATH
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`PUPPETEER_EXECUTABLE_PATH=${fromEnv} does not exist`)
    return fromEnv
  }
  const system = SYSTEM_BROWSERS.find((path) => existsSync(path))
  if (system) return system
  try {
    const own = puppeteer.executablePath()
    if (existsSync(own)) return own
  } catch {
    // No download either.
  }
  throw new Error('No Chromium found. Install one (Debian: apt-get install -y chromium) or set PUPPETEER_EXECUTABLE_PATH.')
}

// Chromium writes its profile constantly; on this machine's disk that is slow IO wait. Keep it in RAM.
const PROFILE_ROOT = existsSync('/dev/shm') ? '/dev/shm' : tmpdir()
const profileDir = () => mkdtempSync(join(PROFILE_ROOT, 'parley-chromium-'))

export interface Person {
  browser: Browser
  page: Page
  /** Console errors and uncaught exceptions seen on the page. */
  errors: string[]
}

/** One separate Chromium process per person, launched in parallel. */
export async function launchPeople(count: number): Promise<Person[]> {
  const executablePath = findBrowser()
  const launched = await Promise.allSettled(
    // Puppeteer mutates the args array it is given: each launch gets its own copy.
    Array.from({ length: count }, async () => {
      const userDataDir = profileDir()
      const browser = await puppeteer
        .launch({
          executablePath,
          headless: true,
          userDataDir,
          args: [...CHROMIUM_ARGS, ...(process.env.PARLEY_CHROMIUM_ARGS?.split(' ').filter(Boolean) ?? [])],
        })
        .catch((err: unknown) => {
          rmSync(userDataDir, { recursive: true, force: true })
          throw err
        })
      browser.process()?.once('exit', () => {
        try {
          rmSync(userDataDir, { recursive: true, force: true, maxRetries: 3 })
        } catch {
          // A leftover profile in RAM is harmless; a crash in an exit handler is not.
        }
      })
      return browser
    }),
  )
  const browsers = launched.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
  const failed = launched.find((r) => r.status === 'rejected')
  if (failed) {
    await Promise.all(browsers.map((b) => b.close().catch(() => {})))
    throw (failed as PromiseRejectedResult).reason
  }
  return Promise.all(
    browsers.map(async (browser) => {
      const [page] = await browser.pages()
      const person: Person = { browser, page: page ?? (await browser.newPage()), errors: [] }
      watch(person.page, person.errors)
      return person
    }),
  )
}

/** Debian's Firefox ESR; puppeteer drives it over WebDriver BiDi, no download needed. */
export const FIREFOX = process.env.PARLEY_FIREFOX ?? '/usr/lib/firefox-esr/firefox-esr'

/**
 * One Firefox process, for a person who does not use Chromium. The prefs let WebRTC use host
 * candidates on this machine (loopback included, addresses not hidden behind mDNS names).
 */
export async function launchFirefox(): Promise<Person> {
  if (!existsSync(FIREFOX))
    throw new Error(`No Firefox at ${FIREFOX}. Install one (Debian: apt-get install -y firefox-esr) or set PARLEY_FIREFOX.`)
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    extraPrefsFirefox: {
      'media.peerconnection.ice.loopback': true,
      'media.peerconnection.ice.no_host': false,
      'media.peerconnection.ice.obfuscate_host_addresses': false,
    },
  })
  const [page] = await browser.pages()
  const person: Person = { browser, page: page ?? (await browser.newPage()), errors: [] }
  watch(person.page, person.errors)
  return person
}

export function watch(page: Page, errors: string[]): void {
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text())
  })
  page.on('pageerror', (error) => errors.push(String(error)))
}

export async function closeAll(people: Array<{ browser: Browser }>): Promise<void> {
  await Promise.all(people.map((p) => p.browser.close().catch(() => {})))
}

// Background pages throttle requestAnimationFrame, puppeteer's default polling: poll on a timer.
const POLL = { polling: 50 } as const

/** Types into the Message box and presses Send. */
export async function say(page: Page, text: string): Promise<void> {
  // Locators wait for animation frames, which background tabs do not get.
  await page.bringToFront()
  await page.locator('::-p-aria(Message[role="textbox"])').fill(text)
  await page.locator('::-p-aria(Send[role="button"])').click()
  // Lines are shown in the next animation frame (log-feed.ts): a test reading the log right after sees its own.
  await page.evaluate(() => new Promise((shown) => requestAnimationFrame(() => requestAnimationFrame(shown))))
}

/** Types lines into the Message box as a person would (Shift+Enter between them), then presses Enter (Send on a touch screen). */
export async function sayLines(page: Page, lines: string[]): Promise<void> {
  await page.bringToFront()
  await page.locator('::-p-aria(Message[role="textbox"])').fill('')
  await page.focus('[aria-label="Message"]')
  for (const [i, line] of lines.entries()) {
    if (i > 0) {
      await page.keyboard.down('Shift')
      await page.keyboard.press('Enter')
      await page.keyboard.up('Shift')
    }
    await page.keyboard.type(line)
  }
  // On a touch screen Enter starts a new line: Send sends.
  if (await page.evaluate(() => matchMedia('(pointer: coarse)').matches)) await page.locator('::-p-aria(Send[role="button"])').click()
  else await page.keyboard.press('Enter')
}

/** Message texts in the Messages log, oldest first (`mine` marks the person's own). */
export async function messages(page: Page): Promise<Array<{ who: string; text: string; mine: boolean }>> {
  return page.$$eval('[role="log"][aria-label="Messages"] .message', (entries) =>
    entries.map((e) => ({
      who: e.querySelector('.who')?.textContent ?? '',
      text: e.querySelector('.text')?.textContent ?? '',
      mine: e.classList.contains('mine'),
    })),
  )
}

export async function waitForMessage(page: Page, text: string, timeout = 15_000): Promise<void> {
  await page
    .waitForFunction(
      (t) => [...document.querySelectorAll('[role="log"][aria-label="Messages"] .message .text')].some((e) => e.textContent === t),
      { ...POLL, timeout },
      text,
    )
    .catch(async (err: Error) => {
      throw new Error(`${err.message}; expected "${text}" shown, page has ${await pageState(page)}`)
    })
}

/**
 * What a page shows and knows, for a failed wait's message: a stuck pair or a renderer that crashed
 * (Chromium's "Target crashed") is otherwise just a timeout.
 */
async function pageState(page: Page): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined
  // A renderer that hangs rather than dies would otherwise hold the failure until the test's own timeout.
  const silent = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('unavailable (no answer in 5 s)'), 5_000)
  })
  const state = page
    .evaluate(() =>
      JSON.stringify({
        self: window.parley?.self,
        status: window.parley?.status,
        peers: window.parley?.peers,
        stats: window.parley?.stats(),
        shown: [...document.querySelectorAll('[role="log"][aria-label="Messages"] .message .text')].slice(-10).map((e) => e.textContent),
      }),
    )
    .catch((err: Error) => `unavailable (${err.message})`)
  return Promise.race([state, silent]).finally(() => clearTimeout(timer))
}

/**
 * The texts this page's IndexedDB holds for `room`, in every record of it (each page writes its own,
 * see client/page/idb-store.ts), each text once. A read starts after every write an earlier page of
 * this origin began (IndexedDB runs overlapping transactions in order), so a write that still counts is
 * seen, and one that was dropped never will be: no waiting needed.
 */
export const storedTexts = (page: Page, room: string) =>
  page.evaluate(
    (r) =>
      new Promise<string[]>((resolve, reject) => {
        const open = indexedDB.open('parley')
        open.onerror = () => reject(open.error)
        open.onsuccess = () => {
          const db = open.result
          if (!db.objectStoreNames.contains('history')) {
            db.close()
            return resolve([])
          }
          const get = db
            .transaction('history', 'readonly')
            .objectStore('history')
            .getAll(IDBKeyRange.bound([r], [r, []]))
          get.onsuccess = () => {
            db.close()
            const entries: Array<{ message: { text: string } }> = get.result.flat()
            resolve([...new Set(entries.map((e) => e.message.text))])
          }
          get.onerror = () => reject(get.error)
        }
      }),
    room,
  )

/** Sends `text` and starts a reload in the same task: nothing of the page's runs in between. */
export const sendAndReload = (page: Page, text: string) =>
  Promise.all([
    page.waitForNavigation(),
    page.evaluate((t) => {
      window.parley!.send(t)
      location.reload()
    }, text),
  ])

/** People list entries as "name: state". */
export async function peopleList(page: Page): Promise<string[]> {
  return page.$$eval('ul[aria-label="People"] li', (rows) =>
    rows.map((r) => `${r.querySelector('.person-name')?.textContent}: ${r.getAttribute('data-state')}`),
  )
}

/** Waits until the page's own join has been answered: alone in a room counts as connected before that. */
export async function waitForJoined(page: Page, timeout = 20_000): Promise<void> {
  await page.waitForFunction(() => Boolean(window.parley?.self.id), { ...POLL, timeout })
}

/** Waits until the People list shows exactly `count` people, all connected. */
export async function waitForConnected(page: Page, count: number, timeout = 30_000): Promise<void> {
  await page
    .waitForFunction(
      (n) => {
        const rows = [...document.querySelectorAll('ul[aria-label="People"] li')]
        return rows.length === n && rows.every((r) => r.getAttribute('data-state') === 'connected')
      },
      { ...POLL, timeout },
      count,
    )
    .catch(async (err: Error) => {
      throw new Error(`${err.message}; expected ${count} connected, page has ${await pageState(page)}`)
    })
}

export async function waitForPeopleCount(page: Page, count: number, timeout = 30_000): Promise<void> {
  await page.waitForFunction((n) => document.querySelectorAll('ul[aria-label="People"] li').length === n, { ...POLL, timeout }, count)
}

export async function setName(page: Page, name: string): Promise<void> {
  const box = page.locator('::-p-aria(Your name[role="textbox"])')
  await box.fill(name)
  await page.keyboard.press('Tab') // commit (change event)
}

/**
 * Test instrumentation installed before the page's own scripts (a string: tsx would wrap a function's
 * inner functions in helpers the page lacks). Tracks the page's RTCPeerConnections and pending timers,
 * and can close the connection to a given peer (found by its DTLS fingerprints) from inside the page.
 */
export const INSTRUMENT = `(() => {
  const pcs = []
  const PC = window.RTCPeerConnection
  window.RTCPeerConnection = function (...args) { const pc = new PC(...args); pcs.push(pc); return pc }
  window.RTCPeerConnection.prototype = PC.prototype
  window.RTCPeerConnection.generateCertificate = PC.generateCertificate.bind(PC)
  const timers = new Set()
  const st = window.setTimeout, ct = window.clearTimeout, si = window.setInterval, ci = window.clearInterval
  window.setTimeout = function (fn, ms, ...rest) {
    const id = st.call(window, (...args) => { timers.delete(id); if (typeof fn === 'function') fn(...args) }, ms, ...rest)
    timers.add(id)
    return id
  }
  window.clearTimeout = function (id) { timers.delete(id); return ct.call(window, id) }
  window.setInterval = function (...args) { const id = si.apply(window, args); timers.add(id); return id }
  window.clearInterval = function (id) { timers.delete(id); return ci.call(window, id) }
  const fingerprint = (sdp) => (/a=fingerprint:\\S+ (\\S+)/.exec(sdp || '') || [])[1]
  const open = (pc) => pc.connectionState !== 'closed' && pc.signalingState !== 'closed'
  window.__test = {
    fingerprints: () => pcs.map((pc) => fingerprint(pc.localDescription && pc.localDescription.sdp)).filter(Boolean),
    close(fps) {
      const pc = pcs.find((pc) => open(pc) && fps.includes(fingerprint(pc.remoteDescription && pc.remoteDescription.sdp)))
      if (pc) pc.close()
      return Boolean(pc)
    },
    openConnections: () => pcs.filter(open).length,
    timers: () => timers.size,
  }
})()`

export interface PageProbe {
  /** The DTLS fingerprints of this page's connections (each makes its own certificate). */
  fingerprints(): string[]
  /** Closes the connection whose far end offered one of `fingerprints`. */
  close(fingerprints: string[]): boolean
  openConnections(): number
  timers(): number
}

declare global {
  interface Window {
    __test: PageProbe
  }
}

/**
 * Test instrumentation (a string, like INSTRUMENT) that taps the page's data channels, so a test can
 * play a peer that speaks the protocol its own way: it records every RTCDataChannel and the text each
 * one received, can hold back the page's own outgoing messages of chosen types, and sends raw text.
 * Channels are numbered in the order the page made or got them.
 */
export const WIRE = `(() => {
  const channels = []
  const received = []
  const held = []
  const holding = new Set()
  const send = RTCDataChannel.prototype.send
  const track = (channel) => {
    if (channels.includes(channel)) return
    const index = channels.push(channel) - 1
    channel.addEventListener('message', (event) => {
      if (typeof event.data === 'string') received.push({ channel: index, data: event.data })
    })
  }
  const create = RTCPeerConnection.prototype.createDataChannel
  RTCPeerConnection.prototype.createDataChannel = function (...args) {
    const channel = create.apply(this, args)
    track(channel)
    return channel
  }
  const PC = window.RTCPeerConnection
  window.RTCPeerConnection = function (...args) {
    const pc = new PC(...args)
    pc.addEventListener('datachannel', (event) => track(event.channel))
    return pc
  }
  window.RTCPeerConnection.prototype = PC.prototype
  window.RTCPeerConnection.generateCertificate = PC.generateCertificate.bind(PC)
  RTCDataChannel.prototype.send = function (data) {
    track(this)
    if (typeof data === 'string' && holding.size > 0) {
      let type
      try { type = JSON.parse(data).type } catch {}
      if (holding.has(type)) return void held.push({ channel: channels.indexOf(this), data })
    }
    return send.call(this, data)
  }
  window.__wire = {
    received: () => received.slice(),
    held: () => held.slice(),
    hold(type) { holding.add(type) },
    release(type) { holding.delete(type) },
    send(channel, data) { send.call(channels[channel], data) },
    buffered: (channel) => channels[channel].bufferedAmount,
  }
})()`

/** A text message on one of the page's data channels (see WIRE). */
export interface WireText {
  channel: number
  data: string
}

export interface WireTap {
  /** Every text message the page's channels received, oldest first. */
  received(): WireText[]
  /** The page's own messages held back so far. */
  held(): WireText[]
  /** Holds back the page's outgoing messages of this `type` from now on. */
  hold(type: string): void
  release(type: string): void
  /** Sends raw text on a channel, past any hold. */
  send(channel: number, data: string): void
  /** Bytes sent on a channel that have not left this page yet. */
  buffered(channel: number): number
}

declare global {
  interface Window {
    __wire: WireTap
  }
}

/**
 * Emulates losing the network in a tab. DevTools emulation reaches neither the tab's open event stream
 * nor its shared worker; the page's offline event does, as the OS network going away would.
 */
export async function setOffline(page: Page, offline: boolean): Promise<void> {
  await page.setOfflineMode(offline)
}

/**
 * Clicks a download link (`<a download>`) the way a person would and resolves with the bytes the
 * browser saved. The chat page's CSP (connect-src 'self') keeps the page itself from fetching blob: URLs.
 */
export async function download(page: Page, selector: string, timeout = 30_000): Promise<Buffer> {
  const dir = mkdtempSync(join(PROFILE_ROOT, 'parley-download-'))
  const session = await page.browser().target().createCDPSession()
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    await session.send('Browser.setDownloadBehavior', { behavior: 'allowAndName', downloadPath: dir, eventsEnabled: true })
    const saved = new Promise<string>((resolve, reject) => {
      session.on('Browser.downloadProgress', (event) => {
        if (event.state === 'completed') resolve(event.guid)
        else if (event.state === 'canceled') reject(new Error(`download of ${selector} canceled`))
      })
      timer = setTimeout(() => reject(new Error(`download of ${selector} not done after ${timeout} ms`)), timeout)
    })
    await page.click(selector)
    return readFileSync(join(dir, await saved))
  } finally {
    clearTimeout(timer)
    await session.detach().catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  }
}

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

/** Serious and critical axe-core violations on the page as it is, in light and then dark. */
export async function axeFaults(page: Page): Promise<string[]> {
  const faults: string[] = []
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: scheme }])
    // Evaluated, not a script tag: the page's CSP allows no inline script.
    if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE)
    const found = await page.evaluate(async () => {
      const { violations } = await (
        window as unknown as {
          axe: { run(): Promise<{ violations: Array<{ id: string; impact: string; nodes: Array<{ target: unknown }> }> }> }
        }
      ).axe.run()
      return violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id} ${v.nodes.map((n) => JSON.stringify(n.target)).join(' ')}`)
    })
    faults.push(...found.map((f) => `${scheme}: ${f}`))
  }
  await page.emulateMediaFeatures([])
  return faults
}
