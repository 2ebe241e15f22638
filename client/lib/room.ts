import type { IceServer } from '../../signaling/protocol'
import { createBudget } from './budget'
import { createConversation } from './conversation'
import { createEmitter } from './emitter'
import { createFiles } from './files'
import { createRoomLog } from './history'
import { keptIdentity } from './identity'
import { mark } from './marks'
import { createMembershipEvents } from './membership'
import { createMesh } from './mesh'
import { cleanName, cleanText, isEmoji, MAX_TEXT_CHARS } from './peer-protocol'
import { createSealedSignals } from './sealed-signals'
import { createSealer } from './sealer'
import { createSignalingClient } from './signaling/client'
import { SignalingError } from './signaling/http'
import type {
  Emit,
  JoinOptions,
  MembershipHandlers,
  PeerEvent,
  PeerView,
  Room,
  RoomEvents,
  RoomSelf,
  RoomStatus,
  Signaling,
  SignalingStatus,
} from './types'
import { createSerialQueue, isColor } from './util'
import { closedPeer, createSimplePeer } from './webrtc'

// Refresh TURN credentials at 80% of their lifetime; after a failed refresh, try again in a minute.
const ICE_REFRESH_AT = 0.8
const ICE_RETRY_S = 60

const roomStatus = (s: SignalingStatus): RoomStatus => (s === 'online' ? 'online' : s === 'offline' ? 'reconnecting' : 'joining')

/** The room's ICE servers. TURN credentials expire: fetch new ones well before, for the connections made after that. */
function createIceServers(signaling: Signaling, self: RoomSelf, closed: () => boolean) {
  let servers: IceServer[] = []
  let timer: ReturnType<typeof setTimeout> | undefined

  function schedule(ttlS: number | undefined) {
    clearTimeout(timer)
    if (!ttlS) return
    timer = setTimeout(
      () => {
        if (closed() || !self.id) return
        signaling
          .refreshIce(self.id)
          .then((ice) => {
            servers = ice.iceServers
            schedule(ice.iceServersTtlS)
          })
          .catch(() => schedule(ICE_RETRY_S))
      },
      ttlS * ICE_REFRESH_AT * 1000,
    )
  }

  return {
    current: () => servers,
    set(list: IceServer[], ttlS: number | undefined): void {
      servers = list
      schedule(ttlS)
    },
    stop: () => clearTimeout(timer),
  }
}

/**
 * The room's parts, each built after what it uses: sealed signals, then the mesh (which sends through
 * them), then the conversation and files (which send through the mesh), then the membership events
 * (which drive the mesh). What flows back up is wired here with narrow callbacks.
 */
