// Capacity of the issue "Scale": how many open event streams one Parley process holds, what each costs
// in memory, and whether heartbeats and the event loop keep up; then PeerServer with as many
// WebSockets, for comparison. Load generators are processes of their own, several of them, since one
// process may hold at most its open-file limit of sockets.
import { setTimeout as sleep } from 'node:timers/promises'
import { nanoid } from 'nanoid'
import type { Target } from './ipc'
import {
  collectGarbage,
  cpuSeconds,
  type Generator,
  machine,
  nofile,
  type Proc,
  type ProcessStats,
  rssBytes,
  scrapeMetrics,
  startGenerator,
  startParley,
  startPeerServer,
  stopAll,
  WANTED_NOFILE,
} from './procs'
import { UNLIMITED } from './relay'
import { int, kib, mib, ms, pct, percentile, table } from './stats'

const LEVELS = (process.env.BENCH_CAPACITY_LEVELS ?? '10000,19000').split(',').map(Number)
const PEERSERVER_PEERS = Number(process.env.BENCH_CAPACITY_PEERSERVER ?? 10_000)
const GENERATORS = Number(process.env.BENCH_CAPACITY_GENERATORS ?? 2)
/** `browser`: streams opened as Chromium's EventSource does (fleet.ts); `bare`: fresh connections, `Accept` only. */
const CLIENT = process.env.BENCH_CAPACITY_CLIENT === 'bare' ? 'bare' : 'browser'
const HEARTBEAT_MS = 2_000
/** How long each level is held and watched: a few heartbeats' worth. */
const HOLD_MS = 6_000
/** Before the baseline: the server has started and served a first request. */
const SETTLE_MS = 1_000
/** A pause this long between heartbeat arrivals separates two ticks. */
const TICK_GAP_MS = HEARTBEAT_MS / 4
// Issue "Faster than PeerJS": memory per open stream ≤ 8 KB; 19,000 streams held with heartbeats on time.
const TARGET = { bytesPerPeer: 8 * 1024, peersPerProcess: 19_000 }

interface Level {
  target: Target
  peers: number
  failed: number
  openSeconds: number
  rss: number
  heap: number
  heapBeforeGc: number
  rssPerPeer: number
  heapPerPeer: number
  lag: Omit<ProcessStats, 'heapUsed'>
  cpu: number
  heartbeats: { min: number; median: number; max: number; zero: number; fanOutMs: number } | undefined
  closed: number
}

/** Splits `pairs` among the generators and opens them in parallel; returns peers opened and failed. */
async function open(generators: Generator[], target: Target, url: string, pairs: number) {
  const start = Date.now()
  const replies = await Promise.all(
    generators.map((g, i) => {
      const share = Math.floor(pairs / generators.length) + (i < pairs % generators.length ? 1 : 0)
      return g.call({
        cmd: 'connect',
        target,
        url,
        pairs: share,
        prefix: `c${nanoid(8)}`,
        clientHeartbeats: target === 'peerserver',
        browserStreams: CLIENT === 'browser',
      })
    }),
  )
  const errors = new Map<string, number>()
  for (const r of replies) for (const [k, v] of Object.entries(r.errors)) errors.set(k, (errors.get(k) ?? 0) + v)
  if (errors.size) console.log(`  (${target}: pairs that failed to open: ${[...errors].map(([k, v]) => `${k} ×${v}`).join(', ')})`)
  const retried = replies.reduce((n, r) => n + r.retried, 0)
  if (retried) console.log(`  (${target}: ${int(retried)} joins or streams resent after the server reset their reused keep-alive socket)`)
  return {
    peers: replies.reduce((n, r) => n + r.peers, 0),
    failed: replies.reduce((n, r) => n + r.failed, 0),
    seconds: (Date.now() - start) / 1000,
  }
}

async function takeHeartbeats(generators: Generator[]) {
  const replies = await Promise.all(generators.map((g) => g.call({ cmd: 'heartbeats' })))
  return { times: replies.flatMap((r) => r.times), closed: replies.reduce((n, r) => n + r.closed, 0) }
}

/**
 * How long one heartbeat takes to reach every stream: arrivals (one clock for all generators) fall in
 * bursts, one per tick; a tick's fan-out runs from its first arrival to its last. Only ticks that
 * reached every stream within the window count.
 */
function fanOut(times: number[][]): number {
  const all = times.flat().sort((a, b) => a - b)
  let worst = NaN
  let first = 0
  for (let i = 1; i <= all.length; i++) {
    if (i < all.length && all[i]! - all[i - 1]! < TICK_GAP_MS) continue
    if (i - first >= times.length) worst = Math.max(Number.isNaN(worst) ? 0 : worst, all[i - 1]! - all[first]!)
    first = i
  }
  return worst
}

