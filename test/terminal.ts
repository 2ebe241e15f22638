import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { within } from './helpers'

export const PARLEY_BIN = fileURLToPath(new URL('../bin/parley.mjs', import.meta.url))

/** One line the terminal client printed with --json (see client/node/terminal-chat.ts ChatOutput). */
export type Line = Record<string, unknown> & { type: string }

export interface Terminal {
  child: ChildProcess
  lines: Line[]
  stderr: () => string
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>
  send(input: unknown): void
  /** The first line (already printed or still to come) that `match` accepts. */
  next(match: (line: Line) => boolean, ms?: number, what?: string): Promise<Line>
  /** Ends its input (as EOF at a terminal) and waits for it to exit. */
  end(): Promise<number | null>
  kill(): Promise<number | null>
}

/** `parley chat <link> --json` as its own process, the way a bot would run it. */
export function spawnTerminal(args: string[]): Terminal {
  const child = spawn(process.execPath, [PARLEY_BIN, 'chat', ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  const lines: Line[] = []
  const waiters = new Set<() => void>()
  let stderr = ''
  let pending = ''
  child.stdout!.setEncoding('utf8')
  child.stdout!.on('data', (chunk: string) => {
    pending += chunk
    const parts = pending.split('\n')
    pending = parts.pop()!
    for (const part of parts) if (part.trim()) lines.push(JSON.parse(part) as Line)
    for (const waiter of waiters) waiter()
  })
  child.stderr!.setEncoding('utf8')
  child.stderr!.on('data', (chunk: string) => (stderr += chunk))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  void exited.then(() => {
    for (const waiter of waiters) waiter()
  })

  const next = (match: (line: Line) => boolean, ms = 20_000, what = 'a matching line') =>
    within(
      new Promise<Line>((resolve, reject) => {
        const check = () => {
          const found = lines.find(match)
          if (found) {
            waiters.delete(check)
            resolve(found)
          } else if (child.exitCode !== null || child.signalCode !== null) {
            waiters.delete(check)
            reject(new Error(`terminal exited before ${what}; printed ${JSON.stringify(lines)}; stderr ${stderr}`))
          }
        }
        waiters.add(check)
        check()
      }),
      ms,
      `terminal to print ${what}; printed ${JSON.stringify(lines)}`,
    )

  return {
    child,
    lines,
    stderr: () => stderr,
    exited,
    send: (input) => void child.stdin!.write(`${typeof input === 'string' ? input : JSON.stringify(input)}\n`),
    next,
    end() {
      child.stdin!.end()
      return exited
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      return exited
    },
  }
}
