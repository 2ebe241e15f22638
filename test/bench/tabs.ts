// Opening a room link in new tabs of running Chromium processes, for Parley and for the PeerJS
// reference page alike, and what each tab can tell afterwards: when it was connected to everyone,
// how much CPU its browser spent, its performance marks, and message round trips.
import { randomBytes } from 'node:crypto'
import { nanoid } from 'nanoid'
import type { Browser, Page } from 'puppeteer'
import { watch } from '../browsers'
import { randomRoom, within } from '../helpers'
import { startCpuSplits } from './cpu-split'
import type { PeerjsSite } from './peerjs-site'
import { treeCpuSeconds } from './proc-info'

export type Contender = 'parley' | 'peerjs'
export const NAMES: Record<Contender, string> = { parley: 'Parley', peerjs: 'PeerJS 1.5' }

const JOIN_TIMEOUT_MS = 60_000
const PING_TIMEOUT_MS = 60_000
/**
 * A pause between pings, the same for both contenders: a ping, its pong and their receipts back to back
 * are several hundred messages a second, past the budget Parley gives every peer (budget.ts: 100 a
 * second after a burst of 400), which drops the excess as a flood. Paced, the run stays under it.
 */
export const PING_GAP_MS = 25

/** Where each contender's pages and servers are (possibly behind a delaying proxy). */
export interface Endpoints {
  parley: string
  peerjsPage: string
  peerServer: { host: string; port: number }
  site: PeerjsSite
}

/**
 * Link for the `index`-th person of one room, who is connected once `expected` others are; `via`
 * reaches the same servers another way (another proxy), still into the same room.
 */
export type Links = (index: number, expected: number, via?: Endpoints) => string

/** A fresh room: Parley's room link, or PeerJS ids known to everyone in advance. */
export function roomLinks(contender: Contender, at: Endpoints): Links {
  if (contender === 'parley') {
    const path = `/r/${randomRoom()}#${nanoid(22)}`
    return (_index, _expected, via = at) => `${via.parley}${path}`
  }
  // PeerJS ids are letters and digits joined by single `-`, `_` or spaces: nanoid's alphabet can break that.
  const prefix = `bench-${randomBytes(6).toString('hex')}`
  const id = (i: number) => `${prefix}-${i}`
  return (index, expected, via = at) =>
    at.site.link(
      via.peerjsPage,
      via.peerServer,
      id(index),
      Array.from({ length: index }, (_, i) => id(i)),
      expected,
    )
}

declare global {
  interface Window {
    __connectedAt?: number
    __connectedPerf?: number
    __reportConnected?: (at: number) => void
    peerjsBench?: { ping(count: number, gapMs: number): Promise<number[]> }
    __ponging?: boolean
  }
}

/**
 * Runs before Parley's own script and notes the moment the room has everyone connected, using only
 * the Room's public surface (`on('peer-connected')`, `peers`). A string, not a function: tsx would
 * wrap a function's inner functions in helpers the page does not have.
 */
const parleyInstrument = (expected: number) => `
  (() => {
    let room
    const connected = () => {
      if (window.__connectedAt) return
      window.__connectedPerf = performance.now()
      window.__connectedAt = Date.now()
      window.__reportConnected(window.__connectedAt)
    }
    Object.defineProperty(window, 'parley', {
      configurable: true,
      get: () => room,
      set(value) {
        room = value
        // Alone in the room there is no one to wait for; the bench lets this tab settle before anyone joins it.
        if (${expected} === 0) return void setTimeout(connected, 0)
        room.on('peer-connected', () => {
          const peers = room.peers
          if (peers.length === ${expected} && peers.every((p) => p.state === 'connected')) connected()
        })
      },
    })
  })()`

export interface Opened {
  /** Date.now() just before the first tab navigated. */
  startedAt: number
  /** Date.now() at which each tab was connected to everyone. */
  connectedAt: number[]
  /** Open link → the last tab connected to everyone. */
  seconds: number
  /** CPU seconds each browser's whole process tree spent from just before navigating until everyone was connected. */
  cpu: number[]
  /** The same per browser, split by process type and thread (cpu-split.ts). */
  cpuSplits: Array<Map<string, number>>
  pages: Page[]
  close(): Promise<void>
}

/** A new tab with an empty HTTP cache and no Cache Storage or service worker for the origin. */
async function freshTab(browser: Browser, origin: string): Promise<Page> {
  const page = await browser.newPage()
  const cdp = await page.createCDPSession()
  try {
    await cdp.send('Network.clearBrowserCache')
    await cdp.send('Storage.clearDataForOrigin', { origin, storageTypes: 'cache_storage,service_workers' })
  } finally {
    await cdp.detach()
  }
  return page
}

/**
 * Each browser opens its link in a new tab at once; resolves when every tab reports it is connected
 * to `expected` others. The pages call back: no polling load on the browsers.
 */
