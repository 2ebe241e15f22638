// Many peers of one server held open by one load generator: Parley peers (join + SSE stream, signals by
// POST over keep-alive sockets) or PeerServer peers (one WebSocket each). Peers come in pairs, 2k and
// 2k+1, in a room of their own; each signals only its partner.
import { Agent, request } from 'node:http'
import WebSocket from 'ws'
import { createPostPool } from './raw-post'

/** Sockets for POSTs: enough that 5,000 signals/s never wait for one, few enough to stay realistic. */
const MAX_POST_SOCKETS = 64
/** Pairs being set up at once. */
const CONNECT_CONCURRENCY = 64
/** peerjs's client pings its server this often. */
const PEERJS_HEARTBEAT_MS = 5_000
/**
 * What Chromium 156's EventSource sent for the page's stream (captured through a logging proxy), Host
 * and Connection aside. The server keeps a stream's request, headers included, for as long as it is open.
 */
const BROWSER_STREAM_HEADERS = {
  pragma: 'no-cache',
  'cache-control': 'no-cache',
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36',
  accept: 'text/event-stream',
  'sec-fetch-site': 'same-origin',
  'sec-fetch-mode': 'cors',
  'sec-fetch-dest': 'empty',
  'accept-encoding': 'gzip, deflate, br, zstd',
  'accept-language': 'en-US,en;q=0.9',
}

export interface Fleet {
  readonly size: number
  /** Sends a signal with `data` (JSON text) from peer `i` to its partner; `done` gets an error label or nothing. */
  send(i: number, data: string, done: (error?: string) => void): void
  /** Per peer, when each heartbeat arrived (hrtime ms) since the previous call; empty where the server sends none. */
  takeHeartbeats(): number[][]
  closed(): number
  close(): void
}

export type OnPayload = (payload: unknown) => void

export interface Opened {
  fleet: Fleet
  failed: number
  errors: Record<string, number>
  /** Requests resent once after their reused keep-alive socket was reset. */
  retried: number
}

const count = (errors: Record<string, number>, key: string) => {
  errors[key] = (errors[key] ?? 0) + 1
}

/** Runs `task(0) … task(n-1)` with at most `limit` running at once. */
async function pool(n: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < n) await task(next++)
  }
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker))
}

interface ParleyPeer {
  /** Which instance it joined, streams from and posts to. */
  at: number
  /** Browser-like streams: the keep-alive connection its join went over, which its stream then reuses. */
  agent?: Agent
  peer: string
  key: string
  auth: string
  beats: number[]
  closed: boolean
  destroy?: () => void
}

/**
 * `url` may name several instances, space-separated (sharing rooms over Redis): the two peers of a room
 * then join, stream and POST through different instances, so every signal crosses between them.
 * `browserStreams`: each peer opens its stream as the page does in Chromium, with its headers and on the
 * keep-alive connection its join went over (else: a fresh connection and a bare `Accept`). `nodeClient`:
 * signals go through `http.request` (else: written straight to keep-alive sockets, see raw-post.ts).
 */
