// The relay with one signal in flight at a time between two peers, so that nothing queues: the server
// CPU one signal costs and the latency of the relay path itself, Parley beside PeerServer in the same
// run. On a shared machine the CPU per signal holds still where the open-loop latencies do not.
import { Agent, request } from 'node:http'
import WebSocket from 'ws'
import { cpuSeconds, machine, type ServerProc, startParley, startPeerServer, stopAll } from './procs'
import { UNLIMITED } from './relay'
import { int, ms, summarize, table, times } from './stats'

const SIGNALS = Number(process.env.BENCH_RELAY_CLOSED ?? 10_000)
const WARM_SIGNALS = 2_000
// An ICE candidate as a browser sends it: most signals are.
const PAYLOAD = JSON.stringify({
  type: 'candidate',
  candidate: {
    candidate: 'candidate:1 1 udp 2122260223 192.168.1.10 54321 typ host generation 0 ufrag abcd network-id 1',
    sdpMid: '0',
    sdpMLineIndex: 0,
  },
})

/** Sends one signal; resolves once the partner has it and the sender's own request is answered. */
type SendOne = () => Promise<void>

async function parleyPair(url: string): Promise<{ send: SendOne; close(): void }> {
  const { hostname, port } = new URL(url)
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const post = (path: string, body: string, auth?: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
      if (auth) headers.authorization = auth
      const req = request({ agent, host: hostname, port, method: 'POST', path, headers }, (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
      })
      req.on('error', reject)
      req.end(body)
    })
  const room = `closed-${Date.now().toString(36)}`
  type Joined = { peer: string; key: string; token: string }
  const a = JSON.parse((await post('/v1/join', JSON.stringify({ room }))).text) as Joined
  const b = JSON.parse((await post('/v1/join', JSON.stringify({ room }))).text) as Joined
  let delivered = () => {}
  const stream = request({ agent: false, host: hostname, port, path: `/v1/stream?key=${encodeURIComponent(b.key)}` })
  await new Promise<void>((resolve, reject) => {
    stream.on('error', reject)
    stream.on('response', (res) => {
      res.setEncoding('utf8')
      let pending = ''
      res.on('data', (chunk: string) => {
        pending += chunk
        resolve()
        for (let end = pending.indexOf('\n\n'); end !== -1; end = pending.indexOf('\n\n')) {
          if (pending.slice(0, end).includes('\nevent: signal\n')) delivered()
          pending = pending.slice(end + 2)
        }
      })
    })
    stream.end()
  })
  const body = `{"peer":"${a.peer}","to":"${b.peer}","data":${PAYLOAD}}`
  const auth = `Bearer ${a.token}`
  const send = () =>
    Promise.all([
      new Promise<void>((resolve) => (delivered = resolve)),
      post('/v1/signal', body, auth).then(({ status }) => {
        if (status !== 204) throw new Error(`signal: ${status}`)
      }),
    ]).then(() => undefined)
  const close = () => {
    stream.destroy()
    agent.destroy()
  }
  return { send, close }
}

async function peerServerPair(url: string): Promise<{ send: SendOne; close(): void }> {
  const tag = Date.now().toString(36)
  let delivered = () => {}
  const open = (id: string) =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(`${url.replace('http', 'ws')}/peerjs?key=peerjs&id=${id}&token=t`, { perMessageDeflate: false })
      ws.on('message', (raw) => {
        const type = (JSON.parse(raw.toString()) as { type: string }).type
        if (type === 'OPEN') resolve(ws)
        else if (type === 'OFFER') delivered()
      })
      ws.on('error', reject)
    })
  const a = await open(`a${tag}`)
  const b = await open(`b${tag}`)
  const frame = `{"type":"OFFER","payload":${PAYLOAD},"dst":"b${tag}"}`
  const send = () =>
    new Promise<void>((resolve) => {
      delivered = resolve
      a.send(frame)
    })
  const close = () => {
    a.terminate()
    b.terminate()
  }
  return { send, close }
}

async function measure(server: ServerProc, pair: { send: SendOne; close(): void }) {
  try {
    for (let i = 0; i < WARM_SIGNALS; i++) await pair.send()
    const latencies: number[] = []
    const cpuBefore = cpuSeconds(server.pid)
    for (let i = 0; i < SIGNALS; i++) {
      const start = process.hrtime.bigint()
      await pair.send()
      latencies.push(Number(process.hrtime.bigint() - start) / 1e6)
    }
    return { latency: summarize(latencies), cpuPerSignal: (cpuSeconds(server.pid) - cpuBefore) / SIGNALS }
  } finally {
    pair.close()
  }
}

export async function benchRelayClosedLoop() {
  console.log(
    `\nRelay, one signal in flight: ${int(SIGNALS)} signals from one peer to its partner after ${int(WARM_SIGNALS)} to warm up (${machine()})`,
  )
  console.log(
    '  (latency: from the send until the partner has the signal and, for Parley, the POST is answered; the client is\n' +
      "   this process, so its own HTTP or WebSocket work is in the latency too; CPU per signal: the server's, from /proc)",
  )
  const results = []
  for (const name of ['Parley', 'PeerServer 1.0'] as const) {
    const server = name === 'Parley' ? await startParley(UNLIMITED) : await startPeerServer()
    try {
      const pair = name === 'Parley' ? await parleyPair(server.url) : await peerServerPair(server.url)
      results.push({ name, ...(await measure(server, pair)) })
    } finally {
      await stopAll([server])
    }
  }
  const [parley, peerServer] = results as [(typeof results)[0], (typeof results)[0]]
  const rows = results.map(({ name, latency, cpuPerSignal }) => [
    name,
    `${int(cpuPerSignal * 1e6)} µs`,
    ms(latency.p50),
    ms(latency.p90),
    ms(latency.p99),
  ])
  rows.push([
    'Parley ÷ PeerServer',
    times(parley.cpuPerSignal, peerServer.cpuPerSignal),
    times(parley.latency.p50, peerServer.latency.p50),
    times(parley.latency.p90, peerServer.latency.p90),
    times(parley.latency.p99, peerServer.latency.p99),
  ])
  table(['server', 'CPU per signal', 'p50', 'p90', 'p99'], rows)
}
