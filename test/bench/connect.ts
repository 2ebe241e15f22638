// Open a room link → connected to everyone, for 2, 4 and 8 separate Chromium processes, and the
// round-trip time of a chat message. Prints figures beside PeerJS 1.5 + PeerServer 1.0 on this machine.
import type { Browser, Page } from 'puppeteer'
import { randomRoom, spawnServer, within, roomLink } from '../helpers'
import { closeAll, launchPeople } from '../browsers'

const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const SIZES = (process.env.BENCH_SIZES ?? '2,4,8').split(',').map(Number)
const PEERJS_SECONDS: Record<number, number> = { 2: 0.63, 4: 0.79, 8: 1.59 }
const PINGS = 100
const SETTLE_MS = 1_000

declare global {
  interface Window {
    __connectedAt?: number
  }
}

/**
 * Runs before the page's own script and notes the moment the room has everyone connected. A string,
 * not a function: tsx would wrap a function's inner functions in helpers the page does not have.
 */
const instrument = (expected: number) => `
  (() => {
    let room
    Object.defineProperty(window, 'parley', {
      configurable: true,
      get: () => room,
      set(value) {
        room = value
        room.on('peer-connected', () => {
          const peers = room.peers
          if (!window.__connectedAt && peers.length === ${expected} && peers.every((p) => p.state === 'connected')) {
            window.__connectedAt = Date.now()
            window.__reportConnected(window.__connectedAt)
          }
        })
      },
    })
  })()`

const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS))

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!

/** Each person opens the link in a new tab of an already running browser, with an empty HTTP cache. */
async function openAll(browsers: Browser[], url: string, expected: number) {
  const pages: Page[] = await Promise.all(browsers.map((b) => b.newPage()))
  await Promise.all(
    pages.map(async (page) => {
      const cdp = await page.createCDPSession()
      await cdp.send('Network.clearBrowserCache')
      await cdp.detach()
    }),
  )
  // The page calls back when it is connected to everyone: no polling load on the browsers.
  const resolvers: Array<(at: number) => void> = []
  const done = Promise.all(pages.map((_, i) => new Promise<number>((resolve) => (resolvers[i] = resolve))))
  await Promise.all(pages.map((p, i) => p.exposeFunction('__reportConnected', (at: number) => resolvers[i]!(at))))
  await Promise.all(pages.map((p) => p.evaluateOnNewDocument(instrument(expected))))
  const start = Date.now()
  await Promise.all(pages.map((p) => p.goto(url)))
  const times = await within(done, 60_000, 'every browser connected to everyone')
  return { seconds: (Math.max(...times) - start) / 1000, pages, close: () => Promise.all(pages.map((p) => p.close())) }
}

async function pingRtt(a: Page, b: Page): Promise<number[]> {
  await b.evaluate(() => {
    window.parley!.on('message', (m) => {
      if (m.text.startsWith('ping ')) window.parley!.send(`pong ${m.text.slice(5)}`)
    })
  })
  return a.evaluate(async (count) => {
    const room = window.parley!
    const rtts: number[] = []
    for (let i = 0; i < count; i++) {
      const sent = performance.now()
      await new Promise<void>((resolve) => {
        const off = room.on('message', (m) => {
          if (m.text === `pong ${i}`) {
            off()
            resolve()
          }
        })
        room.send(`ping ${i}`)
      })
      rtts.push(performance.now() - sent)
    }
    return rtts
  }, PINGS)
}

export async function benchConnect() {
  // The server runs in its own process, as in production, not in the benchmark's event loop.
  const server = await spawnServer(['--join-burst', '10000', '--max-streams-per-ip', '10000'])
  const max = Math.max(...SIZES)
  const people = await launchPeople(max)
  const browsers = people.map((p) => p.browser)
  try {
    console.log(`\nOpen a room link in a new tab → connected to everyone (separate Chromium processes, empty cache, ${RUNS} runs)`)
    console.log('browsers  median    min      max      PeerJS   target(½)  ratio')
    for (const size of SIZES) {
      const times: number[] = []
      // Run 0 warms the server and the browsers up and is not counted; every run starts from a quiet
      // machine (the previous run's tabs have finished closing).
      for (let run = 0; run <= RUNS; run++) {
        await settle()
        const opened = await openAll(browsers.slice(0, size), roomLink(server.url), size - 1)
        if (run > 0) times.push(opened.seconds)
        if (size === 2 && run === RUNS) {
          const rtts = await pingRtt(opened.pages[0]!, opened.pages[1]!)
          console.log(
            `  (message round trip, ${PINGS} pings between 2 browsers: median ${median(rtts).toFixed(2)} ms, p95 ${percentile(rtts, 95).toFixed(2)} ms)`,
          )
        }
        await opened.close()
      }
      const ref = PEERJS_SECONDS[size]
      const m = median(times)
      console.log(
        `${String(size).padEnd(9)} ${m.toFixed(3)} s  ${Math.min(...times).toFixed(3)} s  ${Math.max(...times).toFixed(3)} s  ` +
          `${ref ? `${ref.toFixed(2)} s   ${(ref / 2).toFixed(3)} s    ${(m / ref).toFixed(2)}× PeerJS` : '—'}`,
      )
    }
  } finally {
    await closeAll(people)
    await server.stop()
  }
}
