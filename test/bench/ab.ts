// Two builds of Parley side by side in one sitting: `BENCH_AB_MAIN=<other build's signaling/main.js>
// tsx test/bench/ab.ts`. A newcomer joins a room of BENCH_AB_ROOM, the builds alternating run by run
// (BENCH_AB_RUNS each) on the same browsers, each build serving its own page: its time and its
// browser's CPU split by process and thread, so a cut of a few ms shows on a loaded machine, and the
// build's server CPU over the same window (every thread of its process).
// BENCH_AB_AT_ONCE=1: all BENCH_AB_ROOM + 1 open the link at once instead (the last one's time, CPU means).
import { loadavg } from 'node:os'
import { closeAll, launchPeople } from '../browsers'
import { serviceWorkersReady } from './connect'
import { meanSplit, printCpuSplit } from './cpu-split'
import { PARLEY_ARGS } from './endpoints'
import { preciseCpuSeconds } from './proc-info'
import { startParley, stopAll } from './procs'
import { settle } from './quiet'
import { mean, median, ms, secs, table } from './stats'
import { type Endpoints, openTabs, roomLinks } from './tabs'

const OTHER = process.env.BENCH_AB_MAIN
const RUNS = Number(process.env.BENCH_AB_RUNS ?? 8)
const ROOM = Number(process.env.BENCH_AB_ROOM ?? 1)
const AT_ONCE = process.env.BENCH_AB_AT_ONCE === '1'
if (!OTHER) throw new Error('BENCH_AB_MAIN=<path to the other build of dist/signaling/main.js>')

const builds = await Promise.all([startParley(PARLEY_ARGS), startParley(PARLEY_ARGS, { main: OTHER })])
const people = await launchPeople(ROOM + 1)
const browsers = people.map((p) => p.browser)
const labels = ['this build', 'BENCH_AB_MAIN']
const joins = labels.map(() => [] as Array<{ seconds: number; cpu: number; server: number; split: Map<string, number> }>)
try {
  console.log(`load average ${loadavg()[0]!.toFixed(2)} before starting`)
  for (let run = 0; run <= RUNS; run++) {
    for (const b of run % 2 ? [1, 0] : [0, 1]) {
      const at = { parley: builds[b]!.url } as Endpoints
      const links = roomLinks('parley', at)
      await settle()
      if (AT_ONCE) {
        const before = preciseCpuSeconds(builds[b]!.pid)
        const all = await openTabs('parley', browsers, links, ROOM)
        const server = preciseCpuSeconds(builds[b]!.pid) - before
        if (run > 0) joins[b]!.push({ seconds: all.seconds, cpu: mean(all.cpu), server, split: meanSplit(all.cpuSplits) })
        await all.close()
        continue
      }
      const room = await openTabs('parley', browsers.slice(0, ROOM), links, ROOM - 1)
      try {
        await serviceWorkersReady(room.pages)
        await settle()
        const before = preciseCpuSeconds(builds[b]!.pid)
        const joined = await openTabs('parley', browsers.slice(ROOM), links, ROOM, ROOM)
        const server = preciseCpuSeconds(builds[b]!.pid) - before
        // Run 0 warms both up and is not counted.
        if (run > 0) joins[b]!.push({ seconds: joined.seconds, cpu: joined.cpu[0]!, server, split: joined.cpuSplits[0]! })
        await joined.close()
      } finally {
        await room.close()
      }
    }
  }
  console.log(`load average ${loadavg()[0]!.toFixed(2)} at the end`)
  table(
    ['', 'time (median)', "browser's CPU (median)", 'server CPU (median)'],
    joins.map((j, b) => [
      labels[b]!,
      secs(median(j.map((x) => x.seconds))),
      secs(median(j.map((x) => x.cpu))),
      ms(median(j.map((x) => x.server)) * 1000),
    ]),
  )
  printCpuSplit(
    `${AT_ONCE ? 'Each' : "The newcomer's"} browser's CPU by process and thread (mean of ${RUNS})`,
    meanSplit(joins[0]!.map((j) => j.split)),
    meanSplit(joins[1]!.map((j) => j.split)),
    labels as [string, string],
  )
} finally {
  await closeAll(people)
  await stopAll(builds)
}
