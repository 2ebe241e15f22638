// The connect bench with the servers far away: every server (Parley's, PeerServer, the PeerJS page's)
// behind a proxy that holds each chunk BENCH_DELAY_MS each way. Loopback hides how many times a join
// waits on the server; this shows it, as time and as a count of what crossed the proxy.
import { closeAll, launchPeople } from '../browsers'
import { CONTENDERS, interleaved, newcomer, RUNS, SIZES } from './connect'
import { startServers } from './endpoints'
import { printQuietWaits } from './quiet'
import { int, median, secs, table, times } from './stats'
import { type Contender, NAMES } from './tabs'

const DELAY_MS = Number(process.env.BENCH_DELAY_MS ?? 25)
const DELAY_SIZES = (process.env.BENCH_DELAY_SIZES ?? SIZES.join(',')).split(',').map(Number)

export async function benchDelay() {
  const max = Math.max(...DELAY_SIZES, 2)
  const servers = await startServers(DELAY_MS)
  const people = await launchPeople(max).catch(async (err: unknown) => {
    await servers.stop()
    throw err
  })
  const browsers = people.map((p) => p.browser)
  try {
    const delayed = servers.delayed!
    console.log(
      `\nDelayed servers: each server behind a TCP proxy holding every chunk ${DELAY_MS} ms each way ` +
        `(RTT ${2 * DELAY_MS} ms; Parley's server; the PeerJS page's server and PeerServer), ${RUNS} runs after a warm-up`,
    )
    const rows: string[][] = []
    for (const size of DELAY_SIZES) {
      const runs = await interleaved(browsers, delayed, size)
      const p = median(runs.parley.map((r) => r.seconds))
      const j = median(runs.peerjs.map((r) => r.seconds))
      rows.push([String(size), secs(p), secs(j), times(p, j)])
    }
    table(['browsers', 'Parley median', 'PeerJS median', 'Parley/PeerJS'], rows)

    // A newcomer into a room of one: its critical path, with and without the delay.
    const pair = browsers.slice(0, 2)
    const found: Record<Contender, { direct: number[]; delayed: number[]; counts: Array<Record<string, number>> }> = {
      parley: { direct: [], delayed: [], counts: [] },
      peerjs: { direct: [], delayed: [], counts: [] },
    }
    for (let run = 0; run < RUNS; run++) {
      for (const contender of CONTENDERS) {
        found[contender].direct.push((await newcomer(contender, pair, servers.direct)).seconds)
        const join = await newcomer(contender, pair, delayed, servers.newcomer)
        found[contender].delayed.push(join.seconds)
        const counts: Record<string, number> = {}
        // The other contender's proxies see nothing meanwhile: each run is one contender's.
        for (const proxy of servers.proxies.newcomer) {
          for (const [kind, n] of Object.entries(proxy.count(join.startedAt, join.connectedAt))) counts[kind] = (counts[kind] ?? 0) + n
        }
        found[contender].counts.push(counts)
      }
    }
    console.log(
      `\n  A newcomer joining a room of 1, open link → connected (medians of ${RUNS}); round trips on its critical path ` +
        `≈ time the delay added ÷ ${2 * DELAY_MS} ms. Counted at the proxies from the newcomer's navigation to its connection ` +
        "(the newcomer's own traffic: it reaches the servers through proxies of its own; TCP set-up is not delayed, only data)",
    )
    table(
      [
        '',
        'direct',
        'delayed',
        'added',
        '≈ round trips',
        'connections',
        'page requests',
        'API requests',
        'WS opened',
        'SSE events',
        'WS frames → server',
        'WS frames → browser',
      ],
      CONTENDERS.map((c) => {
        const f = found[c]
        const added = median(f.delayed) - median(f.direct)
        const count = (kind: string) => int(median(f.counts.map((x) => x[kind] ?? 0)))
        return [
          NAMES[c],
          secs(median(f.direct)),
          secs(median(f.delayed)),
          secs(added),
          (added / ((2 * DELAY_MS) / 1000)).toFixed(1),
          count('connection'),
          count('page-request'),
          count('api-request'),
          count('ws-open'),
          count('sse-event'),
          count('ws-to-server'),
          count('ws-to-browser'),
        ]
      }),
    )
    console.log(
      '  (physical floor: the page, then join 1 round trip + offer relayed 1 + answer relayed 1, then ICE, DTLS and SCTP between the browsers)',
    )
  } finally {
    printQuietWaits()
    await closeAll(people)
    await servers.stop()
  }
}
