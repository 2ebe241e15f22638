// Where a browser's CPU goes: every thread of a Chromium process tree, by process type (browser,
// renderer, GPU, network service, storage service, other utilities) and thread name, from
// /proc/<pid>/task/<tid>/schedstat (nanoseconds on a CPU) and comm. Two snapshots give the split of an
// interval; a thread that started in between counts whole, one that ended takes its time with it.
import { readdirSync, readFileSync } from 'node:fs'
import { processTree } from './proc-info'
import { ms, table } from './stats'

/** CPU seconds per thread, keyed `pid/tid`, with the group it belongs to. */
export type CpuSnapshot = Map<string, { group: string; seconds: number }>

/** What Chromium's command line says a process is: `--type=…`, and a utility's sub-type. */
function processKind(pid: number): string {
  // Chromium's child processes retitle themselves: their arguments then read as one space-separated string.
  const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]/)
  const type = args.find((a) => a.startsWith('--type='))?.slice(7)
  if (type === undefined) return 'browser'
  if (type === 'gpu-process') return 'GPU'
  // Headless Chromium's own UI (the omnibox's WebUI) runs in a renderer too, whichever page a tab opens.
  if (type === 'renderer' && args.includes('--top-chrome-webui')) return 'renderer (browser UI)'
  if (type !== 'utility') return type
  const sub = args.find((a) => a.startsWith('--utility-sub-type='))?.slice(19) ?? ''
  if (sub.includes('NetworkService')) return 'network'
  if (sub.includes('StorageService')) return 'storage'
  return `utility ${sub.split('.')[0]}`
}

/**
 * Thread names are at most 15 characters and numbered per pool (`ThreadPoolForeg`, `Chrome_ChildIOT`):
 * the number goes, so that a pool's threads add up.
 */
const threadName = (pid: number, tid: string) =>
  Number(tid) === pid ? 'main' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim().replace(/\d+$/, '')

/** Every thread of the tree under `root`: its CPU seconds so far and its group. */
export function cpuSnapshot(root: number): CpuSnapshot {
  const snapshot: CpuSnapshot = new Map()
  for (const pid of processTree(root)) {
    try {
      const kind = processKind(pid)
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        try {
          const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0])
          snapshot.set(`${pid}/${tid}`, { group: `${kind} · ${threadName(pid, tid)}`, seconds: ns / 1e9 })
        } catch {
          // A thread that ended between the listing and the read.
        }
      }
    } catch {
      // A process that ended between the listing and the read.
    }
  }
  return snapshot
}

/** CPU seconds per group between two snapshots of the same tree. */
export function cpuSplit(before: CpuSnapshot, after: CpuSnapshot): Map<string, number> {
  const split = new Map<string, number>()
  for (const [key, { group, seconds }] of after) {
    split.set(group, (split.get(group) ?? 0) + seconds - (before.get(key)?.seconds ?? 0))
  }
  return split
}

/** Starts measuring each tree's split (a pid of 0: none); the function returned ends it. */
export function startCpuSplits(pids: number[]): () => Array<Map<string, number>> {
  const snapshot = (pid: number): CpuSnapshot => (pid ? cpuSnapshot(pid) : new Map())
  const before = pids.map(snapshot)
  return () => pids.map((pid, i) => cpuSplit(before[i]!, snapshot(pid)))
}

/** The mean of several splits (browsers, runs): a group missing from one counts as 0 there. */
export function meanSplit(splits: Array<Map<string, number>>): Map<string, number> {
  const sum = new Map<string, number>()
  for (const split of splits) for (const [group, s] of split) sum.set(group, (sum.get(group) ?? 0) + s)
  return new Map([...sum].map(([group, s]) => [group, s / splits.length]))
}

// A thread under this share of the larger contender's total, in both columns, goes into its process's
// "other threads" row, so the table stays short.
const SHOWN_MIN_SHARE = 0.01

const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0)

/** One row per group, Parley's biggest first, with a subtotal per process type. */
export function printCpuSplit(
  title: string,
  parley: Map<string, number>,
  peerjs: Map<string, number>,
  columns: [string, string] = ['Parley', 'PeerJS'],
): void {
  const groups = [...new Set([...parley.keys(), ...peerjs.keys()])]
  const of = (m: Map<string, number>, g: string) => m.get(g) ?? 0
  const shownMin = SHOWN_MIN_SHARE * Math.max(total(parley), total(peerjs))
  const kinds = [...new Set(groups.map((g) => g.split(' · ')[0]!))]
  const kindTotal = (m: Map<string, number>, kind: string) =>
    groups.filter((g) => g.startsWith(`${kind} · `)).reduce((t, g) => t + of(m, g), 0)
  const row = (label: string, a: number, b: number) => [label, ms(a * 1000), ms(b * 1000), ms((a - b) * 1000)]
  const rows: string[][] = []
  for (const kind of kinds.sort((a, b) => kindTotal(parley, b) - kindTotal(parley, a))) {
    rows.push(row(kind, kindTotal(parley, kind), kindTotal(peerjs, kind)))
    const inKind = groups.filter((g) => g.startsWith(`${kind} · `)).sort((a, b) => of(parley, b) - of(parley, a))
    const shown = inKind.filter((g) => Math.max(of(parley, g), of(peerjs, g)) >= shownMin)
    for (const g of shown) rows.push(row(`  ${g.slice(kind.length + 3)}`, of(parley, g), of(peerjs, g)))
    const rest = inKind.filter((g) => !shown.includes(g))
    if (rest.length > 0 && shown.length > 0) {
      const sum = (m: Map<string, number>) => rest.reduce((t, g) => t + of(m, g), 0)
      rows.push(row(`  ${rest.length} other threads`, sum(parley), sum(peerjs)))
    }
  }
  rows.push(row('total', total(parley), total(peerjs)))
  console.log(`\n${title}`)
  table(['process · thread', ...columns, 'difference'], rows)
}