export async function openTabs(
  contender: Contender,
  browsers: Browser[],
  links: Links,
  expected: number,
  first = 0,
  /** A script each page runs before its own (rtt-steps.ts). */
  init?: string,
): Promise<Opened> {
  const urls = browsers.map((_, i) => links(first + i, expected))
  const pages: Page[] = []
  const close = () => Promise.all(pages.map((p) => p.close().catch(() => {}))).then(() => {})
  try {
    pages.push(...(await Promise.all(browsers.map((b, i) => freshTab(b, new URL(urls[i]!).origin)))))
    const errors: string[] = []
    for (const page of pages) watch(page, errors)
    const resolvers: Array<(at: number) => void> = []
    const reported = pages.map(() => false)
    const done = Promise.all(
      pages.map(
        (_, i) =>
          new Promise<number>((resolve) => {
            resolvers[i] = (at) => {
              reported[i] = true
              resolve(at)
            }
          }),
      ),
    )
    await Promise.all(pages.map((p, i) => p.exposeFunction('__reportConnected', (at: number) => resolvers[i]!(at))))
    // The PeerJS page notes the moment itself (peerjs-site.ts).
    if (contender === 'parley') await Promise.all(pages.map((p) => p.evaluateOnNewDocument(parleyInstrument(expected))))
    if (init) await Promise.all(pages.map((p) => p.evaluateOnNewDocument(init)))
    const pids = browsers.map((b) => b.process()?.pid ?? 0)
    const cpuBefore = pids.map((pid) => (pid ? treeCpuSeconds(pid) : NaN))
    const endSplits = startCpuSplits(pids)
    const startedAt = Date.now()
    await Promise.all(pages.map((p, i) => p.goto(urls[i]!, { timeout: JOIN_TIMEOUT_MS })))
    const connectedAt = await within(done, JOIN_TIMEOUT_MS, `every ${NAMES[contender]} tab connected to ${expected} others`).catch(
      (err: Error) => {
        const missing = reported.flatMap((r, i) => (r ? [] : [first + i])).join(', ')
        throw new Error(`${err.message} (tabs not connected: ${missing}; page errors: ${errors.join(' | ') || 'none'})`)
      },
    )
    const cpu = pids.map((pid, i) => (pid ? treeCpuSeconds(pid) - cpuBefore[i]! : NaN))
    const cpuSplits = endSplits()
    return { startedAt, connectedAt, seconds: (Math.max(...connectedAt) - startedAt) / 1000, cpu, cpuSplits, pages, close }
  } catch (err) {
    await close()
    throw err
  }
}

/** Round trips of `count` messages from a to b and back: chat messages for Parley, DataConnection sends for PeerJS. */
export async function pingRtt(contender: Contender, a: Page, b: Page, count: number): Promise<number[]> {
  if (contender === 'peerjs') {
    return within(
      a.evaluate((n, gap) => window.peerjsBench!.ping(n, gap), count, PING_GAP_MS),
      PING_TIMEOUT_MS,
      `${count} PeerJS pings`,
    )
  }
  await b.evaluate(() => {
    if (window.__ponging) return
    window.__ponging = true
    window.parley!.on('message', (m) => {
      if (!m.text.startsWith('ping ')) return
      window.__rttShown?.push(performance.timeOrigin + performance.now())
      window.parley!.send(`pong ${m.text.slice(5)}`)
    })
  })
  const pings = a.evaluate(
    async (n, gap) => {
      const room = window.parley!
      const rtts: number[] = []
      for (let i = 0; i < n; i++) {
        await new Promise((resolve) => setTimeout(resolve, gap))
        const sent = performance.now()
        await new Promise<void>((resolve) => {
          const off = room.on('message', (m) => {
            if (m.text === `pong ${i}`) {
              window.__rttShown?.push(performance.timeOrigin + performance.now())
              off()
              resolve()
            }
          })
          window.__rttSent?.push(performance.timeOrigin + sent)
          room.send(`ping ${i}`)
        })
        rtts.push(performance.now() - sent)
      }
      return rtts
    },
    count,
    PING_GAP_MS,
  )
  return within(pings, PING_TIMEOUT_MS, `${count} Parley pings`)
}

/** A tab's own account of its load and join: navigation timing and marks, ms since navigation start. */
export interface Timeline {
  navigation: Record<string, number>
  marks: Record<string, number>
  connected?: number
}

export function readTimeline(page: Page): Promise<Timeline> {
  return page.evaluate(() => {
    const navigation: Record<string, number> = {}
    const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined
    if (nav) {
      navigation['response start (HTML first byte)'] = nav.responseStart
      navigation['DOM interactive'] = nav.domInteractive
      navigation['DOMContentLoaded end'] = nav.domContentLoadedEventEnd
      navigation['load end'] = nav.loadEventEnd
    }
    const marks: Record<string, number> = {}
    for (const m of performance.getEntriesByType('mark')) if (!(m.name in marks)) marks[m.name] = m.startTime
    return { navigation, marks, ...(window.__connectedPerf === undefined ? {} : { connected: window.__connectedPerf }) }
  })
}
