import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client'
import type { ErrorCode, LeaveReason, ResetReason } from './protocol'

/** What the hub and router report as it happens (the hub stays free of any metrics library). */
export interface Observer {
  joined(): void
  left(reason: LeaveReason, count: number): void
  relayed(count: number): void
  replayed(events: number): void
  reset(reason: ResetReason): void
  refused(code: ErrorCode): void
  turnIssued(): void
}

export const NO_OBSERVER: Observer = {
  joined() {},
  left() {},
  relayed() {},
  replayed() {},
  reset() {},
  refused() {},
  turnIssued() {},
}

/** Prometheus metrics of one server, on a registry of its own (tests run many servers per process). */
export function createMetrics(
  counts: () => { rooms: number; peers: number; sessions: number; streams: number },
  options: { processMetrics?: boolean } = {},
) {
  const registry = new Registry()
  if (options.processMetrics) collectDefaultMetrics({ register: registry })
  const gauge = (name: keyof ReturnType<typeof counts>, help: string) =>
    new Gauge({
      name: `parley_${name}`,
      help,
      registers: [registry],
      collect() {
        this.set(counts()[name])
      },
    })
  gauge('rooms', 'Rooms with at least one peer')
  gauge('peers', 'Peers in rooms')
  gauge('sessions', 'Client sessions (one per browser with a shared stream)')
  gauge('streams', 'Open event streams')
  const counter = <L extends string = never>(name: string, help: string, labelNames: L[] = []) =>
    new Counter<L>({ name: `parley_${name}`, help, labelNames, registers: [registry] })
  const joins = counter('joins_total', 'Peers that joined a room')
  const leaves = counter('leaves_total', 'Peers that left a room, by reason', ['reason'])
  const signals = counter('signals_relayed_total', 'Signals relayed to a peer')
  const replays = counter('resume_replayed_events_total', 'Events replayed to streams that resumed')
  const resets = counter('resets_total', 'Streams told to reset, by reason', ['reason'])
  const errors = counter('errors_total', 'Requests refused, by error code', ['code'])
  const limited = counter('rate_limited_total', 'Requests refused by a rate limit')
  const turn = counter('turn_credentials_issued_total', 'Time-limited TURN credentials handed out')

  const observer: Observer = {
    joined: () => joins.inc(),
    left: (reason, count) => leaves.inc({ reason }, count),
    relayed: (count) => signals.inc(count),
    replayed: (events) => replays.inc(events),
    reset: (reason) => resets.inc({ reason }),
    refused(code) {
      errors.inc({ code })
      if (code === 'RATE_LIMITED') limited.inc()
    },
    turnIssued: () => turn.inc(),
  }
  return { registry, observer }
}
