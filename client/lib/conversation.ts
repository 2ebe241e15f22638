import { nanoid } from 'nanoid'
import { createAnnotations, isAnnotation } from './annotations'
import type { Added, RoomLog } from './history'
import { mark } from './marks'
import { type ChatMessage, MAX_ACK_IDS, type PeerMessage, type Reference } from './peer-protocol'
import { createSaving } from './saving'
import type { HistoryStore } from './stored'
import type { ChatView, Emit, Identity, PeerView, Receipt } from './types'
import { createTyping } from './typing'
import { createSerialQueue } from './util'

// Receipts wait a moment: a burst of messages shares one, and a reply a message prompts goes out first.
const ACK_DELAY_MS = 50
/** The join does not wait for the signing key, which may yet fail: the room then closes (room.ts). */
const keyFailed = () => {}

/** The part of the mesh a conversation sends through. */
interface Mesh {
  broadcast(message: ChatMessage): number
  sendNow(message: PeerMessage, to?: string): string[]
  views(): PeerView[]
}

/**
 * Only this session's own lines may be edited or deleted: the others count a change only from the same
 * session id and key (an earlier visit of this browser signs with the same key, under another id).
 */
const mayChange = (re: Reference, target: { message: { from: string }; key: string }, self: string, key: string) =>
  (re.act !== 'edit' && re.act !== 'delete') || (target.message.from === self && target.key === key)

/**
 * A line from its author's channel goes in at once once their key is proven (RoomLog.heard); their first
 * line, and a change to what is shown, once its signature is checked.
 */
async function hear(log: RoomLog, message: ChatMessage, forged: () => void): Promise<Added | 'known' | null> {
  // Already had: it came in history while their channel was down, and now from their outbox. No news,
  // and no forgery either.
  if (log.knows(message.id)) return 'known'
  if (isAnnotation(message) || !log.proven(message.from)) return log.live(message)
  const heard = log.heard(message)
  // A line whose signature fails stays shown (it came from its author; see RoomLog.heard), not handed on.
  void heard?.checked.then((ok) => ok || forged())
  return heard?.added ?? null
}

/**
 * Entries a hello showed were signed by someone else in its author's name (RoomLog.announce): out of the
 * annotations, and off the page. How many (they count as forged).
 */
function retract(notes: ReturnType<typeof createAnnotations>, emit: Emit, ids: string[]): number {
  if (ids.length === 0) return 0
  for (const changed of notes.drop(ids)) emit('annotation', changed)
  emit('retracted', { ids })
  return ids.length
}

/** Delivery receipts: ours awaited per recipient, theirs sent as one ack message per burst. */
function createReceipts(mesh: Mesh, emit: Emit) {
  const receipts = new Map<string, Receipt>()
  const pendingAcks = new Map<string, string[]>()
  const timers = new Set<ReturnType<typeof setTimeout>>()
  return {
    expect(id: string, recipients: string[]): void {
      receipts.set(id, { id, recipients, delivered: [] })
    },

    /** We received their message `id`. */
    ack(peer: string, id: string): void {
      const ids = pendingAcks.get(peer)
      if (ids) return void ids.push(id)
      pendingAcks.set(peer, [id])
      const timer = setTimeout(() => {
        timers.delete(timer)
        const batch = pendingAcks.get(peer) ?? []
        pendingAcks.delete(peer)
        for (let i = 0; i < batch.length; i += MAX_ACK_IDS) mesh.sendNow({ type: 'ack', ids: batch.slice(i, i + MAX_ACK_IDS) }, peer)
      }, ACK_DELAY_MS)
      timers.add(timer)
    },

    /** Whether message `id` of ours still waits for a recipient's receipt. */
    unconfirmed(id: string): boolean {
      const receipt = receipts.get(id)
      return receipt !== undefined && receipt.delivered.length < receipt.recipients.length
    },

    /** Leaving: receipts not yet sent are not sent. */
    close(): void {
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      pendingAcks.clear()
    },

    /** They received our messages `ids`. */
    acked(from: string, ids: string[]): void {
      for (const id of ids) {
        const receipt = receipts.get(id)
        if (!receipt?.recipients.includes(from) || receipt.delivered.includes(from)) continue
        receipt.delivered.push(from)
        emit('receipt', { ...receipt, delivered: [...receipt.delivered] })
      }
    },
  }
}

/**
 * Who is at the other end of a direct message (none for one to everyone): events about it, and replies
 * to it whoever the composer was writing to, stay between its two ends.
 */
const otherEnd = (message: ChatMessage | undefined, self: string) =>
  message?.to === undefined ? undefined : message.from === self ? message.to : message.from

/**
 * The conversation on top of the mesh: signed messages in one order for everyone, history for
 * newcomers (and from this browser's store), delivery receipts and typing indicators.
 */