function buildParts(options: JoinOptions, self: RoomSelf, signaling: Signaling, emit: Emit, closed: () => boolean) {
  const onError = (err: Error) => emit('error', err)
  const identity = options.identity ? Promise.resolve(options.identity) : keptIdentity(options.room, options.keys)
  identity.then(
    (id) => {
      mark('identity-ready')
      self.key = id.key
    },
    () => {}, // joinRoom closes the room on it
  )
  const log = identity.then((id) => createRoomLog(id))
  const sealer = options.sealer ?? createSealer(options.secret, options.room)
  const sealed = createSealedSignals({ self, sealer, signaling, closed, onError })
  // Without WebCrypto nothing seals either; the join then fails on the server's terms, not here.
  const verifier = sealer.verifier?.().catch(() => undefined)
  const ice = createIceServers(signaling, self, closed)
  // Inbound data-channel messages are checked asynchronously (signatures): one queue keeps their order.
  const inbound = createSerialQueue()
  const inOrder = (task: () => Promise<unknown>) => void inbound(task).catch(onError)

  const blocked = new Set<string>()
  const budget = createBudget({
    changed(peer) {
      const view = mesh.views().find((v) => v.id === peer)
      if (view) emit('peer-updated', budget.decorate(view))
    },
  })

  function peerEvent(type: PeerEvent, view: PeerView) {
    if (type === 'peer-left') {
      conversation.gone(view.id)
      files.gone(view.id)
    }
    if (type === 'peer-connected') {
      mark('connected')
      budget.opened(view.id)
      void sealed.code(view.id).then((code) => code && mesh.setCode(view.id, code))
    }
    emit(type, budget.decorate(view))
    if (type === 'peer-left') budget.gone(view.id)
  }

  // A connection that could not be made: said once per reason, and after the mesh's own step, not in the
  // middle of it. Its pair sees a connection that closed, and backs off and retries.
  const refusals = new Set<string>()
  const refused = (err: unknown) => {
    const reason = err instanceof Error ? err.message : String(err)
    const text = `Could not open a connection to someone (${reason}); trying again.`
    if (!refusals.has(reason)) queueMicrotask(() => onError(new SignalingError('CONNECTION_REFUSED', text)))
    refusals.add(reason)
  }
  const mesh = createMesh({
    self,
    createPeer(peer) {
      const done = sealed.making()
      try {
        const made = (options.createPeer ?? createSimplePeer)({ ...peer, gathered: done })
        made.on('close', done)
        // simple-peer turns a browser's refusal (too many connections, WebRTC blocked) into an error, then a close.
        made.on('error', (err) => (err as { code?: unknown }).code === 'ERR_PC_CONSTRUCTOR' && refused(err))
        return made
      } catch (err) {
        // No WebRTC in this browser, no native module in Node: nothing to wait for.
        done()
        refused(err)
        return closedPeer()
      }
    },
    iceServers: ice.current,
    signal: (to, envelope) => sealed.send(to, envelope),
    peerEvent,
    onChat: (from, message) => inOrder(() => conversation.chat(from, message)),
    onMessage(from, message) {
      if (message.type === 'history') {
        if (!budget.history(from, message.entries.length)) return
        message.entries = budget.authored(from, message.entries)
      }
      // A file offer must be in place before its first binary frame, which is handled at once.
      if (message.type === 'file') return files.offered(from, message)
      if (message.type === 'file-cancel') return files.cancelled(from, message.id)
      inOrder(() => conversation.message(from, message))
    },
    onBinary: (from, bytes) => files.received(from, bytes),
    admit: (from, raw) => !blocked.has(from) && budget.admit(from, raw),
    blocked: (id) => blocked.has(id),
    helloAgain: budget.hello,
  })
  const conversation = createConversation({ room: options.room, self, mesh, emit, identity, log, store: options.store })
  const files = createFiles(mesh, emit, budget.file)
  // Nothing reaches the mesh before the signing key is ready: every hello carries it. The join need not
  // wait for it (the server never sees it), so the key is made while the join is in flight.
  const membership = createMembershipEvents({ mesh, sealed, closed, onError, ready: identity })
  return { identity, verifier, sealed, ice, mesh, conversation, files, membership, budget, blocked }
}

