import type { IceServer, PeerInfo } from '../../signaling/protocol'
import { createOutbox, type Outbox } from './outbox'
import { PeerLink, PING_MS } from './peer-link'
import { type ChatMessage, cleanName, type PeerMessage, parseEnvelope, parsePeerMessage, type SignalEnvelope } from './peer-protocol'
import type { CreatePeer, PairMemory, PeerEvent, PeerView, RoomSelf } from './types'

/** Pairs remembered after a peer goes, so one that comes back resumes where it was. */
const REMEMBERED_PAIRS = 256

interface MeshOptions {
  self: RoomSelf
  createPeer: CreatePeer
  iceServers: () => IceServer[]
  signal: (to: string, envelope: SignalEnvelope) => void
  /** Someone joined, connected, changed or left. */
  peerEvent: (event: PeerEvent, view: PeerView) => void
  /** A new chat message from `from` (deduplicated; its signature still to be checked). */
  onChat: (from: string, message: ChatMessage) => void
  /** Their hello (for their signing key) and every other message type the mesh does not handle. */
  onMessage: (from: string, message: PeerMessage) => void
  /** Binary frames (file content); false when nobody expected it. */
  onBinary: (from: string, bytes: Uint8Array) => boolean
  /** Whether their next message fits their budget (see budget.ts); dropped if not. */
  admit?: (from: string, raw: unknown) => boolean
  /** Blocked peers: never connected to. */
  blocked?: (id: string) => boolean
  /** A second hello on one channel, dropped: answering it would resend the outbox and history (an amplifier). */
  helloAgain?: (from: string) => void
}

interface Receivers {
  self: RoomSelf
  outbox: Outbox
  counters: { dropped: number; duplicates: number }
  onChat: MeshOptions['onChat']
  onMessage: MeshOptions['onMessage']
  onBinary: MeshOptions['onBinary']
  admit: NonNullable<MeshOptions['admit']>
  helloAgain: NonNullable<MeshOptions['helloAgain']>
}

/** Everything that arrives on a link's channel, parsed, deduplicated and handed on. */
function receive(link: PeerLink, raw: unknown, { self, outbox, counters, onChat, onMessage, onBinary, admit, helloAgain }: Receivers) {
  if (!admit(link.id, raw)) return void counters.dropped++
  if (raw instanceof Uint8Array) {
    if (!onBinary(link.id, raw)) counters.dropped++
    return
  }
  const message = parsePeerMessage(raw, link.id)
  if (!message) return void counters.dropped++
  switch (message.type) {
    case 'ping':
      return
    case 'hello':
      if (link.ready) {
        counters.dropped++
        return helloAgain(link.id)
      }
      // Their hello says what they have of mine: send the rest of the outbox (theirs only), then go live.
      return link.afterOwnHello(() => {
        link.greeted(message.name, message.color, message.key, () => {
          for (const pending of outbox.pendingFor(link.id, message.have, link.baseline)) link.send(pending)
        })
        onMessage(link.id, message)
      })
    case 'name':
      return link.profile(message.name, message.color)
    case 'chat':
      // Before their hello (lost: PeerLink then makes the channel again) it is not taken: the next one brings it.
      if (!link.ready || (message.to !== undefined && message.to !== self.id)) return void counters.dropped++
      if (!outbox.fresh(message, link.received)) return void counters.duplicates++
      link.received = message.seq
      link.profile(message.name)
      return onChat(link.id, message)
    default:
      return onMessage(link.id, message)
  }
}

/** Sending to the links that are ready: through the outbox (chat), for the moment only, or binary. */
function sending(links: Map<string, PeerLink>, outbox: Outbox, self: RoomSelf) {
  return {
    /** Sends a chat message to everyone (or to `message.to` only), now or when they connect. */
    /** Sends to every connected peer it is for, and keeps it for the others; how many it went to. */
    broadcast(message: ChatMessage): number {
      outbox.push(message)
      let sent = 0
      for (const link of links.values()) {
        if (link.ready && (message.to === undefined || message.to === link.id)) {
          link.send(message)
          sent++
        }
      }
      return sent
    },

    /** Sends to one connected peer (or every one without `to`); no outbox: for the moment only. */
    sendNow(message: PeerMessage, to?: string): string[] {
      const sent: string[] = []
      for (const link of links.values()) {
        if (link.ready && (to === undefined || to === link.id)) {
          link.send(message)
          sent.push(link.id)
        }
      }
      return sent
    },

    /** Binary to one connected peer, waiting while its channel's buffer is full. False if it went. */
    sendBinary: async (to: string, bytes: Uint8Array): Promise<boolean> => (await links.get(to)?.sendBinary(bytes)) ?? false,

    /** Everyone whose channel is open and greeted. */
    connected: (): string[] => [...links.values()].filter((l) => l.ready).map((l) => l.id),

    announceName(): void {
      // Every open channel, ready or not: a hello sent before the rename carried the old name.
      for (const link of links.values()) {
        if (link.state === 'connected') link.send({ type: 'name', name: self.name, ...(self.color ? { color: self.color } : {}) })
      }
    },
  }
}

/** One 1 Hz timer for every link's pings and silence checks, running while there are links. */
function createPinger(links: Map<string, PeerLink>) {
  let timer: ReturnType<typeof setInterval> | undefined
  const tick = () => {
    const now = Date.now()
    for (const link of [...links.values()]) link.tick(now)
  }
  return {
    start() {
      timer ??= setInterval(tick, PING_MS)
    },
    stop() {
      clearInterval(timer)
      timer = undefined
    },
  }
}

