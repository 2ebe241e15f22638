// What /proc says about a process: memory, CPU time, open-file limit (Linux only, as the benchmarks are).
import { readdirSync, readFileSync } from 'node:fs'

// Linux reports CPU time in clock ticks of USER_HZ, which is 100 on every mainstream kernel.
const CLOCK_TICKS_PER_SEC = 100

/** Resident set size in bytes, from /proc/<pid>/status. */
export function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match ? Number(match[1]) * 1024 : NaN
}

/** User + system CPU seconds the process has used, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) may contain spaces; fields after its closing parenthesis are plain.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SEC
}

/** The open-file limits the process actually got (`unlimited` reads as Infinity). */
export function nofile(pid: number): { soft: number; hard: number } {
  const match = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))
  const value = (raw: string | undefined) => (raw === undefined ? NaN : raw === 'unlimited' ? Infinity : Number(raw))
  return { soft: value(match?.[1]), hard: value(match?.[2]) }
}

/** The pid and every descendant of it, from the parent pid field of /proc/<pid>/stat. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)])
    } catch {
      // Gone between the listing and the read.
    }
  }
  const tree: number[] = []
  const visit = (pid: number) => {
    tree.push(pid)
    for (const child of children.get(pid) ?? []) visit(child)
  }
  visit(root)
  return tree
}

/**
 * CPU seconds of a process and all its live descendants (Chromium's renderers, GPU and utility
 * processes). A child that exits in between takes its time with it: compare trees whose processes
 * outlive the interval.
 */
export function treeCpuSeconds(root: number): number {
  let total = 0
  for (const pid of processTree(root)) {
    try {
      total += cpuSeconds(pid)
    } catch {
      // Gone between the listing and the read.
    }
  }
  return total
}

/**
 * Nanosecond-resolution CPU seconds of a process, all its threads summed, from each thread's
 * /proc/<pid>/task/<tid>/schedstat (time on a CPU): utime + stime count whole 10 ms ticks, too coarse
 * for the few milliseconds a server spends on one join.
 */
export function preciseCpuSeconds(pid: number): number {
  let ns = 0
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0])
    } catch {
      // A thread that ended between the listing and the read.
    }
  }
  return ns / 1e9
}

/** CPU time the whole machine has spent busy and in all (every CPU; idle and iowait are not busy), from /proc/stat. */
export function machineTicks(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number)
  const total = fields.reduce((sum, n) => sum + n, 0)
  return { busy: total - fields[3]! - fields[4]!, total }
}