/** Holds the current level for HOLD_MS and reads the server's memory, event loop, CPU and heartbeats. */
async function hold(server: Proc, generators: Generator[], stats: () => Promise<ProcessStats>) {
  await stats() // starts a fresh event-loop histogram
  await takeHeartbeats(generators)
  const cpu0 = cpuSeconds(server.pid)
  await sleep(HOLD_MS)
  const cpu = (cpuSeconds(server.pid) - cpu0) / (HOLD_MS / 1000)
  const beats = await takeHeartbeats(generators)
  const s = await stats()
  await collectGarbage(server)
  const live = { rss: rssBytes(server.pid), heap: (await stats()).heapUsed }
  const counts = beats.times.map((t) => t.length).sort((a, b) => a - b)
  const heartbeats = counts.length
    ? {
        min: counts[0]!,
        median: percentile(counts, 50),
        max: counts.at(-1)!,
        zero: counts.filter((d) => d === 0).length,
        fanOutMs: fanOut(beats.times),
      }
    : undefined
  return { live, heapBeforeGc: s.heapUsed, lag: s, cpu, heartbeats, closed: beats.closed }
}

const parleyStats = (url: string) => async (): Promise<ProcessStats> => {
  const m = await scrapeMetrics(url)
  return {
    heapUsed: m.get('nodejs_heap_size_used_bytes') ?? NaN,
    lagP50: m.get('nodejs_eventloop_lag_p50_seconds') ?? NaN,
    lagP99: m.get('nodejs_eventloop_lag_p99_seconds') ?? NaN,
    lagMax: m.get('nodejs_eventloop_lag_max_seconds') ?? NaN,
  }
}

async function measure(target: Target, levels: number[], generators: Generator[]): Promise<Level[]> {
  let server: (Proc & { url: string }) | undefined
  try {
    const peerServer = target === 'peerserver' ? await startPeerServer({ inspect: true }) : undefined
    server = peerServer ?? (await startParley([...UNLIMITED, '--heartbeat-ms', String(HEARTBEAT_MS)], { inspect: true }))
    const stats = peerServer ? peerServer.stats : parleyStats(server.url)
    await sleep(SETTLE_MS)
    await stats()
    await collectGarbage(server)
    const baseline = { rss: rssBytes(server.pid), heap: (await stats()).heapUsed }
    const limit = nofile(server.pid)
    console.log(
      `  ${target === 'parley' ? 'Parley' : 'PeerServer'} (pid ${server.pid}): open files soft ${int(limit.soft)} / hard ${int(limit.hard)}; ` +
        `baseline RSS ${mib(baseline.rss)}, heap ${mib(baseline.heap)}`,
    )
    const results: Level[] = []
    let opened = 0
    for (const level of levels) {
      const added = await open(generators, target, server.url, Math.round((level - opened) / 2))
      opened += added.peers
      const h = await hold(server, generators, stats)
      results.push({
        target,
        peers: opened,
        failed: added.failed,
        openSeconds: added.seconds,
        rss: h.live.rss,
        heap: h.live.heap,
        heapBeforeGc: h.heapBeforeGc,
        rssPerPeer: (h.live.rss - baseline.rss) / opened,
        heapPerPeer: (h.live.heap - baseline.heap) / opened,
        lag: h.lag,
        cpu: h.cpu,
        heartbeats: target === 'parley' ? h.heartbeats : undefined,
        closed: h.closed,
      })
    }
    return results
  } finally {
    await Promise.all(generators.map((g) => g.call({ cmd: 'close' }).catch(() => null)))
    await stopAll([server])
  }
}

