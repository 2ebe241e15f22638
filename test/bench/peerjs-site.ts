// The PeerJS side of the comparison: a page served on 127.0.0.1:0 that opens a `Peer` (PeerJS 1.5,
// its own browser bundle from node_modules) on a PeerServer and opens a DataConnection to every
// earlier peer, whose ids it is given in the link: no discovery at all. It reports "connected to
// everyone" as the Parley page's instrument does, marks its steps with performance.mark, and echoes
// `ping N` with `pong N` for the round-trip bench.
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const BUNDLE = join(dirname(createRequire(import.meta.url).resolve('peerjs')), 'peerjs.min.js')

const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>PeerJS reference</title></head>
<body>
<script src="/peerjs.min.js"></script>
<script src="/bench.js"></script>
</body>
</html>
`

// Plain JavaScript the browser runs as is: no build step between this text and the page.
const SCRIPT = `
performance.mark('peerjs:script-start')
const query = new URLSearchParams(location.search)
const expected = Number(query.get('expected'))
const earlier = (query.get('peers') || '').split(',').filter(Boolean)
const peer = new Peer(query.get('id'), {
  host: query.get('host'),
  port: Number(query.get('port')),
  path: '/',
  secure: false,
  debug: 0,
  config: { iceServers: [] },
})
const open = new Map()
const listeners = new Set()
const connected = () => {
  if (window.__connectedAt) return
  performance.mark('peerjs:connected')
  window.__connectedPerf = performance.now()
  window.__connectedAt = Date.now()
  if (window.__reportConnected) window.__reportConnected(window.__connectedAt)
}
const track = (conn) => {
  conn.on('open', () => {
    if (open.size === 0) performance.mark('peerjs:first-channel-open')
    open.set(conn.peer, conn)
    if (open.size === expected) connected()
  })
  conn.on('data', (data) => {
    if (typeof data === 'string' && data.startsWith('ping ')) conn.send('pong ' + data.slice(5))
    for (const listener of listeners) listener(data)
  })
}
peer.on('open', () => {
  performance.mark('peerjs:server-open')
  for (const id of earlier) track(peer.connect(id))
  if (expected === 0) connected()
})
peer.on('connection', track)
peer.on('error', (err) => console.error('peerjs', err.type, err.message))
window.peerjsBench = {
  async ping(count, gapMs) {
    const conn = [...open.values()][0]
    const rtts = []
    for (let i = 0; i < count; i++) {
      await new Promise((resolve) => setTimeout(resolve, gapMs))
      const sent = performance.now()
      await new Promise((resolve) => {
        const listener = (data) => {
          if (data === 'pong ' + i) {
            listeners.delete(listener)
            resolve()
          }
        }
        listeners.add(listener)
        conn.send('ping ' + i)
      })
      rtts.push(performance.now() - sent)
    }
    return rtts
  },
}
`

export interface PeerjsSite {
  url: string
  port: number
  /** The link for one browser: its id, the ids it connects to, and how many connections make "everyone". */
  link(base: string, server: { host: string; port: number }, id: string, earlier: string[], expected: number): string
  close(): Promise<void>
}

/** Serves the page, its script and PeerJS's bundle, uncompressed as Parley's server serves its own. */
export function startPeerjsSite(): Promise<PeerjsSite> {
  const files: Record<string, { type: string; body: Buffer }> = {
    '/': { type: 'text/html; charset=utf-8', body: Buffer.from(PAGE) },
    '/bench.js': { type: 'text/javascript', body: Buffer.from(SCRIPT) },
    '/peerjs.min.js': { type: 'text/javascript', body: readFileSync(BUNDLE) },
  }
  const server = createServer((req, res) => {
    const file = files[new URL(req.url ?? '/', 'http://x').pathname]
    if (!file) return void res.writeHead(404).end()
    res.writeHead(200, { 'content-type': file.type, 'content-length': file.body.length, 'cache-control': 'max-age=3600' })
    res.end(file.body)
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        link: (base, peerServer, id, earlier, expected) =>
          `${base}/?${new URLSearchParams({
            host: peerServer.host,
            port: String(peerServer.port),
            id,
            peers: earlier.join(','),
            expected: String(expected),
          })}`,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => done())
          }),
      })
    })
  })
}
