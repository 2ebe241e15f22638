// The processes of the server benchmarks: Parley's built server, PeerServer and load generators, each
// spawned on 127.0.0.1 with its open-file limit raised as far as the hard limit allows, plus what
// /proc says about them.
import { type ChildProcess, spawn } from 'node:child_process'
import { cpus, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { collectGarbage as collectGarbageIn, SERVER_MAIN, TEST_SECRET, within } from '../helpers'
import type { Command, Reply } from './ipc'

export { cpuSeconds, nofile, rssBytes } from './proc-info'

/** What the benchmarks ask `ulimit -n` for; the hard limit may cap it (say so in the output). */
export const WANTED_NOFILE = 65_536
const START_TIMEOUT_MS = 15_000
const STOP_TIMEOUT_MS = 5_000
// Port 0: the inspector picks a free port and prints its URL.
const INSPECT = '--inspect=127.0.0.1:0'

const PEERSERVER_MAIN = fileURLToPath(new URL('./peerserver.ts', import.meta.url))
const LOADGEN_MAIN = fileURLToPath(new URL('./loadgen.ts', import.meta.url))

export interface Proc {
  label: string
  child: ChildProcess
  pid: number
  output: () => string
  stop(): Promise<void>
}

// Whatever is still running when the benchmark process exits (an uncaught error included) goes with it.
const running = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/** `node <args>` through bash, so `ulimit -n` applies to it alone; `exec` keeps the pid (and IPC fd). */
function spawnNode(label: string, nodeArgs: string[], env: Record<string, string> = {}, ipc = false): Proc {
  const script = `ulimit -n ${WANTED_NOFILE} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`
  const child = spawn('bash', ['-c', script, 'bash', process.execPath, ...nodeArgs], {
    env: { ...process.env, ...env },
    stdio: ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()))
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()))
  running.add(child)
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      running.delete(child)
      resolve()
    })
  })
  return {
    label,
    child,
    pid: child.pid!,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
      await exited
      clearTimeout(timer)
    },
  }
}

function waitFor(proc: Proc, pattern: RegExp): Promise<RegExpExecArray> {
  return within(
    new Promise((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(proc.output())
        if (match) resolve(match)
      }
      proc.child.stdout!.on('data', check)
      proc.child.once('exit', (code) => reject(new Error(`${proc.label} exited (${code}) before starting:\n${proc.output()}`)))
      check()
    }),
    START_TIMEOUT_MS,
    `${proc.label} to start`,
  )
}

export interface ServerProc extends Proc {
  port: number
  url: string
}

// Another build of the server (say, main's, for a before/after in one sitting) when asked for.
const PARLEY_MAIN = process.env.BENCH_PARLEY_MAIN ?? SERVER_MAIN

/**
 * The built Parley server (dist/signaling/main.js, or `main`: another build, which serves its own page).
 * `BENCH_CPU_PROF=<dir>` writes a V8 CPU profile there.
 */
export async function startParley(args: string[], { inspect = false, main = PARLEY_MAIN } = {}): Promise<ServerProc> {
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []
  const proc = spawnNode(
    'Parley',
    [...prof, ...(inspect ? [INSPECT] : []), main, '--host', '127.0.0.1', '--port', '0', '--log-level', 'warn', ...args],
    { PARLEY_SECRET: TEST_SECRET, PARLEY_ICE_SERVERS: '[]' },
  )
  try {
    const url = (await waitFor(proc, /running at (http:\/\/[^\s/]+)\//))[1]!
    return { ...proc, url, port: Number(new URL(url).port) }
  } catch (err) {
    await proc.stop()
    throw err
  }
}

/** PeerServer 1.x (`peer`) in its own process, through its API (see peerserver.ts); answers `stats` over IPC. */
export async function startPeerServer({ inspect = false } = {}): Promise<ServerProc & { stats(): Promise<ProcessStats> }> {
  const proc = spawnNode('PeerServer', [...(inspect ? [INSPECT] : []), '--import', 'tsx', PEERSERVER_MAIN], {}, true)
  try {
    const port = Number((await waitFor(proc, /PeerServer listening on port (\d+)/))[1])
    const stats = () =>
      new Promise<ProcessStats>((resolve) => {
        proc.child.once('message', (m) => resolve(m as ProcessStats))
        proc.child.send('stats')
      })
    return { ...proc, port, url: `http://127.0.0.1:${port}`, stats }
  } catch (err) {
    await proc.stop()
    throw err
  }
}

/**
 * A full garbage collection in a process started with `inspect`, through the inspector protocol, so
 * memory figures count what is live rather than what the last collection happened to leave.
 */
export const collectGarbage = (proc: Proc): Promise<void> => collectGarbageIn(proc.output())

/** Heap and event-loop delay of a server over the time since the previous call (the histogram resets). */
export interface ProcessStats {
  heapUsed: number
  lagP50: number
  lagP99: number
  lagMax: number
}

export interface Generator extends Proc {
  call<C extends Command>(command: C): Promise<Reply<C>>
}

/** A load generator process (loadgen.ts) driven by request/reply over IPC. */
export async function startGenerator(label: string): Promise<Generator> {
  const proc = spawnNode(label, ['--import', 'tsx', LOADGEN_MAIN], {}, true)
  let next = 0
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  proc.child.on('message', (raw) => {
    const m = raw as { id: number; ok: boolean; value?: unknown; error?: string }
    const waiter = pending.get(m.id)
    pending.delete(m.id)
    if (m.ok) waiter?.resolve(m.value)
    else waiter?.reject(new Error(`${label}: ${m.error}`))
  })
  proc.child.once('exit', (code) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`${label} exited (${code}):\n${proc.output()}`))
    pending.clear()
  })
  await waitFor(proc, /loadgen ready/)
  return {
    ...proc,
    call<C extends Command>(command: C) {
      const id = next++
      return new Promise<Reply<C>>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
        proc.child.send({ id, command })
      })
    },
  }
}

/** The machine, and how busy it already is: the servers and generators share its CPUs. */
export const machine = () => `${cpus().length} CPUs, load average ${loadavg()[0]!.toFixed(2)} before starting`

/** Stops every process given, in parallel, whatever state each is in. */
export async function stopAll(procs: Array<Proc | undefined>): Promise<void> {
  await Promise.all(procs.map((p) => p?.stop().catch(() => undefined)))
}

/** Parses a Prometheus text exposition into name → value (unlabelled samples only). */
export async function scrapeMetrics(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const values = new Map<string, number>()
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z_:][A-Za-z0-9_:]*) (\S+)$/.exec(line)
    if (match) values.set(match[1]!, Number(match[2]))
  }
  return values
}