export async function benchCapacity() {
  console.log(
    `\nCapacity: one server process, peers joined in rooms of 2 with their streams held open by ${GENERATORS} load-generator ` +
      `processes; each level held ${HOLD_MS / 1000} s (${machine()})`,
  )
  console.log(
    CLIENT === 'browser'
      ? `  (Parley streams opened as Chromium's EventSource does: its request headers, on the keep-alive connection the join went over)`
      : `  (Parley streams opened on fresh connections with only an Accept header: BENCH_CAPACITY_CLIENT=bare)`,
  )
  console.log(
    `  (Parley heartbeats every ${HEARTBEAT_MS / 1000} s (--heartbeat-ms ${HEARTBEAT_MS}), server → client; PeerServer: the client sends ` +
      `HEARTBEAT every 5 s, as peerjs does. Every process spawned through \`bash -c 'ulimit -n ${WANTED_NOFILE}; exec node …'\`)`,
  )
  const generators: Generator[] = []
  const results: Level[] = []
  try {
    for (let i = 0; i < GENERATORS; i++) generators.push(await startGenerator(`capacity generator ${i + 1}`))
    const limits = generators.map((g) => nofile(g.pid))
    console.log(
      `  generators (pids ${generators.map((g) => g.pid).join(', ')}): open files soft ${limits.map((l) => int(l.soft)).join(', ')} / ` +
        `hard ${limits.map((l) => int(l.hard)).join(', ')}${limits.some((l) => l.soft < WANTED_NOFILE) ? ` — the hard limit keeps each below the ${int(WANTED_NOFILE)} asked for` : ''}`,
    )
    results.push(...(await measure('parley', LEVELS, generators)))
    if (PEERSERVER_PEERS > 0) results.push(...(await measure('peerserver', [PEERSERVER_PEERS], generators)))
  } finally {
    await stopAll(generators)
  }

  const name = (r: Level) => (r.target === 'parley' ? 'Parley' : 'PeerServer 1.0')
  console.log('\n  Memory (after a full collection through the inspector at the end of each hold; per peer: growth since the')
  console.log('  baseline, also after a full collection, before any stream opened, divided by the peers open)')
  table(
    ['server', 'peers open', 'failed', 'open time', 'RSS', 'heap before GC', 'heap', 'RSS/peer', 'heap/peer'],
    results.map((r) => [
      name(r),
      int(r.peers),
      int(r.failed),
      `${r.openSeconds.toFixed(1)} s`,
      mib(r.rss),
      mib(r.heapBeforeGc),
      mib(r.heap),
      kib(r.rssPerPeer),
      kib(r.heapPerPeer),
    ]),
  )
  const parley = results.filter((r) => r.target === 'parley')
  if (parley.length >= 2) {
    const [a, b] = [parley.at(-2)!, parley.at(-1)!]
    console.log(
      `  Parley, marginal from ${int(a.peers)} to ${int(b.peers)} peers: ${kib((b.rss - a.rss) / (b.peers - a.peers))} RSS, ` +
        `${kib((b.heap - a.heap) / (b.peers - a.peers))} heap per peer`,
    )
  }

  console.log(`\n  Liveness during each ${HOLD_MS / 1000} s hold (server CPU; event-loop delay at 10 ms resolution; heartbeats per stream,`)
  console.log(`  expected ≈ ${HOLD_MS / HEARTBEAT_MS}; fan-out: longest time one heartbeat took from the first stream to the last)`)
  table(
    [
      'server',
      'peers open',
      'CPU',
      'lag p50',
      'lag p99',
      'lag max',
      'heartbeats min/med/max',
      'streams with none',
      'heartbeat fan-out',
      'closed',
    ],
    results.map((r) => [
      name(r),
      int(r.peers),
      pct(r.cpu),
      ms(r.lag.lagP50 * 1000),
      ms(r.lag.lagP99 * 1000),
      ms(r.lag.lagMax * 1000),
      r.heartbeats ? `${r.heartbeats.min} / ${r.heartbeats.median} / ${r.heartbeats.max}` : 'n/a (client → server)',
      r.heartbeats ? int(r.heartbeats.zero) : 'n/a',
      r.heartbeats ? ms(r.heartbeats.fanOutMs) : 'n/a',
      int(r.closed),
    ]),
  )

  const last = parley.at(-1)
  const peerServer = results.find((r) => r.target === 'peerserver')
  console.log('')
  table(
    ['target (product brief)', 'wanted', 'Parley', 'PeerServer 1.0 (same run)'],
    [
      [
        'server memory per connected peer',
        `≤ ${kib(TARGET.bytesPerPeer)}`,
        last
          ? `${kib(last.rssPerPeer)} RSS, ${kib(last.heapPerPeer)} heap (${last.rssPerPeer <= TARGET.bytesPerPeer ? 'met' : 'NOT met'} by RSS)`
          : '—',
        peerServer ? `${kib(peerServer.rssPerPeer)} RSS, ${kib(peerServer.heapPerPeer)} heap` : '—',
      ],
      [
        'peers per process',
        `≥ ${int(TARGET.peersPerProcess)}`,
        last ? `${int(last.peers)} open (${int(parley.reduce((n, r) => n + r.failed, 0))} failed, ${int(last.closed)} closed)` : '—',
        peerServer ? `${int(peerServer.peers)} open (${int(peerServer.failed)} failed; only ${int(PEERSERVER_PEERS)} tried)` : '—',
      ],
    ],
  )
}
