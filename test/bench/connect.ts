// Open a room link → connected to everyone, for 2, 4 and 8 separate Chromium processes, Parley and
// PeerJS 1.5 + PeerServer 1.0 measured live in the same run, interleaved on the same browsers; the
// CPU each browser spends on a join, the round trip of a message, and the newcomer's join path.
import type { Browser, Page } from 'puppeteer'
import { closeAll, launchPeople } from '../browsers'
import { within } from '../helpers'
import { printBreakdown } from './breakdown'
import { meanSplit, printCpuSplit, startCpuSplits } from './cpu-split'
import { type Servers, startServers } from './endpoints'
import { pagePaths, pageServingCpu } from './page-cpu'
import { preciseCpuSeconds } from './proc-info'
import { machine } from './procs'
import { printQuietWaits, quiet, settle } from './quiet'
import { RTT_WIRE_INSTRUMENT, resetRttSteps, rttSteps, summarise } from './rtt-steps'
import { mean, median, met, ms, percentile, secs, table, times } from './stats'
import {
  type Contender,
  type Endpoints,
  NAMES,
  type Opened,
  openTabs,
  PING_GAP_MS,
  pingRtt,
  readTimeline,
  roomLinks,
  type Timeline,
} from './tabs'

export const RUNS = Number(process.env.BENCH_RUNS ?? 3)
export const SIZES = (process.env.BENCH_SIZES ?? '2,4,8').split(',').map(Number)
export const CONTENDERS: Contender[] = ['parley', 'peerjs']
const PINGS = 200
const WARM_UP_PINGS = 20
/**
 * The pings go in blocks, Parley's and PeerJS's alternating (fresh tabs each), so that a loaded
 * machine's swings fall on both alike rather than on whichever went first.
 */
const PING_BLOCKS = 4
const TARGET_CONNECT_RATIO = 0.5
const TARGET_RTT_GAP_MS = 1
// The room's tabs register their service worker once connected; its install fetches the whole shell.
const SERVICE_WORKER_WAIT_MS = 15_000

/** The tab that was connected to everyone last: its timeline is the one the figure measures. */
const lastConnected = (opened: Opened) => opened.pages[opened.connectedAt.indexOf(Math.max(...opened.connectedAt))]!

/** A room of `size` fills at once, RUNS times after one warm-up, alternating contenders run by run. */
export async function interleaved(browsers: Browser[], at: Endpoints, size: number, keepLast?: (c: Contender, o: Opened) => Promise<void>) {
  const runs: Record<Contender, Array<{ seconds: number; cpu: number; split: Map<string, number> }>> = { parley: [], peerjs: [] }
  for (let run = 0; run <= RUNS; run++) {
    for (const contender of CONTENDERS) {
      await quiet()
      // One run that never connects is a finding, not a reason to lose the rest of the bench.
      const opened = await openTabs(contender, browsers.slice(0, size), roomLinks(contender, at), size - 1).catch((err: Error) => {
        console.log(`  (${NAMES[contender]}, ${size} browsers, run ${run}: FAILED — ${err.message})`)
        return undefined
      })
      if (!opened) continue
      try {
        // Run 0 warms the servers and browsers up and is not counted.
        if (run > 0) runs[contender].push({ seconds: opened.seconds, cpu: mean(opened.cpu), split: meanSplit(opened.cpuSplits) })
        if (run === RUNS) await keepLast?.(contender, opened)
      } finally {
        await opened.close()
      }
    }
  }
  return runs
}

/**
 * Everyone but one connected, then the newcomer opens the link (through `via` when given): its time,
 * its browser's CPU, the server's CPU (of process `serverPid`, when given), its timeline.
 */
