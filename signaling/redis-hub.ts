import { Unavailable } from './errors'
import { encodeData, type Hub, type HubOptions, type JoinFailure, type JoinResult, newEpoch, type RelayResult, retentionMs } from './hub'
import type { Logger } from './log'
import { NO_OBSERVER } from './metrics'
import type { PeerInfo } from './protocol'
import { createRedisStore } from './redis-store'
import { createHeldStreams } from './redis-streams'
import { createRedisTickets } from './redis-tickets'

// What "no cap" is in Lua's numbers: more than any room can hold.
const SEATS_UNLIMITED = 1_000_000

/**
 * The hub shared by any number of instances through Redis: rooms, presence and event buffers live in
 * Redis (atomic Lua scripts, redis-scripts.ts); each instance holds the streams of its own clients
 * (redis-streams.ts) and hears their events by pub/sub. Any instance answers any POST; a stream may
 * reconnect to any instance and resume.
 */
export function createRedisHub(url: string, options: HubOptions & { log: Logger; prefix?: string }): Hub {
  const prefix = options.prefix ?? 'parley:'
  const observer = options.observer ?? NO_OBSERVER
  let closed = false
  const store = createRedisStore(url, {
    prefix,
    log: options.log,
    replayEvents: options.replayEvents,
    retentionMs: retentionMs(options),
    resubscribe: () => streams.resubscribe(),
    expired: (left) => observer.left('timeout', left),
  })
  const streams = createHeldStreams(store, { ...options, prefix })
  const { run } = store
  const parseRoster = (json: string) => JSON.parse(json) as PeerInfo[]

  return {
    async join(sessionId, room, meta, reclaim, admission = {}): Promise<JoinResult> {
      const [peer, result] = await run<[string, string]>(
        'join',
        sessionId,
        room,
        reclaim ?? '',
        options.newPeerId(sessionId, room),
        meta ?? '',
        meta === undefined ? 0 : 1,
        options.maxPeersPerRoom,
        options.maxPeersPerSession,
        newEpoch(),
        Date.now() + options.graceMs,
        admission.verifier ?? '',
        admission.address ?? '',
        options.maxSeatsPerSession ?? SEATS_UNLIMITED,
        options.maxSeatsPerIp ?? SEATS_UNLIMITED,
      )
      if (peer === '') return { ok: false, code: result as JoinFailure }
      if (peer !== reclaim) observer.joined()
      return { ok: true, peer, peers: parseRoster(result) }
    },

    async relay(sessionId, from, to, data): Promise<RelayResult> {
      const json = encodeData(data)
      if (json === null) return { ok: false, code: 'BAD_DATA' }
      const result = await run<string>('relay', sessionId, from, to, json)
      if (result !== 'OK') return { ok: false, code: result as 'NOT_YOUR_PEER' | 'UNKNOWN_PEER' | 'NOT_IN_ROOM' }
      observer.relayed(1)
      return { ok: true }
    },

    async leave(sessionId, peer) {
      const left = await run<number>('leave', sessionId, peer ?? '')
      if (left > 0) observer.left('leave', left)
    },

    connect: streams.connect,
    disconnect: streams.disconnect,
    tickets: createRedisTickets(run, options.ticketTtlMs),

    async hasPeer(sessionId, peer) {
      if (!store.commandsUp()) throw new Unavailable('redis unavailable')
      return (await store.cmd.hget(`${prefix}p:${peer}`, 'session')) === sessionId
    },

    // The heartbeat, the deadline refresh and the store's sweep.
    stats: () => ({ ...store.counts(), streams: streams.size, timers: closed ? 0 : 3 }),

    ready: store.ready,

    close() {
      if (closed) return
      closed = true
      streams.close()
      store.close()
    },
  }
}
