import SimplePeer from 'simple-peer'
import { mark } from './marks'
import type { CreatePeer, PeerLike } from './types'

// A browser finds its host candidates in one pass: Chromium signals them within 0.5 ms of each other,
// Firefox on its 1 ms timer steps, all within 2 ms. The host candidates are out once this long has
// passed without another.
const HOST_CANDIDATES_QUIET_MS = 2

/** simple-peer with trickle ICE. */
export const createSimplePeer: CreatePeer = ({ initiator, iceServers, gathered }) => {
  const peer = new SimplePeer({
    initiator,
    trickle: true,
    config: { iceServers: iceServers as RTCIceServer[] },
  })
  peer.on('iceStateChange', (state: RTCIceConnectionState) => (state === 'connected' || state === 'completed') && mark('ice-connected'))
  peer.on('connect', () => mark('channel-open'))
  onGathered(peer, gathered)
  return peer as unknown as PeerLike
}

/** A connection that could not be made: it closes at once, so its pair's usual failure path handles it. */
export function closedPeer(): PeerLike {
  const closes: Array<() => void> = []
  // Not at once: its owner listens for 'close' only once this has returned.
  queueMicrotask(() => {
    for (const close of closes) close()
  })
  const on = (event: string, handler: unknown) => event === 'close' && closes.push(handler as () => void)
  return { on, signal() {}, send() {}, destroy() {} }
}

/**
 * Calls `gathered` once the host candidates of `peer` have been signalled, or gathering ended (the page's
 * and Node's peers). Not at the end of gathering alone: Chromium ends it 20–120 ms after the description
 * (test/bench/README.md, the seventh and ninth passes). Candidates found later (from STUN or TURN
 * servers) follow in POSTs of their own.
 */
export function onGathered(peer: SimplePeer.Instance, gathered: (() => void) | undefined): void {
  if (!gathered) return
  let called = false
  let quiet: ReturnType<typeof setTimeout> | undefined
  const done = () => {
    clearTimeout(quiet)
    if (called || peer.destroyed) return
    called = true
    gathered()
  }
  // HACK: simple-peer's own (undocumented) event for the null candidate, or for its 5 s timeout, which
  // it does not clear on destroy: https://github.com/feross/simple-peer/blob/v9.11.1/index.js#L594-L603
  peer.on('_iceComplete', done)
  peer.on('signal', (data: { candidate?: unknown }) => {
    if (!data.candidate || called) return
    clearTimeout(quiet)
    quiet = setTimeout(done, HOST_CANDIDATES_QUIET_MS)
  })
}

/** 'relayed' when either end of the pair's selected candidate pair is a TURN relay candidate. */
export function routeOf(reports: Array<Record<string, unknown>>): 'direct' | 'relayed' | undefined {
  const byId = new Map(reports.map((r) => [r.id, r]))
  const transport = reports.find((r) => r.type === 'transport' && r.selectedCandidatePairId)
  const pair =
    (transport && byId.get(transport.selectedCandidatePairId)) ??
    reports.find((r) => r.type === 'candidate-pair' && (r.selected === true || (r.nominated === true && r.state === 'succeeded')))
  if (!pair) return undefined
  const types = [byId.get(pair.localCandidateId)?.candidateType, byId.get(pair.remoteCandidateId)?.candidateType]
  return types.includes('relay') ? 'relayed' : 'direct'
}

// simple-peer queues nothing for send(): a sender of files must watch the channel's buffer itself.
const HIGH_WATER_BYTES = 1024 * 1024

/**
 * Resolves when the peer's data channel can take more (bufferedAmount under a megabyte).
 * HACK: simple-peer keeps its RTCDataChannel in `_channel` and offers no drain event for send().
 * https://github.com/feross/simple-peer/blob/v9.11.1/index.js#L513
 */
export function whenDrained(peer: PeerLike): Promise<void> {
  const channel = (peer as unknown as { _channel?: RTCDataChannel | null })._channel
  if (!channel || channel.bufferedAmount < HIGH_WATER_BYTES) return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      channel.removeEventListener('bufferedamountlow', done)
      channel.removeEventListener('close', done)
      resolve()
    }
    channel.addEventListener('bufferedamountlow', done)
    channel.addEventListener('close', done)
  })
}
