// Signal POSTs written straight to keep-alive sockets. A browser sends them from its network stack, in
// native code and off the page's thread; Node's `http.request` spends some 50 µs of JavaScript on each
// (measured here: test/bench/README.md, "Relay signal path, fourth pass"), which would sit inside
// Parley's relay latency while PeerServer's client pays one `ws` frame. So the relay bench sends
// Parley's signals this way, and also through `http.request` in the same run (the `node client` rows).
import { connect, type Socket } from 'node:net'

/** Status and body text of an answer, or an error label (the socket failed before it came). */
export type PostDone = (status: number, text: string, error?: string) => void

interface Pending {
  request: Buffer
  done: PostDone
  /** Sent once already on a reused socket that then closed: a browser resends such a request once. */
  resent: boolean
}

interface Connection {
  socket: Socket
  /** The request on this socket, awaiting its answer (one at a time: browsers do not pipeline). */
  current: Pending | undefined
  /** Whether an answer has come back on it (a request on a reused socket may meet its close). */
  reused: boolean
  received: Buffer
}

const HEAD_END = Buffer.from('\r\n\r\n')

/** Whether `received` holds one whole answer: its status, body and length in bytes; undefined if not yet. */
function parseAnswer(received: Buffer): { status: number; text: string; length: number } | undefined {
  const headEnd = received.indexOf(HEAD_END)
  if (headEnd === -1) return undefined
  const head = received.toString('latin1', 0, headEnd)
  const status = Number(head.slice(9, 12))
  const match = /\r\ncontent-length:\s*(\d+)/i.exec(head)
  const bodyLength = match ? Number(match[1]) : 0
  const length = headEnd + HEAD_END.length + bodyLength
  if (received.length < length) return undefined
  return { status, text: received.toString('utf8', headEnd + HEAD_END.length, length), length }
}

/** Up to `size` keep-alive connections to `host:port`; requests beyond them wait for a free one, in order. */
export function createPostPool(host: string, port: number, size: number) {
  const all = new Set<Connection>()
  const idle: Connection[] = []
  const waiting: Pending[] = []
  let closed = false

  const dispatch = (connection: Connection) => {
    const next = waiting.shift()
    if (!next) return void idle.push(connection)
    connection.current = next
    connection.socket.write(next.request)
  }

  const opened = () => {
    const connection: Connection = {
      socket: connect({ host, port, noDelay: true }),
      current: undefined,
      reused: false,
      received: Buffer.alloc(0),
    }
    all.add(connection)
    connection.socket.on('data', (chunk: Buffer) => {
      connection.received = connection.received.length === 0 ? chunk : Buffer.concat([connection.received, chunk])
      const answer = parseAnswer(connection.received)
      if (!answer || !connection.current) return
      connection.received = connection.received.subarray(answer.length)
      const { done } = connection.current
      connection.current = undefined
      connection.reused = true
      done(answer.status, answer.text)
      dispatch(connection)
    })
    connection.socket.on('error', () => {})
    connection.socket.on('close', () => {
      all.delete(connection)
      const index = idle.indexOf(connection)
      if (index !== -1) idle.splice(index, 1)
      const lost = connection.current
      if (lost && connection.reused && !lost.resent && !closed) {
        lost.resent = true
        waiting.unshift(lost)
      } else if (lost) {
        lost.done(0, '', 'ECONNRESET')
      }
      if (waiting.length > 0 && !closed) opened()
    })
    dispatch(connection)
  }

  return {
    post(path: string, headers: string, body: string, done: PostDone): void {
      if (closed) return void done(0, '', 'closed')
      const request = Buffer.from(
        `POST ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\n${headers}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      )
      waiting.push({ request, done, resent: false })
      const free = idle.pop()
      if (free) dispatch(free)
      else if (all.size < size) opened()
    },
    close(): void {
      closed = true
      for (const { socket } of all) socket.destroy()
    },
  }
}