/** Joins a room: a full mesh of data channels to everyone in it, introduced by the signaling server. */
export function joinRoom(options: JoinOptions): Room {
  const events = createEmitter<RoomEvents>()
  const ownsSignaling = !options.signaling
  const signaling = options.signaling ?? createSignalingClient(options.server)
  const self: RoomSelf = { id: '', name: cleanName(options.name) }
  if (isColor(options.color)) self.color = options.color.toLowerCase()
  let status: RoomStatus = 'joining'
  let left = false
  const parts = buildParts(options, self, signaling, events.emit, () => left)
  const { identity, verifier, sealed, ice, mesh, conversation, files, membership, budget, blocked } = parts

  const setStatus = (next: RoomStatus) => {
    if (status === next || status === 'closed') return
    status = next
    events.emit('status', next)
  }

  const offs = [
    signaling.on('status', (s) => {
      if (s === 'online') mark('stream-open')
      if (self.id) setStatus(roomStatus(s))
    }),
    signaling.on('error', (err) => events.emit('error', err)),
  ]

  const handlers: MembershipHandlers = {
    joined(joined) {
      if (left) return
      mark('join-answered')
      self.id = joined.peer
      conversation.joined(joined.peer)
      ice.set(joined.iceServers, joined.iceServersTtlS)
      setStatus(signaling.status === 'offline' ? 'reconnecting' : 'online')
      membership.roster(joined.peers)
    },
    event: (event) => membership.event(event),
    lost: () => void enter().catch(fail),
    unknown: (peer) => membership.unknown(peer),
  }

  async function enter() {
    self.id = ''
    mesh.reset()
    membership.reset()
    setStatus('joining')
    const [meta, proof] = await Promise.all([sealed.sealName(self.name), verifier])
    if (left) return
    mark('join-sent')
    const joined = await signaling.join(options.room, meta, handlers, { verifier: proof })
    if (left) signaling.leave(joined.peer)
  }

  /** Joining failed for good (no signing key, a refused join): say why, then the room closes. */
  function fail(err: Error) {
    // Cancelled or closed: this page went away with the join in flight (signaling close()); nothing to say.
    const going = err instanceof SignalingError && (err.code === 'JOIN_CANCELLED' || err.code === 'CLOSED')
    if (!going && !left) events.emit('failed', err)
    leave()
  }

  /** The one way out: every part stops, the server hears we left, and nobody hears from the room again. */
  function leave() {
    if (left) return
    left = true
    ice.stop()
    sealed.close()
    for (const off of offs) off()
    mesh.reset()
    conversation.close()
    files.reset()
    if (self.id) signaling.leave(self.id)
    if (ownsSignaling) signaling.close()
    setStatus('closed')
    status = 'closed'
    events.clear()
  }

  // Without an identity (no Ed25519) the room closes and says why; restoring fails with it, quietly.
  identity.catch(fail)
  void conversation.restore().catch(() => {})
  void enter().catch(fail)

  return {
    id: options.room,
    self,
    get status() {
      return status
    },
    get peers() {
      return mesh.views().map(budget.decorate)
    },
    send(raw, sendOptions) {
      const text = cleanText(raw)
      const to = sendOptions?.to
      if (left || !self.id || text.trim() === '' || text.length > MAX_TEXT_CHARS) return null
      if (to !== undefined && !mesh.views().some((p) => p.id === to)) return null
      const replyTo = sendOptions?.replyTo
      return conversation.send(text, to, replyTo === undefined ? undefined : { act: 'reply', id: replyTo })
    },
    react: (id, emoji, on) =>
      left || !self.id || !isEmoji(emoji) ? Promise.resolve(false) : conversation.about({ act: 'react', id, emoji, on }),
    edit(id, raw) {
      const text = cleanText(raw)
      if (left || !self.id || text.trim() === '' || text.length > MAX_TEXT_CHARS) return Promise.resolve(false)
      return conversation.about({ act: 'edit', id }, text)
    },
    remove: (id) => (left || !self.id ? Promise.resolve(false) : conversation.about({ act: 'delete', id })),
    annotation: (id) => conversation.state(id),
    typing: (to) => conversation.typing(to),
    sendFile: (file, sendOptions) => files.send(file, sendOptions?.to),
    cancelFile: (id, from) => files.cancel(id, from),
    setName(name) {
      const clean = cleanName(name)
      if (!clean || clean === self.name) return
      self.name = clean
      mesh.announceName()
    },
    setColor(color) {
      if (!isColor(color) || color.toLowerCase() === self.color) return
      self.color = color.toLowerCase()
      mesh.announceName()
    },
    block(peer) {
      blocked.add(peer)
      mesh.remove(peer)
    },
    flush: () => conversation.flush(),
    leave,
    on: events.on,
    off: events.off,
    stats: () => ({ ...mesh.stats(), ...conversation.stats(), ...budget.stats() }),
  }
}
