import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

/**
 * Text built by `+` is a tree of V8 cons strings, about three times its size in memory; `| 0` (a
 * number parse that fails) makes V8 flatten it in place. Frames need not: writing one flattens it.
 */
function flatten(text: string | undefined): void {
  void ((text as unknown as number) | 0)
}

/** The only writer of `text/event-stream` framing in the codebase. */
export function formatEvent(event: string, data: string, id?: string): string {
  if (/[\r\n]/.test(event) || (id !== undefined && /[\r\n]/.test(id))) {
    throw new Error('SSE event and id fields must not contain CR or LF')
  }
  let frame = id === undefined ? '' : `id: ${id}\n`
  frame += `event: ${event}\n`
  // A data line ends at any of CR, LF or CRLF, so each line of a multi-line payload gets its own field.
  // JSON text (every event the hub sends) has none: one field, without splitting.
  if (data.indexOf('\n') === -1 && data.indexOf('\r') === -1) frame += `data: ${data}\n`
  else for (const line of data.split(/\r\n|\r|\n/)) frame += `data: ${line}\n`
  return `${frame}\n`
}

export const HEARTBEAT_FRAME = ':\n\n'

/** Writes the stream's headers and first bytes; the caller writes frames after. */
export function openEventStream(res: ServerResponse, retryMs: number, headers: Readonly<Record<string, string>> = {}): void {
  // The body runs until the connection closes (no chunked framing): one plain socket write per event,
  // the cheapest there is, for a response that never ends by itself anyway.
  res.removeHeader('Transfer-Encoding')
  res.shouldKeepAlive = false
  res.writeHead(200, {
    ...headers,
    'Content-Type': 'text/event-stream; charset=utf-8',
    // no-cache: every reconnect must reach the server; no-transform: compression middleware and
    // proxies must not buffer the stream to compress it.
    'Cache-Control': 'no-cache, no-transform',
    // nginx buffers proxied responses unless told otherwise per response.
    'X-Accel-Buffering': 'no',
    Connection: 'close',
  })
  // Nagle would hold small frames back for up to 40 ms waiting for an ACK.
  res.socket?.setNoDelay(true)
  // The retry hint goes out with the headers (and any replay written in the same tick), so proxies
  // see the first bytes at once.
  writeFrame(res, `retry: ${retryMs}\n\n`)
  // HACK: Node keeps the header block it built (`_header`, not public) for as long as the response is
  // open, to answer `headersSent`: flat, it costs a third of what the tree of its parts does (~0.8 KB
  // less per stream in a heap snapshot of 2,000). Where Node sets it:
  // https://github.com/nodejs/node/blob/v20.x/lib/_http_outgoing.js (`_storeHeader`).
  flatten((res as unknown as { _header?: string })._header)
}

/** Where an open stream's frames go: its response, or its socket once taken over (stream-socket.ts). */
export type StreamOutput = ServerResponse | Socket

const uncork = (out: StreamOutput) => out.uncork()

/**
 * Writes one frame of an open stream; returns the bytes still queued for the socket. Frames written in
 * the same tick (a batch relayed to one peer, a replay) leave in one socket write, not one each.
 */
export function writeFrame(out: StreamOutput, frame: string): number {
  if (!out.writableCorked) {
    out.cork()
    process.nextTick(uncork, out)
  }
  out.write(frame)
  return out.writableLength
}

/**
 * Visits every item of `items` about twice per `periodMs`, a slice per small tick instead of all at once:
 * writing a heartbeat to 19,000 sockets in one go blocks the event loop for half a second. Small maps
 * are visited more often than that; `visit` decides whether anything is due. Twice: an item visited just
 * before it is due waits half a period more, not a whole one (a heartbeat at most 1.5 periods apart).
 */
export function spreadEvery<T>(periodMs: number, items: () => Map<string, T>, visit: (item: T) => void) {
  const tickMs = Math.max(10, Math.min(250, periodMs / 4))
  let cursor: Iterator<T> = items().values()
  const timer = setInterval(() => {
    const map = items()
    let budget = Math.ceil((2 * map.size * tickMs) / periodMs)
    for (let wrapped = false; budget > 0; ) {
      const next = cursor.next()
      if (next.done) {
        cursor = map.values()
        if (wrapped) break
        wrapped = true
        continue
      }
      visit(next.value)
      budget--
    }
  }, tickMs)
  timer.unref()
  return timer
}
