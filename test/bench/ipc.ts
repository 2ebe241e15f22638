// What the benchmark process asks a load generator (loadgen.ts) to do, and what it answers.

export type Target = 'parley' | 'peerserver'

/** Latency summary in milliseconds. */
export interface Latency {
  n: number
  p50: number
  p90: number
  p99: number
  max: number
}

export interface ConnectCommand {
  cmd: 'connect'
  target: Target
  /** Server origin, e.g. http://127.0.0.1:8080. */
  url: string
  /** Rooms of two (Parley) or pairs of ids (PeerServer): `pairs * 2` peers, each on its own connection. */
  pairs: number
  /** Makes room names and PeerServer ids unique across generators. */
  prefix: string
  /** PeerServer only: send `HEARTBEAT` every 5 s per peer, as the peerjs client does. */
  clientHeartbeats?: boolean
  /** Parley only: open each stream as a browser does (fleet.ts `BROWSER_STREAM_HEADERS`). */
  browserStreams?: boolean
  /** Parley only: signals through Node's `http.request`, not written straight to the sockets (raw-post.ts). */
  nodeClient?: boolean
}

export interface ConnectReply {
  peers: number
  failed: number
  ms: number
  errors: Record<string, number>
  /** Joins resent once after their reused keep-alive socket was reset (as browsers do). */
  retried: number
  /** The generator's own soft open-file limit. */
  nofile: number
}

export interface RelayCommand {
  cmd: 'relay'
  /** Signals per second, open loop: sends follow the clock, not the replies. */
  rate: number
  warmMs: number
  measureMs: number
  /** Longest wait after the last send for every answer and delivery to arrive. */
  drainMs: number
  /** The server's pid, to read its CPU time at the edges of the measured window. */
  serverPid: number
}

export interface RelayReply {
  latency: Latency
  sent: number
  delivered: number
  /** Non-204 answers (Parley) or socket errors, by status or code. */
  errors: Record<string, number>
  /** Most requests outstanding at once. */
  maxInFlight: number
  seconds: number
  serverCpu: number
  generatorCpu: number
}

export interface HeartbeatsCommand {
  cmd: 'heartbeats'
}

export interface HeartbeatsReply {
  /**
   * Per stream (Parley only), the arrival times (process.hrtime, ms: one clock for every process on the
   * machine) of the heartbeat comments received since the previous `heartbeats` command.
   */
  times: number[][]
  /** Streams or sockets that closed since they opened. */
  closed: number
}

export interface CloseCommand {
  cmd: 'close'
}

export type Command = ConnectCommand | RelayCommand | HeartbeatsCommand | CloseCommand

export type Reply<C extends Command> = C extends ConnectCommand
  ? ConnectReply
  : C extends RelayCommand
    ? RelayReply
    : C extends HeartbeatsCommand
      ? HeartbeatsReply
      : null
