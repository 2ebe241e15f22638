// The server CPU of serving the page alone, so that a newcomer's server CPU can be split into the page
// and the API: PeerServer serves no page (the PeerJS page comes from the bench's own static server),
// so the like-for-like comparison is Parley's API share against PeerServer's whole.
import { readdirSync } from 'node:fs'
import { Agent, request } from 'node:http'
import type { Page } from 'puppeteer'
import { DIST_CLIENT } from '../helpers'
import { preciseCpuSeconds } from './proc-info'

const REPEATS = 10
// What Chromium sent for every page request here (http://127.0.0.1 included), checked at a plain server.
const ACCEPT_ENCODING = 'gzip, deflate, br, zstd'
// At most as many connections as a browser opens to one host.
const MAX_SOCKETS = 6

/** The page and files a tab fetched from `origin` (not the API), and the shared worker's script, which the tab's timing does not list. */
export async function pagePaths(page: Page, origin: string): Promise<string[]> {
  const urls = await page.evaluate(() =>
    [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')].map((e) => e.name),
  )
  const paths = urls.flatMap((u) => {
    const url = new URL(u)
    return url.origin === origin && !url.pathname.startsWith('/v1/') ? [url.pathname] : []
  })
  const worker = readdirSync(DIST_CLIENT).find((f) => /^worker-.*\.js$/.test(f))
  if (worker && !paths.includes(`/${worker}`)) paths.push(`/${worker}`)
  return paths
}

function fetchAll(agent: Agent, base: string, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { agent, headers: { 'accept-encoding': ACCEPT_ENCODING, accept: '*/*' } }, (res) => {
      res.resume()
      res.on('end', resolve)
    })
    req.on('error', reject)
    req.end()
  })
}

/**
 * Server CPU (all threads of `pid`) per load of `paths` from `base`, as an empty-cache tab loads them:
 * the page first, then the rest in parallel over keep-alive connections; averaged over REPEATS loads.
 */
export async function pageServingCpu(pid: number, base: string, paths: string[]): Promise<number> {
  const [first, ...rest] = paths
  if (first === undefined) return 0
  const before = preciseCpuSeconds(pid)
  for (let i = 0; i < REPEATS; i++) {
    const agent = new Agent({ keepAlive: true, maxSockets: MAX_SOCKETS })
    await fetchAll(agent, base, first)
    await Promise.all(rest.map((path) => fetchAll(agent, base, path)))
    agent.destroy()
  }
  return (preciseCpuSeconds(pid) - before) / REPEATS
}
