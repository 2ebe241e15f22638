// A load generator in a process of its own, driven over IPC by relay.ts and capacity.ts: holds a fleet
// of peers open on one server and sends signals at a steady rate. A signal's latency runs from just
// before its POST (or WebSocket frame) is written to the moment the recipient's copy is parsed, both
// read from process.hrtime in this process, so one clock measures both ends.

import { type Fleet, openParley, openPeerServer } from './fleet'
import type { Command, ConnectCommand, ConnectReply, HeartbeatsReply, RelayCommand, RelayReply } from './ipc'
import { cpuSeconds, nofile } from './proc-info'
import { summarize } from './stats'

/** Signal payload size in bytes (`data` / `payload`), like a small trickled ICE candidate. */
const PAYLOAD_BYTES = 200
const TICK_MS = 1
const DRAIN_POLL_MS = 20

// Every connect adds a fleet (capacity opens its levels one after the other); relay drives the newest.
const fleets: Fleet[] = []
let receive: (payload: unknown) => void = () => undefined
let runs = 0

/** `{"t": send time in ns, "p": run tag, "x": padding}`, PAYLOAD_BYTES long for a 19-digit time. */
function payload(tag: number): string {
  const head = `{"t":"${process.hrtime.bigint()}","p":${tag},"x":"`
  return `${head}${'x'.repeat(Math.max(0, PAYLOAD_BYTES - head.length - 2))}"}`
}

async function connect(c: ConnectCommand): Promise<ConnectReply> {
  const start = Date.now()
  const onPayload = (p: unknown) => receive(p)
  const opened =
    c.target === 'parley'
      ? await openParley(c.url, c.pairs, c.prefix, onPayload, {
          browserStreams: c.browserStreams ?? false,
          nodeClient: c.nodeClient ?? false,
        })
      : await openPeerServer(c.url, c.pairs, c.prefix, onPayload, c.clientHeartbeats ?? false)
  fleets.push(opened.fleet)
  return {
    peers: opened.fleet.size - opened.failed,
    failed: opened.failed,
    ms: Date.now() - start,
    errors: opened.errors,
    retried: opened.retried,
    nofile: nofile(process.pid).soft,
  }
}

/**
 * Open loop: the clock decides how many signals are due, whatever the server answers, so a slow server
 * shows as latency rather than as a lower rate. Peers take turns, each signalling its partner.
 */
async function relay(c: RelayCommand): Promise<RelayReply> {
  const f = fleets.at(-1)
  if (!f) throw new Error('connect first')
  const tag = ++runs
  const latencies: number[] = []
  const errors: Record<string, number> = {}
  const warmCount = Math.floor((c.warmMs * c.rate) / 1000)
  const total = warmCount + Math.floor((c.measureMs * c.rate) / 1000)
  let inFlight = 0
  let maxInFlight = 0
  receive = (p) => {
    const { t, p: runTag } = p as { t: string; p: number }
    if (runTag === tag) latencies.push(Number(process.hrtime.bigint() - BigInt(t)) / 1e6)
  }
  const done = (measured: boolean) => (error?: string) => {
    inFlight--
    if (error && measured) errors[error] = (errors[error] ?? 0) + 1
  }
  let issued = 0
  let window = { at: 0n, server: 0, self: process.cpuUsage() }
  const start = process.hrtime.bigint()
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6
      const due = Math.min(total, Math.floor((elapsedMs * c.rate) / 1000))
      while (issued < due) {
        const measured = issued >= warmCount
        if (issued === warmCount) window = { at: process.hrtime.bigint(), server: cpuSeconds(c.serverPid), self: process.cpuUsage() }
        inFlight++
        if (inFlight > maxInFlight && measured) maxInFlight = inFlight
        f.send(issued % f.size, payload(measured ? tag : 0), done(measured))
        issued++
      }
      if (issued >= total) {
        clearInterval(timer)
        resolve()
      }
    }, TICK_MS)
  })
  const seconds = Number(process.hrtime.bigint() - window.at) / 1e9
  const serverCpu = (cpuSeconds(c.serverPid) - window.server) / seconds
  const self = process.cpuUsage(window.self)
  // Whatever is still queued or on its way gets up to drainMs to arrive.
  const settled = () => inFlight === 0 && latencies.length + Object.values(errors).reduce((a, b) => a + b, 0) >= total - warmCount
  const drainEnd = Date.now() + c.drainMs
  while (!settled() && Date.now() < drainEnd) await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS))
  receive = () => undefined
  return {
    latency: summarize(latencies),
    sent: total - warmCount,
    delivered: latencies.length,
    errors,
    maxInFlight,
    seconds,
    serverCpu,
    generatorCpu: (self.user + self.system) / 1e6 / seconds,
  }
}

function heartbeats(): HeartbeatsReply {
  return { times: fleets.flatMap((f) => f.takeHeartbeats()), closed: fleets.reduce((n, f) => n + f.closed(), 0) }
}

async function handle(command: Command): Promise<unknown> {
  switch (command.cmd) {
    case 'connect':
      return connect(command)
    case 'relay':
      return relay(command)
    case 'heartbeats':
      return heartbeats()
    case 'close':
      for (const f of fleets.splice(0)) f.close()
      return null
  }
}

process.on('message', (raw) => {
  const { id, command } = raw as { id: number; command: Command }
  handle(command).then(
    (value) => process.send!({ id, ok: true, value }),
    (err: Error) => process.send!({ id, ok: false, error: err.stack ?? String(err) }),
  )
})
// The benchmark process went away (or stopped us): drop every connection with us.
process.on('disconnect', () => process.exit(0))
process.on('SIGTERM', () => process.exit(0))
console.log('loadgen ready')
