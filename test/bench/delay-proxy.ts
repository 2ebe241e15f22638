// A TCP proxy on 127.0.0.1:0 that holds every chunk for a fixed time in each direction, as a server
// far away would, and notes what crossed it: connections, HTTP requests, SSE events and WebSocket
// frames, each with the time it arrived, so a benchmark can count what one join needed from the server.
import { connect, createServer, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'

export type Crossing = 'connection' | 'page-request' | 'api-request' | 'ws-open' | 'sse-event' | 'ws-to-server' | 'ws-to-browser'

export interface Traffic {
  kind: Crossing
  /** Date.now() when it reached the proxy. */
  at: number
}

export interface DelayProxy {
  url: string
  port: number
  /** Everything seen between two Date.now() times, counted by kind. */
  count(from: number, to: number): Record<Crossing, number>
  close(): Promise<void>
}

const REQUEST_LINE = /^(?:GET|POST|PUT|DELETE|HEAD|OPTIONS|PATCH) (\S+) HTTP\/1\.[01]\r\n/gm
// Parley's API lives under this prefix (signaling/app.ts API_PATH); everything else it serves is the page.
const API_PREFIX = '/v1/'

/** Each request in a chunk from the browser, by what it asks for. */
function requests(text: string): Crossing[] {
  return [...text.matchAll(REQUEST_LINE)].map(([, path]) =>
    path!.startsWith(API_PREFIX) ? 'api-request' : /^upgrade: websocket/im.test(text) ? 'ws-open' : 'page-request',
  )
}
// Every event Parley's formatEvent writes has exactly one `event:` line.
const SSE_EVENT = /^event: /gm

/**
 * Counts WebSocket frames in a byte stream (RFC 6455 §5.2) without keeping their payloads; frames
 * and even their headers may span chunks. A fragmented message counts once per frame.
 */
function frameCounter() {
  let pending = Buffer.alloc(0)
  let skip = 0
  return (chunk: Buffer): number => {
    const data = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk
    let frames = 0
    let offset = 0
    while (offset < data.length) {
      if (skip > 0) {
        const n = Math.min(skip, data.length - offset)
        skip -= n
        offset += n
        continue
      }
      if (data.length - offset < 2) break
      const second = data[offset + 1]!
      let length = second & 0x7f
      const size = 2 + (length === 126 ? 2 : length === 127 ? 8 : 0) + (second & 0x80 ? 4 : 0)
      if (data.length - offset < size) break
      if (length === 126) length = data.readUInt16BE(offset + 2)
      else if (length === 127) length = Number(data.readBigUInt64BE(offset + 2))
      offset += size
      skip = length
      frames++
    }
    pending = Buffer.from(data.subarray(offset))
    return frames
  }
}

/** A proxy to `target` (host:port) adding `delayMs` to every chunk, each way. */
export function startDelayProxy(target: { host: string; port: number }, delayMs: number): Promise<DelayProxy> {
  const traffic: Traffic[] = []
  const sockets = new Set<Socket>()
  const note = (kind: Crossing, times = 1) => {
    const at = Date.now()
    for (let i = 0; i < times; i++) traffic.push({ kind, at })
  }
  // Chunks leave in the order they came, each after its own delay from its arrival; `null` is the
  // sender's end, delayed like data so a response followed by a close still arrives whole.
  const delayed = (to: Socket) => {
    const queue: Array<{ due: number; chunk: Buffer | null }> = []
    let timer: ReturnType<typeof setTimeout> | undefined
    const flush = () => {
      timer = undefined
      const now = performance.now()
      while (queue.length > 0 && queue[0]!.due <= now) {
        const { chunk } = queue.shift()!
        if (to.destroyed) {
          queue.length = 0
          return
        }
        if (chunk === null) to.end()
        else to.write(chunk)
      }
      if (queue.length > 0) timer = setTimeout(flush, queue[0]!.due - now)
    }
    return {
      push(chunk: Buffer | null) {
        queue.push({ due: performance.now() + delayMs, chunk })
        timer ??= setTimeout(flush, delayMs)
      },
      stop: () => clearTimeout(timer),
    }
  }

  const server = createServer({ allowHalfOpen: true }, (browser) => {
    note('connection')
    const upstream = connect({ port: target.port, host: target.host, allowHalfOpen: true })
    sockets.add(browser).add(upstream)
    const toServer = delayed(upstream)
    const toBrowser = delayed(browser)
    let upgraded = false
    const fromBrowserFrames = frameCounter()
    const fromServerFrames = frameCounter()
    browser.on('data', (chunk: Buffer) => {
      if (upgraded) note('ws-to-server', fromBrowserFrames(chunk))
      else for (const kind of requests(chunk.toString('latin1'))) note(kind)
      toServer.push(chunk)
    })
    upstream.on('data', (chunk: Buffer) => {
      if (upgraded) note('ws-to-browser', fromServerFrames(chunk))
      else {
        const text = chunk.toString('latin1')
        if (text.startsWith('HTTP/1.1 101')) {
          upgraded = true
          const body = chunk.subarray(text.indexOf('\r\n\r\n') + 4)
          if (body.length > 0) note('ws-to-browser', fromServerFrames(body))
        } else note('sse-event', text.match(SSE_EVENT)?.length ?? 0)
      }
      toBrowser.push(chunk)
    })
    browser.on('end', () => toServer.push(null))
    upstream.on('end', () => toBrowser.push(null))
    const fail = () => {
      toServer.stop()
      toBrowser.stop()
      browser.destroy()
      upstream.destroy()
    }
    browser.on('error', fail).on('close', () => sockets.delete(browser))
    upstream.on('error', fail).on('close', () => sockets.delete(upstream))
  })

  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        count(from, to) {
          const counts: Record<Crossing, number> = {
            connection: 0,
            'page-request': 0,
            'api-request': 0,
            'ws-open': 0,
            'sse-event': 0,
            'ws-to-server': 0,
            'ws-to-browser': 0,
          }
          for (const t of traffic) if (t.at >= from && t.at <= to) counts[t.kind]++
          return counts
        },
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy()
            server.close(() => done())
          }),
      })
    })
  })
}
