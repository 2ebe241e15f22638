// Signal POSTs written straight to keep-alive sockets, with the headers Chromium's fetch sends from the
// shared worker. A browser sends them from its network stack, in native code and off the page's thread;
// Node's `http.request` spends some 50 µs of JavaScript on each (test/bench/README.md, "Relay signal path,
// fourth pass"), which would sit inside Parley's relay latency. PeerServer's client still frames and masks
// its WebSocket messages in JavaScript (`ws`), a few µs each. The relay bench sends Parley's signals both
// ways in the same run (the `node client` rows go through `http.request`).
import { connect, type Socket } from 'node:net'

/** Status and body text of an answer, or an error label when none came (the socket failed first). */
export type PostDone = (status: number, text: string, error?: string) => void

interface Connection {
  socket: Socket
  /** The answer this socket waits for (one request at a time: browsers do not pipeline). */
  done: PostDone | undefined
  received: Buffer
  error: string
}

/** What Chromium 156's fetch of `POST /v1/signal` sent from the shared worker, Host, length and auth aside. */
const browserHeaders = (origin: string) =>
  [
    'Connection: keep-alive',
    'sec-ch-ua-platform: "Linux"',
    'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36',
    'sec-ch-ua: "Chromium";v="156", "Not-A.Brand";v="24", "HeadlessChrome";v="156"',
    'Content-Type: application/json',
    'sec-ch-ua-mobile: ?0',
    'Accept: */*',
    `Origin: ${origin}`,
    'Sec-Fetch-Site: same-origin',
    'Sec-Fetch-Mode: cors',
    'Sec-Fetch-Dest: empty',
    `Referer: ${origin}/`,
    'Accept-Encoding: gzip, deflate, br, zstd',
    'Accept-Language: en-US,en;q=0.9',
  ].join('\r\n')

const HEAD_END = Buffer.from('\r\n\r\n')

/**
 * One whole answer at the start of `received`: its status, body and length in bytes; undefined while it
 * is still arriving; null for what this client cannot read (no status line, a chunked body).
 */
function parseAnswer(received: Buffer): { status: number; text: string; length: number } | null | undefined {
  const headEnd = received.indexOf(HEAD_END)
  if (headEnd === -1) return undefined
  const head = received.toString('latin1', 0, headEnd)
  if (!head.startsWith('HTTP/1.1 ') || /\r\ntransfer-encoding:/i.test(head)) return null
  const match = /\r\ncontent-length:\s*(\d+)/i.exec(head)
  const length = headEnd + HEAD_END.length + (match ? Number(match[1]) : 0)
  if (received.length < length) return undefined
  return { status: Number(head.slice(9, 12)), text: received.toString('utf8', headEnd + HEAD_END.length, length), length }
}

/** Up to `size` keep-alive connections to `host:port`; requests beyond them wait for a free one, in order. */
export function createPostPool(host: string, port: number, size: number) {
  const origin = `http://${host}:${port}`
  const headers = browserHeaders(origin)
  const all = new Set<Connection>()
  const idle: Connection[] = []
  const waiting: Array<{ request: Buffer; done: PostDone }> = []
  let closed = false

  const dispatch = (connection: Connection) => {
    const next = waiting.shift()
    if (!next) return void idle.push(connection)
    connection.done = next.done
    connection.socket.write(next.request)
  }

  const opened = () => {
    const socket = connect({ host, port, noDelay: true })
    const connection: Connection = { socket, done: undefined, received: Buffer.alloc(0), error: 'ECONNRESET' }
    all.add(connection)
    socket.on('data', (chunk: Buffer) => {
      connection.received = connection.received.length === 0 ? chunk : Buffer.concat([connection.received, chunk])
      const answer = parseAnswer(connection.received)
      if (answer === undefined) return
      // Unreadable, or an answer nobody asked for: this socket's stream can no longer be trusted.
      if (answer === null || !connection.done) {
        connection.error = 'unreadable answer'
        return void socket.destroy()
      }
      const { done } = connection
      connection.received = connection.received.subarray(answer.length)
      connection.done = undefined
      done(answer.status, answer.text)
      dispatch(connection)
    })
    socket.on('error', (err: NodeJS.ErrnoException) => (connection.error = err.code ?? err.message))
    socket.on('close', () => {
      all.delete(connection)
      const index = idle.indexOf(connection)
      if (index !== -1) idle.splice(index, 1)
      connection.done?.(0, '', connection.error)
      if (waiting.length > 0 && !closed) opened()
    })
    dispatch(connection)
  }

  return {
    post(path: string, auth: string | undefined, body: string, done: PostDone): void {
      if (closed) return void done(0, '', 'closed')
      const request = Buffer.from(
        `POST ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
          `${auth === undefined ? '' : `Authorization: ${auth}\r\n`}${headers}\r\n\r\n${body}`,
      )
      waiting.push({ request, done })
      const free = idle.pop()
      if (free) dispatch(free)
      else if (all.size < size) opened()
    },
    close(): void {
      closed = true
      for (const { done } of waiting.splice(0)) done(0, '', 'closed')
      for (const { socket } of all) socket.destroy()
    },
  }
}