export async function newcomer(contender: Contender, browsers: Browser[], at: Endpoints, via?: Endpoints, serverPid?: number) {
  const size = browsers.length
  const links = roomLinks(contender, at)
  await settle()
  const room = await openTabs(contender, browsers.slice(0, size - 1), links, size - 2)
  try {
    // Those installs are the room's own page traffic, not the newcomer's join: let them finish first.
    if (contender === 'parley') await serviceWorkersReady(room.pages)
    await quiet()
    // The server's pace with the room idle (its timers, the streams' heartbeats), over a second after the
    // room's own tail (the quiet wait above): what it would have spent in the newcomer's window without the join.
    const idleFrom = serverPid ? preciseCpuSeconds(serverPid) : NaN
    const idleStart = performance.now()
    await settle()
    const serverBefore = serverPid ? preciseCpuSeconds(serverPid) : NaN
    const idlePerMs = (serverBefore - idleFrom) / (performance.now() - idleStart)
    const windowStart = performance.now()
    const joined = await openTabs(contender, browsers.slice(size - 1), (i, e) => links(i, e, via), size - 1, size - 1)
    const serverCpu = serverPid ? preciseCpuSeconds(serverPid) - serverBefore : NaN
    const serverIdle = idlePerMs * (performance.now() - windowStart)
    try {
      return {
        seconds: joined.seconds,
        cpu: joined.cpu[0]!,
        split: joined.cpuSplits[0]!,
        serverCpu,
        serverIdle,
        startedAt: joined.startedAt,
        connectedAt: joined.connectedAt[0]!,
        timeline: await readTimeline(joined.pages[0]!),
        pagePaths: contender === 'parley' ? await pagePaths(joined.pages[0]!, new URL(at.parley).origin) : [],
      }
    } finally {
      await joined.close()
    }
  } finally {
    await room.close()
  }
}

/** Every tab's service worker installed and active (or the wait gave up: the figure then says so). */
export async function serviceWorkersReady(pages: Page[]): Promise<void> {
  await within(
    Promise.all(pages.map((p) => p.evaluate(() => navigator.serviceWorker.ready.then(() => true)))),
    SERVICE_WORKER_WAIT_MS,
    "the room's service workers",
  ).catch((err: Error) => console.log(`  (${err.message}: the newcomer's server CPU may include their installs)`))
}

async function roundTrips(browsers: Browser[], at: Endpoints) {
  const load = machine()
  const rows: string[][] = []
  const p50: Partial<Record<Contender, number>> = {}
  const p95: Partial<Record<Contender, number>> = {}
  const rtts: Record<Contender, number[]> = { parley: [], peerjs: [] }
  const steps: number[][] = []
  // Each browser's CPU over each block of pings (a ping, its pong, their receipts, what the pages draw).
  const cpu: Record<Contender, Array<Map<string, number>>> = { parley: [], peerjs: [] }
  const pids = browsers.slice(0, 2).map((b) => b.process()?.pid ?? 0)
  for (let block = 0; block < PING_BLOCKS; block++) {
    for (const contender of CONTENDERS) {
      await quiet()
      const traced = contender === 'parley'
      const opened = await openTabs(
        contender,
        browsers.slice(0, 2),
        roomLinks(contender, at),
        1,
        0,
        traced ? RTT_WIRE_INSTRUMENT : undefined,
      )
      const [a, b] = opened.pages as [Page, Page]
      try {
        // A conversation, not a join: what follows the connection (Parley's service worker install, its
        // later-loaded extras, the history hand-over) is over before the pings, for both alike.
        if (contender === 'parley') await serviceWorkersReady(opened.pages)
        await quiet()
        await pingRtt(contender, a, b, WARM_UP_PINGS)
        if (traced) await resetRttSteps([a, b])
        const endSplits = startCpuSplits(pids)
        rtts[contender].push(...(await pingRtt(contender, a, b, PINGS / PING_BLOCKS)))
        cpu[contender].push(...endSplits())
        if (traced) for (const [i, step] of (await rttSteps(a, b)).entries()) steps[i] = [...(steps[i] ?? []), ...step]
      } finally {
        await opened.close()
      }
    }
  }
  for (const contender of CONTENDERS) {
    const sorted = Float64Array.from(rtts[contender]).sort()
    p50[contender] = percentile(sorted, 50)
    p95[contender] = percentile(sorted, 95)
    rows.push([NAMES[contender], ms(p50[contender]!), ms(p95[contender]!), ms(sorted[0]!), ms(sorted.at(-1)!)])
  }
  const gap50 = p50.parley! - p50.peerjs!
  const gap95 = p95.parley! - p95.peerjs!
  rows.push(['Parley − PeerJS', ms(gap50), ms(gap95), '', ''])
  console.log(
    `\nMessage round trip between 2 browsers (${PINGS} sequential pings in ${PING_BLOCKS} blocks, Parley's and PeerJS's alternating, ` +
      `each after ${WARM_UP_PINGS} to warm up; ${load}; Parley: room.send ` +
      `chat messages, PeerJS: DataConnection.send echoed)`,
  )
  table(['', 'p50', 'p95', 'min', 'max'], rows)
  console.log(
    `  target: Parley within ${TARGET_RTT_GAP_MS} ms of PeerJS — p50 ${met(gap50 <= TARGET_RTT_GAP_MS)}, p95 ${met(gap95 <= TARGET_RTT_GAP_MS)}`,
  )
  console.log(
    `\nParley's round trip step by step (each page's own clock, 0.1 ms steps; ${steps[0]?.length ?? 0} pings; PeerJS's whole round trip is two wires)`,
  )
  table(
    ['step', 'p50', 'p95'],
    summarise(steps).map(({ step, p50: s50, p95: s95 }) => [step, ms(s50), ms(s95)]),
  )
  // On a machine of few cores, what one browser does while the other's line is on its way is what delays it.
  const perPing = (c: Contender) => new Map([...meanSplit(cpu[c])].map(([group, s]) => [group, s / (PINGS / PING_BLOCKS)]))
  printCpuSplit(
    `Each browser's CPU per ping (one every ${PING_GAP_MS} ms: its round trip and the idle time to the next; mean over both browsers and every block)`,
    perPing('parley'),
    perPing('peerjs'),
  )
}

