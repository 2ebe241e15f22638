import type { IncomingMessage, ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import { Socket } from 'node:net'

/**
 * HACK: Node's HTTP server keeps, for as long as a response is open, its request (headers included), the
 * response, a native HTTP parser, bound listeners and per-connection state: measured, 9.1 KB of RSS for
 * a held stream with no state of ours, against 2.5 KB for a socket taken over at 'upgrade'
 * (test/bench/README.md, "Stream memory"). The documented API releases none of it before the response
 * ends, so an event stream, whose headers are out and whose body is close-delimited (sse.ts: no chunked
 * framing), takes its socket over the way Node does on 'upgrade' (`onParserExecuteCommon`):
 * https://github.com/nodejs/node/blob/v20.x/lib/_http_server.js
 * Every internal it needs is checked first; where one is missing (another Node version) the stream stays
 * on its response, as before.
 */

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

// Errors on a taken-over socket end in 'close', which ends the stream: nothing else to do.
function ignore(): void {}

// An event stream's client sends nothing after its request (EventSource does not); anything else, or
// half-closing, ends the stream instead of being read into memory.
function refuse(this: Socket): void {
  this.destroy()
}

/**
 * Takes the socket of an event stream whose headers and first bytes are written away from Node's HTTP
 * server and returns it: frames are written to it from then on, and `res` and `req` are left to the
 * garbage collector. Returns null, changing nothing, when it cannot be done safely: a request not read to
 * its end, another request behind it, bytes still held by the response, a wrapped `write`, other internals.
 * Should Node throw halfway, the socket returned is already being destroyed.
 */
export function takeOverSocket(req: IncomingMessage, res: ServerResponse): Socket | null {
  const socket = res.socket as ServerSocket | null
  const parser = socket?.parser
  if (freeParser === undefined || !(socket instanceof Socket) || !parser || typeof (res as Detachable).detachSocket !== 'function')
    return null
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
    parser.finish()
    // Unconsumes the socket from the parser, takes the parser out of the server's connection list (its
    // header and request deadlines) and returns it to Node's pool.
    freeParser(parser, req, socket)
    ;(res as Detachable).detachSocket!(socket)
    // Assigned back as Node's wrappers do themselves: deleting them would turn the socket into a slower,
    // larger dictionary-mode object.
    for (const key of WRAPPED) if (Object.hasOwn(socket, key)) socket[key] = Socket.prototype[key]
  } catch {
    // Half taken over, the stream cannot go on: its socket closes, and the client resumes elsewhere.
    socket.destroy()
    return socket
  }
  socket.on('data', refuse)
  socket.on('end', refuse)
  return socket
}

/** Ends a taken-over socket once its frames are out, as Node ends a `Connection: close` response's. */
export function endSocket(socket: Socket): void {
  socket.end(() => socket.destroy())
}
