import { type ChildProcess, spawn } from 'node:child_process'
import { type ClientRequest, createServer, type IncomingMessage, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { nanoid } from 'nanoid'
import WebSocket from 'ws'
import { type AppOptions, createApp } from '../signaling/app'
import type { JoinResponse } from '../signaling/protocol'

export const DIST_CLIENT = fileURLToPath(new URL('../dist/client', import.meta.url))
export const TEST_SECRET = 'test-secret-0123456789abcdef'

export const randomRoom = () => `room-${nanoid(10)}`

/** Fails with `message` after `ms` unless `promise` settles first (tests wait on events, bounded). */
export function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${message}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/**
 * Checks every `everyMs` until `check` holds, failing with `message` after `ms`: for state that no event
 * announces (an endpoint's answer, a port, a page's counters). Stops polling when it fails.
 */
export async function pollUntil(check: () => Promise<boolean>, ms: number, message: string, everyMs = 50): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    if (await within(check(), Math.max(1, deadline - Date.now()), message)) return
    if (Date.now() + everyMs > deadline) throw new Error(`timed out after ${ms} ms: ${message}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

export interface TestServer {
  url: string
  api: string
  port: number
  stats: ReturnType<typeof createApp>['stats']
  close(): Promise<void>
}

/** A real server on 127.0.0.1, port 0. */
export async function startServer(options: Partial<AppOptions> = {}, port = 0): Promise<TestServer> {
  const parley = createApp({ secret: TEST_SECRET, staticDir: DIST_CLIENT, ...options })
  const server = createServer(parley.handler)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })
  const actual = (server.address() as AddressInfo).port
  const url = `http://127.0.0.1:${actual}`
  return {
    url,
    api: `${url}/v1`,
    port: actual,
    stats: parley.stats,
    close: () =>
      new Promise((resolve) => {
        parley.close()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

export async function postJson(url: string, body: unknown, token?: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : null }
}

export async function join(api: string, room: string, token?: string, extra: Record<string, unknown> = {}) {
  const res = await postJson(`${api}/join`, { room, ...extra }, token)
  if (res.status !== 200) throw new Error(`join failed: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body as unknown as JoinResponse
}

export interface SseEvent {
  id: string | undefined
  event: string
  data: string
}

/**
 * A spec-following SSE reader over a raw HTTP response, keeping the exact bytes for frame assertions.
 * It never reconnects by itself: tests decide when to resume.
 */
export class SseClient {
  readonly events: SseEvent[] = []
  raw = ''
  comments = 0
  retry: number | undefined
  lastEventId: string | undefined
  status = 0
  headers: IncomingMessage['headers'] = {}
  closed = false
  private req: ClientRequest | undefined
  private res: IncomingMessage | undefined
  private waiters = new Set<() => void>()
  private pending = ''
  private current: { id?: string; event?: string; data: string[] } = { data: [] }

  static open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const client = new SseClient()
    return new Promise((resolve, reject) => {
      client.req = request(url, { agent: false, headers: { accept: 'text/event-stream', ...headers } }, (res) => {
        client.res = res
        client.status = res.statusCode ?? 0
        client.headers = res.headers
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => client.feed(chunk))
        res.on('close', () => {
          client.closed = true
          client.notify()
        })
        resolve(client)
      })
      client.req.on('error', (err) => {
        client.closed = true
        client.notify()
        if (!client.res) reject(err)
      })
      client.req.end()
    })
  }

  private notify() {
    for (const waiter of this.waiters) waiter()
  }

  private feed(chunk: string) {
    this.raw += chunk
    this.pending += chunk
    const lines = this.pending.split(/\r\n|\r|\n/)
    this.pending = lines.pop()!
    for (const line of lines) this.line(line)
    this.notify()
  }

  private line(line: string) {
    if (line === '') {
      if (this.current.data.length > 0) {
        if (this.current.id !== undefined) this.lastEventId = this.current.id
        this.events.push({ id: this.current.id, event: this.current.event ?? 'message', data: this.current.data.join('\n') })
      }
      this.current = { data: [] }
      return
    }
    if (line.startsWith(':')) {
      this.comments++
      return
    }
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'data') this.current.data.push(value)
    else if (field === 'event') this.current.event = value
    else if (field === 'id') this.current.id = value
    else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value)
  }

  /** Resolves once `check` holds, re-checking on every chunk; rejects when the stream closes first. */
  until<T>(check: () => T | undefined | false, ms = 5_000, what = 'stream condition'): Promise<T> {
    return within(
      new Promise<T>((resolve, reject) => {
        const test = () => {
          const value = check()
          if (value !== undefined && value !== false) {
            this.waiters.delete(test)
            resolve(value)
          } else if (this.closed) {
            this.waiters.delete(test)
            reject(new Error(`stream closed while waiting for ${what}`))
          }
        }
        this.waiters.add(test)
        test()
      }),
      ms,
      what,
    )
  }

  /** The next event of `type` (optionally matching `where`) not yet returned by this method. */
  private taken = new Set<SseEvent>()
  next(type: string, where: (data: Record<string, unknown>) => boolean = () => true, ms = 5_000) {
    return this.until(
      () => {
        const found = this.events.find((e) => !this.taken.has(e) && e.event === type && where(JSON.parse(e.data)))
        if (found) this.taken.add(found)
        return found && { ...found, json: JSON.parse(found.data) as Record<string, unknown> }
      },
      ms,
      `event "${type}"`,
    )
  }

  ofType(type: string) {
    return this.events.filter((e) => e.event === type).map((e) => JSON.parse(e.data) as Record<string, unknown>)
  }

  /** Drops the connection from the client side, as a network blip would. */
  close() {
    this.req?.destroy()
    this.res?.destroy()
  }

  closedPromise(ms = 5_000) {
    return this.until(() => this.closed || undefined, ms, 'stream close')
  }
}

export const streamUrl = (api: string, joined: Pick<JoinResponse, 'key'>, lastEventId?: string) =>
  `${api}/stream?key=${encodeURIComponent(joined.key)}${lastEventId ? `&lastEventId=${encodeURIComponent(lastEventId)}` : ''}`

/** Joins a room and opens the session's stream: the usual first two requests of a client. */
export async function connectPeer(api: string, room: string, token?: string) {
  const joined = await join(api, room, token)
  const stream = await SseClient.open(streamUrl(api, joined))
  await stream.next('roster', (d) => d.to === joined.peer)
  return { ...joined, stream }
}

/** A raw HTTP request (for malformed methods, headers and paths that fetch refuses to send). */
export function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<{ status: number; body: string; headers: IncomingMessage['headers'] }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => {
        body += c
        // Streams never end: an SSE answer is enough once its headers arrive.
        if (res.headers['content-type']?.startsWith('text/event-stream')) req.destroy()
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }))
      res.on('close', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }))
    })
    req.on('error', reject)
    if (options.body !== undefined) req.write(options.body)
    req.end()
  })
}

/**
 * A full garbage collection in a process started with `--inspect=127.0.0.1:0` (its `output` holds the
 * inspector's URL): what its memory comes back to once nothing dead is left on the heap.
 */
export async function collectGarbage(output: string): Promise<void> {
  const url = /Debugger listening on (ws:\/\/\S+)/.exec(output)?.[1]
  if (!url) throw new Error('the process was not started with the inspector')
  const ws = new WebSocket(url)
  try {
    await within(
      new Promise<void>((resolve, reject) => {
        ws.on('open', () => ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' })))
        ws.on('message', (raw) => (JSON.parse(raw.toString()) as { id?: number }).id === 1 && resolve())
        ws.on('error', reject)
      }),
      10_000,
      'a full garbage collection',
    )
  } finally {
    ws.close()
  }
}

export const SERVER_MAIN = fileURLToPath(new URL('../dist/signaling/main.js', import.meta.url))

export interface ServerProcess {
  url: string
  api: string
  port: number
  child: ChildProcess
  output: () => string
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/**
 * The built server (`dist/signaling/main.js`, as `npm start` runs it) in its own process, so tests can
 * kill and restart it for real. Listens on 127.0.0.1; port 0 unless given.
 */
export async function spawnServer(args: string[] = [], env: Record<string, string> = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, [SERVER_MAIN, '--host', '127.0.0.1', '--port', '0', '--log-level', 'warn', ...args], {
    env: { ...process.env, PARLEY_SECRET: TEST_SECRET, PARLEY_ICE_SERVERS: '[]', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()))
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const url = await within(
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const match = /running at (http:\/\/[^\s/]+)\//.exec(output)
        if (match) resolve(match[1]!)
      }
      child.stdout!.on('data', check)
      void exited.then((code) => reject(new Error(`server exited (${code}) before listening:\n${output}`)))
    }),
    15_000,
    'server process to listen',
  )
  return {
    url,
    api: `${url}/v1`,
    port: Number(new URL(url).port),
    child,
    output: () => output,
    exited,
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}

/** A room link as Create room makes it: a fresh room and its secret in the fragment. */
export const roomLink = (base: string) => `${base}/r/${randomRoom()}#${nanoid(22)}`