/**
 * One newcomer joining a room of everyone else, RUNS times, Parley and PeerJS alternating: medians of
 * its time, its browser's CPU and the server's, Parley's split into page files and API; the join path
 * of the last run.
 */
async function benchNewcomer(browsers: Browser[], servers: Servers, atOnce: Partial<Record<Contender, Timeline>>) {
  const at = servers.direct
  const others = browsers.length - 1
  const joins: Record<Contender, Array<Awaited<ReturnType<typeof newcomer>>>> = { parley: [], peerjs: [] }
  for (let run = 0; run < RUNS; run++) {
    for (const contender of CONTENDERS) joins[contender].push(await newcomer(contender, browsers, at, undefined, servers.pids[contender]))
  }
  const last = { parley: joins.parley.at(-1)!, peerjs: joins.peerjs.at(-1)! }
  const pageCpu = await pageServingCpu(servers.pids.parley, at.parley, last.parley.pagePaths)
  const med = (c: Contender, pick: (j: (typeof joins)[Contender][number]) => number) => median(joins[c].map(pick))
  const parleyServer = med('parley', (j) => j.serverCpu)
  const peerServer = med('peerjs', (j) => j.serverCpu)
  // The join's own: each run's server CPU less its idle pace over the same window (Parley's window is longer).
  const joinCpu = (c: Contender) => med(c, (j) => j.serverCpu - j.serverIdle)
  const parleyApi = joinCpu('parley') - pageCpu
  const peerApi = joinCpu('peerjs')
  console.log(
    `\nOne newcomer joining a room of ${others} (everyone else connected first, their service workers installed): open link → connected`,
  )
  console.log(`to everyone; medians of ${RUNS} runs, Parley and PeerJS alternating. Server CPU: every thread of the signaling process`)
  console.log("from navigation to connected. Parley serves its own page; PeerServer does not (the PeerJS page comes from the bench's")
  console.log("own static server), so the like-for-like figure is Parley's API share: the whole minus the page's share, measured after")
  console.log(
    `by loading the same ${last.parley.pagePaths.length} files (the tab's own list plus the shared worker's script) from the same`,
  )
  console.log("server as an empty-cache tab does, averaged over 10 loads. Idle pace: the server's CPU per second over a second")
  console.log("before the newcomer (the room connected and settled, nothing happening) times the newcomer's window: not the join's work")
  const row = (c: Contender, page: string, api: number) => [
    NAMES[c],
    secs(med(c, (j) => j.seconds)),
    secs(med(c, (j) => j.cpu)),
    ms(med(c, (j) => j.serverCpu) * 1000),
    ms(med(c, (j) => j.serverIdle) * 1000),
    page,
    ms(api * 1000),
  ]
  table(
    ['', 'time', "its browser's CPU", 'server CPU', 'of it: idle pace', 'of it: page files', 'of it: API'],
    [row('parley', ms(pageCpu * 1000), parleyApi), row('peerjs', '— (not served)', peerApi)],
  )
  console.log(
    `  target: Parley's API CPU ≤ PeerServer's — ${times(parleyApi, peerApi)} ${met(parleyApi <= peerApi)}` +
      ` (idle pace included: ${times(parleyServer - pageCpu, peerServer)}; whole server, page included: ${times(parleyServer, peerServer)})`,
  )
  printCpuSplit(
    `The newcomer's browser CPU by process and thread (mean of ${RUNS} runs)`,
    meanSplit(joins.parley.map((j) => j.split)),
    meanSplit(joins.peerjs.map((j) => j.split)),
  )
  console.log(`\nJoin path (the page's navigation timing and performance marks; — : the page does not mark that step yet)`)
  printBreakdown([
    { label: `Parley newcomer → ${others}`, timeline: last.parley.timeline },
    ...(atOnce.parley ? [{ label: `Parley ${browsers.length} at once (last)`, timeline: atOnce.parley }] : []),
    { label: `PeerJS newcomer → ${others}`, timeline: last.peerjs.timeline },
    ...(atOnce.peerjs ? [{ label: `PeerJS ${browsers.length} at once (last)`, timeline: atOnce.peerjs }] : []),
  ])
}