export function createConversation(options: {
  room: string
  self: { id: string; name: string }
  mesh: Mesh
  emit: Emit
  identity: Promise<Identity>
  log: Promise<RoomLog>
  store: HistoryStore | undefined
}) {
  const { room, self, mesh, emit, store } = options
  const receipts = createReceipts(mesh, emit)
  const typing = createTyping(mesh, emit)
  const counters = { forged: 0 }
  let settled: RoomLog | undefined
  void options.log.then((log) => (settled = log)).catch(() => {})
  const saving = createSaving({ room, store, log: options.log, identity: options.identity, unconfirmed: receipts.unconfirmed })
  // Signing is asynchronous: one queue keeps the sender's order.
  const outgoing = createSerialQueue()
  let seq = 0

  const notes = createAnnotations()
  // Chat lines are shown; events about them change what is shown (once their target is here).
  const show = (view: ChatView, key: string) => {
    const changed = notes.add({ message: Object.assign(view, { key }), key })
    if (!isAnnotation(view)) emit('message', view)
    if (changed) emit('annotation', changed)
  }
  // An entry from this browser's store or someone's history, where it goes in the room's order.
  const shown = ({ entry, before }: Added, undelivered = false) =>
    show(
      { ...entry.message, mine: entry.mine, history: true, ...(before ? { before } : {}), ...(undelivered ? { undelivered } : {}) },
      entry.key,
    )

  // Entries past their check, whatever let them in (history, or the hello they waited for): shown and kept.
  const took = ({ added, refused, dropped = [] }: { added: Added[]; refused: number; dropped?: string[] }) => {
    counters.forged += refused + retract(notes, emit, dropped)
    for (const one of added) shown(one)
    if (added.length > 0 || dropped.length > 0) saving.heard()
  }

  return {
    /** Loads what this browser kept of the room, before anyone else's history arrives. */
    restore: () => saving.restore(shown),

    /** Joined as `peer`: only our own key signs as us (a history entry claiming to be ours is checked too). */
    joined(peer: string): void {
      void Promise.all([options.log, options.identity]).then(([log, identity]) => log.announce(peer, identity.key).then(took), keyFailed)
    },

    state: notes.state,

    /** An event about message `re.id`, to whoever saw it (its two ends, for a direct message); see mayChange. */
    async about(re: Reference, text = ''): Promise<boolean> {
      const target = notes.target(re.id)
      if (!target || isAnnotation(target.message)) return false
      if (!mayChange(re, target, self.id, (await options.identity).key)) return false
      this.send(text, otherEnd(target.message, self.id), re)
      return true
    },

    send(text: string, to: string | undefined, re?: Reference): ChatView | null {
      if (re?.act === 'reply') to = otherEnd(notes.target(re.id)?.message, self.id) ?? to
      if (re?.act === 'reply' && to !== undefined && !mesh.views().some((v) => v.id === to)) return null
      typing.sent()
      const message: ChatMessage = {
        type: 'chat',
        id: nanoid(),
        from: self.id,
        name: self.name,
        text,
        time: Date.now(),
        seq: ++seq,
        lamport: 0,
        ...(to === undefined ? {} : { to }),
        ...(re ? { re } : {}),
      }
      receipts.expect(message.id, to === undefined ? mesh.views().map((v) => v.id) : [to])
      saving.signing(message)
      outgoing(async () => {
        const log = await options.log
        message.lamport = log.tick()
        message.sig = await (await options.identity).sign(message).finally(() => saving.signed(message))
        const added = await log.live(message, true)
        const changed = added && notes.add({ message, key: added.entry.key })
        if (changed) emit('annotation', changed)
        saving.said(mesh.broadcast(message) > 0)
      }).catch((err: Error) => emit('error', err))
      return { ...message, mine: true }
    },

    typing: typing.local,

    /** A chat message straight from its author, in their channel's order. */
    async chat(from: string, message: ChatMessage): Promise<void> {
      typing.stop(from)
      const log = await options.log
      if (!log.admits(message)) return
      const added = await hear(log, message, () => counters.forged++)
      if (!added) return void counters.forged++
      receipts.ack(from, message.id)
      if (added === 'known') return
      show({ ...message, mine: false, ...(added.before ? { before: added.before } : {}) }, added.entry.key)
      saving.heard()
    },

    async message(from: string, message: PeerMessage): Promise<void> {
      switch (message.type) {
        case 'hello': {
          // Their key, from their own channel, is the key for their messages; then our history for them.
          const log = await options.log
          if (message.key) took(await log.announce(from, message.key))
          for (const entries of await log.batches()) mesh.sendNow({ type: 'history', entries }, from)
          return
        }
        case 'history': {
          const merged = await (await options.log).merge(message.entries, false, (id) => mesh.views().some((v) => v.id === id))
          mark('history-merged')
          return took(merged)
        }
        case 'ack':
          receipts.acked(from, message.ids)
          return saving.confirmed(message.ids)
        case 'typing':
          return typing.heard(from)
      }
    },

    /** Someone left: they are not typing any more, and history waiting for their hello is dropped. */
    gone(peer: string): void {
      typing.stop(peer)
      settled?.gone(peer)
    },
    stats: () => ({ ...counters, outOfRange: settled?.counts().outOfRange ?? 0 }),

    /** Writes what is not saved yet, now (the page is hidden, and may never run again). */
    flush: saving.flush,

    /** Every timer goes (leaving), after one last save. */
    close(): void {
      typing.close()
      receipts.close()
      saving.flush()
    },
  }
}
