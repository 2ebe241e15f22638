// What /proc says about a process: memory, CPU time, open-file limit (Linux only, as the benchmarks are).
import { readFileSync } from 'node:fs'

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