export async function benchConnect() {
  const max = Math.max(...SIZES)
  const servers = await startServers()
  const people = await launchPeople(max).catch(async (err: unknown) => {
    await servers.stop()
    throw err
  })
  const browsers = people.map((p) => p.browser)
  const at = servers.direct
  try {
    console.log(
      `\nOpen a room link in a new tab → connected to everyone (separate Chromium processes, empty cache; ` +
        `${RUNS} runs after a warm-up, Parley and PeerJS alternating on the same browsers; ${machine()})`,
    )
    const connectRows: string[][] = []
    const cpuRows: string[][] = []
    const atOnce: Partial<Record<Contender, Timeline>> = {}
    let splitAt: { size: number; parley: Map<string, number>; peerjs: Map<string, number> } | undefined
    for (const size of SIZES) {
      const runs = await interleaved(browsers, at, size, async (contender, opened) => {
        if (size === max) atOnce[contender] = await readTimeline(lastConnected(opened))
      })
      const p = runs.parley.map((r) => r.seconds)
      const j = runs.peerjs.map((r) => r.seconds)
      connectRows.push([
        String(size),
        secs(median(p)),
        secs(Math.min(...p)),
        secs(Math.max(...p)),
        secs(median(j)),
        secs(Math.min(...j)),
        secs(Math.max(...j)),
        times(median(p), median(j)),
        `≤ ${TARGET_CONNECT_RATIO.toFixed(2)}×`,
        met(median(p) / median(j) <= TARGET_CONNECT_RATIO),
      ])
      const pc = median(runs.parley.map((r) => r.cpu))
      const jc = median(runs.peerjs.map((r) => r.cpu))
      cpuRows.push([String(size), secs(pc), secs(jc), times(pc, jc)])
      if (size === SIZES[0])
        splitAt = { size, parley: meanSplit(runs.parley.map((r) => r.split)), peerjs: meanSplit(runs.peerjs.map((r) => r.split)) }
    }
    table(['browsers', 'Parley median', 'min', 'max', 'PeerJS median', 'min', 'max', 'Parley/PeerJS', 'target', ''], connectRows)

    console.log("\nCPU per browser per join: user + system CPU of each browser's whole process tree (browser, renderer, GPU, utility),")
    console.log('from just before the tabs navigate until everyone is connected, averaged over the browsers; median of the runs')
    table(['browsers', 'Parley', 'PeerJS', 'Parley/PeerJS'], cpuRows)
    if (splitAt) {
      printCpuSplit(
        `CPU per browser per join at ${splitAt.size} browsers, by process and thread (every thread's /proc/<pid>/task/<tid>/schedstat; mean of the runs)`,
        splitAt.parley,
        splitAt.peerjs,
      )
    }

    // A round trip that times out on a loaded machine is a finding, not a reason to lose the newcomer figures.
    await roundTrips(browsers, at).catch((err: Error) => console.log(`\nMessage round trip: FAILED — ${err.message}`))

    if (max >= 2) await benchNewcomer(browsers, servers, atOnce)
  } finally {
    printQuietWaits()
    await closeAll(people)
    await servers.stop()
  }
}