/** Keeps the most recent pairs (by when they went), dropping the oldest beyond REMEMBERED_PAIRS. */
function remember(remembered: Map<string, PairMemory>, id: string, memory: PairMemory) {
  remembered.delete(id)
  remembered.set(id, memory)
  if (remembered.size > REMEMBERED_PAIRS) remembered.delete(remembered.keys().next().value!)
}

/** The full mesh of one room: one link per remote peer (see peer-link.ts), presence, and the outbox. */
export function createMesh(options: MeshOptions) {
  const { self, signal, peerEvent, onChat, onMessage, onBinary } = options
  const links = new Map<string, PeerLink>()
  const remembered = new Map<string, PairMemory>()
  const outbox = createOutbox()
  const counters = { dropped: 0, duplicates: 0 }
  const receivers: Receivers = {
    self,
    outbox,
    counters,
    onChat,
    onMessage,
    onBinary,
    admit: options.admit ?? (() => true),
    helloAgain: options.helloAgain ?? (() => {}),
  }
  const pinger = createPinger(links)
  // Peers whose signals did not open before we knew of them (their signal beat the event naming them):
  // they arrive already unverified, as the spec says, instead of "connecting" forever.
  const unverifiedEarly = new Set<string>()

  function add(info: PeerInfo, newer: boolean): void {
    if (info.id === self.id || links.has(info.id) || options.blocked?.(info.id)) return
    const known = remembered.get(info.id)
    const link: PeerLink = new PeerLink({
      id: info.id,
      name: cleanName(info.meta ?? '') || known?.name || '',
      memory: {
        initiator: known?.initiator ?? newer,
        attempt: known?.attempt ?? 0,
        baseline: known?.baseline ?? outbox.lastSeq(),
        received: known?.received ?? 0,
      },
      self,
      createPeer: options.createPeer,
      iceServers: options.iceServers,
      signal: (envelope) => signal(info.id, envelope),
      changed: peerEvent,
      opened: pinger.start,
      data: (raw) => receive(link, raw, receivers),
      gone: () => remove(info.id),
    })
    links.set(info.id, link)
    peerEvent('peer-joined', link.view())
    if (unverifiedEarly.delete(info.id)) link.markUnverified()
    else link.start()
  }

  function remove(id: string): void {
    const link = links.get(id)
    if (!link) return
    links.delete(id)
    link.destroy()
    remember(remembered, id, link.memory())
    if (links.size === 0) pinger.stop()
    peerEvent('peer-left', link.view())
  }

  /** Presence hints from the server about a peer's stream. */
  function setAway(id: string, away: boolean) {
    const link = links.get(id)
    if (link) {
      link.away = away
      // Their stream and our channel both dropped: nothing says they are still there.
      if (away && link.state !== 'connected' && link.state !== 'connecting') remove(id)
    } else if (!away && remembered.has(id)) {
      add({ id }, false) // back within the grace period after we gave up on them
    }
  }

  return {
    ...sending(links, outbox, self),
    /** Someone joined after us: they initiate. */
    add: (info: PeerInfo) => add(info, false),
    remove,

    receiveSignal(from: string, data: unknown): void {
      const link = links.get(from)
      const envelope = parseEnvelope(data)
      if (!link || !envelope) return void counters.dropped++
      link.receiveSignal(envelope)
    },

    /** A roster is the truth about who is in the room; `optimistic` ones (from a join reply) only add. */
    reconcile(peers: PeerInfo[], optimistic = false): void {
      const ids = new Set(peers.map((p) => p.id))
      // Connected peers missing from the roster are kept: after a server restart the roster fills up
      // as everyone re-joins, and their channels never needed the server.
      if (!optimistic) {
        for (const [id, link] of [...links]) if (!ids.has(id) && link.state !== 'connected') remove(id)
      }
      for (const info of peers) add(info, true)
    },

    views: (): PeerView[] => [...links.values()].map((l) => l.view()),

    away: (id: string) => setAway(id, true),
    back: (id: string) => setAway(id, false),

    /**
     * The server dropped them after the grace period. A channel that still carries their pings says
     * they are here all the same (their stream is what broke): keep them, as away, until it dies.
     */
    timedOut(id: string): void {
      const link = links.get(id)
      if (link?.heardRecently()) link.away = true
      else remove(id)
    },

    /** Their signals do not open: stop connecting to them and show them as failed. */
    unverified(id: string): void {
      const link = links.get(id)
      if (link) link.markUnverified()
      else if (unverifiedEarly.size < REMEMBERED_PAIRS) unverifiedEarly.add(id)
    },

    /** Sends an envelope outside any connection attempt. */
    signalRaw(id: string, envelope: SignalEnvelope): void {
      if (links.has(id)) signal(id, envelope)
    },

    setCode: (id: string, code: string) => links.get(id)?.setCode(code),

    /** The server knows no such peer: unless a live channel says otherwise, they are gone. */
    unknown(id: string): void {
      if (links.get(id)?.state !== 'connected') remove(id)
    },

    /** Closes every connection quietly (leaving, or re-joining with a new identity). */
    reset(): void {
      for (const link of links.values()) link.destroy()
      links.clear()
      remembered.clear()
      pinger.stop()
    },

    stats: () => ({ ...counters, connections: [...links.values()].filter((l) => l.hasChannel).length, outbox: outbox.size }),
  }
}

export type Mesh = ReturnType<typeof createMesh>