export async function openParley(
  url: string,
  pairs: number,
  prefix: string,
  onPayload: OnPayload,
  { browserStreams = false, nodeClient = false } = {},
): Promise<Opened> {
  const instances = url.split(' ').map((u) => {
    const { hostname, port } = new URL(u)
    return {
      hostname,
      port,
      agent: new Agent({ keepAlive: true, maxSockets: MAX_POST_SOCKETS }),
      raw: createPostPool(hostname, Number(port), MAX_POST_SOCKETS),
    }
  })
  const errors: Record<string, number> = {}
  const peers: Array<ParleyPeer | undefined> = new Array(pairs * 2)
  let failed = 0
  let retried = 0

  type Fail = (error: string, reusedSocket: boolean) => void
  const post = (
    at: number,
    path: string,
    body: string,
    auth: string | undefined,
    done: (status: number, text: string) => void,
    fail: Fail,
    own?: Agent,
  ) => {
    const { hostname, port, agent: shared } = instances[at % instances.length]!
    const agent = own ?? shared
    const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
    if (auth) headers.authorization = auth
    const req = request({ agent, host: hostname, port, method: 'POST', path, headers }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (text += c))
      res.on('end', () => done(res.statusCode ?? 0, text))
      res.on('error', (e: NodeJS.ErrnoException) => fail(e.code ?? e.message, false))
    })
    req.on('error', (e: NodeJS.ErrnoException) => fail(e.code ?? e.message, req.reusedSocket))
    req.end(body)
  }

  // A keep-alive socket the server closed just as the join went out: browsers resend such a request
  // once on a fresh connection, and so does this (counted).
  const join = (room: string, at: number, retry = true): Promise<ParleyPeer> =>
    new Promise<ParleyPeer>((resolve, reject) => {
      const agent = browserStreams ? new Agent({ keepAlive: true, maxSockets: 1 }) : undefined
      post(
        at,
        '/v1/join',
        JSON.stringify({ room }),
        undefined,
        (status, text) => {
          if (status !== 200) {
            agent?.destroy()
            return reject(new Error(`join: ${status}`))
          }
          const body = JSON.parse(text) as { peer: string; key: string; token: string }
          resolve({ peer: body.peer, key: body.key, auth: `Bearer ${body.token}`, beats: [], closed: false, at, agent })
        },
        (e, reused) => {
          agent?.destroy()
          if (!(retry && reused && e === 'ECONNRESET')) return reject(new Error(`join: ${e}`))
          retried++
          join(room, at, false).then(resolve, reject)
        },
        agent,
      )
    })

  // A minimal SSE reader: frames end with a blank line; the server writes LF only.
  // A browser-like stream reuses its join's connection, which the server may close as idle just as
  // the stream goes out (its partner's join took longer than the keep-alive timeout): EventSource
  // reconnects, and so does this, once (counted).
  const openStream = (p: ParleyPeer, retry = true): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const { hostname, port } = instances[p.at % instances.length]!
      const req = request(
        {
          agent: p.agent ?? false,
          host: hostname,
          port,
          path: `/v1/stream?key=${encodeURIComponent(p.key)}`,
          headers: p.agent ? BROWSER_STREAM_HEADERS : { accept: 'text/event-stream' },
        },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume()
            return reject(new Error(`stream: ${res.statusCode}`))
          }
          res.setEncoding('utf8')
          let pending = ''
          res.on('data', (chunk: string) => {
            pending += chunk
            for (let end = pending.indexOf('\n\n'); end !== -1; end = pending.indexOf('\n\n')) {
              const frame = pending.slice(0, end)
              pending = pending.slice(end + 2)
              if (frame === ':') p.beats.push(Number(process.hrtime.bigint()) / 1e6)
              else if (frame.includes('\nevent: signal\n')) {
                const data = frame.slice(frame.indexOf('\ndata: ') + 7)
                onPayload((JSON.parse(data) as { data: unknown }).data)
              }
            }
            resolve()
          })
          res.on('close', () => (p.closed = true))
          res.on('error', () => undefined)
        },
      )
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (retry && req.reusedSocket && e.code === 'ECONNRESET') {
          retried++
          return void openStream(p, false).then(resolve, reject)
        }
        p.closed = true
        p.agent?.destroy()
        reject(new Error(`stream: ${e.code ?? e.message}`))
      })
      p.destroy = () => {
        req.destroy()
        p.agent?.destroy()
      }
      req.end()
    })

  await pool(pairs, CONNECT_CONCURRENCY, async (k) => {
    const room = `${prefix}-${k}`
    try {
      const a = await join(room, 0)
      const b = await join(room, 1)
      await Promise.all([openStream(a), openStream(b)])
      peers[2 * k] = a
      peers[2 * k + 1] = b
    } catch (err) {
      failed += 2
      count(errors, (err as Error).message)
    }
  })

  const fleet: Fleet = {
    size: peers.length,
    send(i, data, done) {
      const from = peers[i]
      const to = peers[i ^ 1]
      if (!from || !to) return done('not connected')
      const body = `{"peer":"${from.peer}","to":"${to.peer}","data":${data}}`
      if (!nodeClient) {
        const { raw } = instances[from.at % instances.length]!
        return raw.post('/v1/signal', from.auth, body, (status, _text, error) =>
          done(error ?? (status === 204 ? undefined : String(status))),
        )
      }
      post(
        from.at,
        '/v1/signal',
        body,
        from.auth,
        (status) => done(status === 204 ? undefined : String(status)),
        (e) => done(e),
      )
    },
    takeHeartbeats: () =>
      peers.flatMap((p) => {
        if (!p) return []
        const beats = p.beats
        p.beats = []
        return [beats]
      }),
    closed: () => peers.filter((p) => p?.closed).length,
    close() {
      for (const p of peers) p?.destroy?.()
      for (const { agent, raw } of instances) {
        agent.destroy()
        raw.close()
      }
    },
  }
  return { fleet, failed, errors, retried }
}

export async function openPeerServer(
  url: string,
  pairs: number,
  prefix: string,
  onPayload: OnPayload,
  clientHeartbeats: boolean,
): Promise<Opened> {
  const base = url.replace(/^http/, 'ws')
  const errors: Record<string, number> = {}
  const ids = Array.from({ length: pairs * 2 }, (_, i) => `${prefix}-${i}`)
  const sockets: Array<WebSocket | undefined> = new Array(ids.length)
  const timers: NodeJS.Timeout[] = []
  let failed = 0
  let closed = 0

  const open = (i: number) =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(`${base}/peerjs?key=peerjs&id=${ids[i]}&token=t${i}`, { perMessageDeflate: false })
      ws.on('message', (raw) => {
        const message = JSON.parse(raw.toString()) as { type: string; payload?: unknown }
        if (message.type === 'OPEN') resolve(ws)
        else if (message.type === 'OFFER') onPayload(message.payload)
        else if (message.type === 'ERROR' || message.type === 'ID-TAKEN') reject(new Error(message.type))
      })
      ws.on('error', (e: NodeJS.ErrnoException) => reject(new Error(e.code ?? e.message)))
      ws.on('close', () => {
        closed++
        reject(new Error('closed'))
      })
    })

  await pool(ids.length, CONNECT_CONCURRENCY * 2, async (i) => {
    try {
      const ws = await open(i)
      sockets[i] = ws
      if (clientHeartbeats) {
        // Spread over the interval, as independent browsers would be.
        const start = setTimeout(() => {
          ws.send('{"type":"HEARTBEAT"}')
          timers.push(setInterval(() => ws.readyState === WebSocket.OPEN && ws.send('{"type":"HEARTBEAT"}'), PEERJS_HEARTBEAT_MS))
        }, Math.random() * PEERJS_HEARTBEAT_MS)
        timers.push(start)
      }
    } catch (err) {
      failed++
      count(errors, (err as Error).message)
    }
  })

  const fleet: Fleet = {
    size: ids.length,
    send(i, data, done) {
      const ws = sockets[i]
      if (!ws || ws.readyState !== WebSocket.OPEN) return done('not connected')
      ws.send(`{"type":"OFFER","payload":${data},"dst":"${ids[i ^ 1]}"}`, (err) => done(err ? 'send error' : undefined))
    },
    takeHeartbeats: () => [],
    closed: () => closed,
    close() {
      for (const t of timers) clearInterval(t)
      for (const ws of sockets) ws?.terminate()
    },
  }
  return { fleet, failed, errors, retried: 0 }
}
