// PeerJS's PeerServer 1.x as the comparison in the server benchmarks, in a process of its own:
// `node --import tsx test/bench/peerserver.ts`. Its own CLI logs a line per connection, which would
// cost it time at 10,000 peers, so this starts it through its API instead. Prints the port; answers
// `stats` over IPC with heap and event-loop delay (measured as prom-client measures Parley's).
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { PeerServer } from 'peer'

// As prom-client's default, so both servers' event-loop figures mean the same.
const LAG_RESOLUTION_MS = 10

const lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS })
lag.enable()

PeerServer(
  {
    host: '127.0.0.1',
    port: 0,
    // Defaults are 5,000 peers and 60 s without a heartbeat; the benchmarks go past both.
    concurrent_limit: 1_000_000,
    alive_timeout: 600_000,
  },
  (server) => {
    const address = server.address()
    const port = typeof address === 'object' && address ? address.port : 0
    console.log(`PeerServer listening on port ${port}`)
  },
)

process.on('message', (message) => {
  if (message !== 'stats') return
  process.send!({
    heapUsed: process.memoryUsage().heapUsed,
    lagP50: lag.percentile(50) / 1e9,
    lagP99: lag.percentile(99) / 1e9,
    lagMax: lag.max / 1e9,
  })
  lag.reset()
})
process.on('disconnect', () => process.exit(0))
process.on('SIGTERM', () => process.exit(0))
