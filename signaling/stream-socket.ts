import type { IncomingMessage, ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import { Socket } from 'node:net'

// HACK: Node's HTTP server keeps, for as long as a response is open, its request (headers included), the
// response, a native HTTP parser, bound listeners and per-connection state: measured, 9.1 KB of RSS for a
// held stream with no state of ours, against 2.5 KB for a socket taken over at 'upgrade'
// (test/bench/README.md, "Stream memory"). The documented API releases none of it before the response
// ends, so an event stream, whose headers are out and whose body is close-delimited (sse.ts: no chunked
// framing), takes its socket over the way Node does on 'upgrade' (`onParserExecuteCommon`):
// https://github.com/nodejs/node/blob/v20.x/lib/_http_server.js
// Every internal it needs is checked first; where one is missing (another Node version) the stream stays
// on its response, as before.

/**
 * A taken-over socket is out of Node's connection list (`server.closeAllConnections()` misses it), so its
 * end cannot wait for a client that stopped reading: after this long without progress it is destroyed.
 * Below main.ts's shutdown timeout, so a server with a stalled client still closes by itself.
 */
export const END_TIMEOUT_MS = 2_000

/** The listeners Node 20 puts on every server socket (`connectionListenerInternal`), by their names. */
const NODE_LISTENERS = [
  ['data', 'bound socketOnData'],
  ['end', 'bound socketOnEnd'],
  ['close', 'bound socketOnClose'],
  ['drain', 'bound socketOnDrain'],
  ['error', 'socketOnError'],
  ['timeout', 'socketOnTimeout'],
  ['resume', 'onSocketResume'],
  ['pause', 'onSocketPause'],
] as const

// Node's wrappers of these on every server socket (`generateSocketListenerWrapper`) only watch for a parser.
const WRAPPED = ['on', 'addListener', 'prependListener'] as const

interface Parser {
  incoming: unknown
  finish(): unknown
}
type FreeParser = (parser: Parser, req: IncomingMessage, socket: Socket) => void
/** What Node's HTTP server adds to a socket it serves (not public). */
interface ServerSocket extends Socket {
  parser?: Parser | null
  _httpMessage?: unknown
  _paused?: boolean
}
type Detachable = ServerResponse & { detachSocket?: (socket: Socket) => void }

const freeParser = ((): FreeParser | undefined => {
  try {
    const free: unknown = createRequire(import.meta.url)('_http_common').freeParser
    return typeof free === 'function' ? (free as FreeParser) : undefined
  } catch {
    return undefined
  }
})()

/** Whether this Node has what the takeover needs; where not, every stream stays on its response. */
export const canTakeOverSockets = freeParser !== undefined

// Errors on a taken-over socket end in 'close', which ends the stream: nothing else to do.
function ignore(): void {}

// An event stream's client sends nothing after its request (EventSource does not); anything else, or
// half-closing, ends the stream instead of being read into memory. So does a stall past a deadline.
function refuse(this: Socket): void {
  this.destroy()
}

/**
 * Takes the socket of an event stream whose headers and first bytes are written away from Node's HTTP
 * server and returns it: frames are written to it from then on, and `res` and `req` are left to the
 * garbage collector. Returns null, changing nothing, when it cannot be done safely: a request not read to
 * its end, another request behind it, bytes still held by the response, a wrapped `write`, other internals.
 * Should Node throw halfway, or part of a next request have come with this one, the socket returned is
 * already being destroyed.
 */
export function takeOverSocket(req: IncomingMessage, res: ServerResponse): Socket | null {
  const socket = res.socket as ServerSocket | null
  const parser = socket?.parser
  const detachSocket = (res as Detachable).detachSocket
  if (freeParser === undefined || !(socket instanceof Socket) || !parser || typeof detachSocket !== 'function') return null
  if (socket.destroyed || socket._httpMessage !== res || socket._paused !== false || res.writableEnded) return null
  if (parser.incoming !== req || !req.complete || res.writableLength !== socket.writableLength) return null
  // Middleware that wraps the response's writes (compression, a logger) must keep seeing every frame.
  if (Object.hasOwn(res, 'write') || Object.hasOwn(res, 'end')) return null
  const found: [string, (...args: unknown[]) => void][] = []
  for (const [event, name] of NODE_LISTENERS) {
    const listener = socket.listeners(event).find((fn) => fn.name === name)
    if (listener === undefined) return null
    found.push([event, listener as (...args: unknown[]) => void])
  }

  socket.on('error', ignore)
  try {
    for (const [event, listener] of found) socket.removeListener(event, listener)
    // An error here means part of a next request came with this one: the stream cannot drop it unread.
    const unread = parser.finish()
    if (unread instanceof Error) throw unread
    // Unconsumes the socket from the parser, takes the parser out of the server's connection list (its
    // header and request deadlines) and returns it to Node's pool.
    freeParser(parser, req, socket)
    detachSocket.call(res, socket)
    // Assigned back as Node's wrappers do themselves: deleting them would turn the socket into a slower,
    // larger dictionary-mode object.
    for (const key of WRAPPED) if (Object.hasOwn(socket, key)) socket[key] = Socket.prototype[key]
  } catch {
    // Half taken over, the stream cannot go on: its socket closes, and the client resumes elsewhere.
    // Node's close listener, which would free the parser, is gone already.
    if (socket.parser) {
      try {
        freeParser(socket.parser, req, socket)
      } catch {
        // The socket is destroyed next either way; the parser goes with it to the collector.
      }
    }
    socket.destroy()
    return socket
  }
  socket.on('data', refuse)
  socket.on('end', refuse)
  // In place of Node's: a stream that stalls for the server's `timeout` (if set) is destroyed as before;
  // heartbeats keep a healthy one's timer fresh.
  socket.on('timeout', refuse)
  return socket
}

/**
 * Ends a taken-over socket once its frames are out, as Node ends a `Connection: close` response's, or
 * destroys it after `END_TIMEOUT_MS` without progress (a client that stopped reading).
 */
export function endSocket(socket: Socket): void {
  socket.end(() => socket.destroy())
  socket.setTimeout(END_TIMEOUT_MS, refuse)
}
