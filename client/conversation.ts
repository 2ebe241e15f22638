import { nanoid } from 'nanoid'
import type { Emitter } from './emitter'
import type { History, HistoryStore } from './history'
import type { Identity } from './identity'
import { MAX_ACK_IDS, type ChatMessage, type PeerMessage } from './peer-protocol'
import type { PeerView } from './mesh'
import type { RoomEvents } from './room'

// Typing: say so at most every few seconds while typing; others forget it a little after the last.
export const TYPING_EVERY_MS = 2_000
export const TYPING_SHOWN_MS = 5_000
// Persisting history is batched: one write per burst of messages.
const SAVE_DELAY_MS = 500

/** A chat message as the page shows it. */
export type ChatView = ChatMessage & {
  mine: boolean
  /** Passed on by someone's history (or loaded from this device's store), not straight from its author. */
  history?: true
  /** Id of the message this one goes before (history arrives out of order); none: at the end. */
  before?: string
}

export interface Receipt {
  id: string
  /** Who the message was meant for (everyone in the room when it was sent, or the one addressee). */
  recipients: string[]
  /** Who has confirmed receiving it. */
  delivered: string[]
}

interface Mesh {
  broadcast(message: ChatMessage): void
  sendNow(message: PeerMessage, to?: string): string[]
  views(): PeerView[]
}

/**
 * The conversation on top of the mesh: signed messages in one order for everyone, history for
 * newcomers (and from this browser's store), delivery receipts and typing indicators.
 */
export function createConversation(options: {
  room: string
  self: { id: string; name: string }
  mesh: Mesh
  events: Emitter<RoomEvents>
  identity: Promise<Identity>
  history: Promise<History>
  store: HistoryStore | undefined
}) {
  const { room, self, mesh, events, store } = options
  const receipts = new Map<string, Receipt>()
  const typing = new Map<string, ReturnType<typeof setTimeout>>()
  const pendingAcks = new Map<string, string[]>()
  const counters = { forged: 0 }
  let outgoing: Promise<unknown> = Promise.resolve()
  let lastTyping = 0
  let saveTimer: ReturnType<typeof setTimeout> | undefined
  let seq = 0

  const show = (view: ChatView) => events.emit('message', view)

  function scheduleSave() {
    if (!store || saveTimer) return
    saveTimer = setTimeout(async () => {
      saveTimer = undefined
      await store.save(room, (await options.history).entries()).catch(() => {})
    }, SAVE_DELAY_MS)
  }

  function typingChanged() {
    const views = mesh.views()
    events.emit('typing', { peers: [...typing.keys()].map((id) => views.find((v) => v.id === id)).filter((v) => v !== undefined) })
  }

  function stopTyping(peer: string) {
    const timer = typing.get(peer)
    if (timer === undefined) return
    clearTimeout(timer)
    typing.delete(peer)
    typingChanged()
  }

  function ack(peer: string, id: string) {
    const ids = pendingAcks.get(peer)
    if (ids) return void ids.push(id)
    pendingAcks.set(peer, [id])
    // One receipt message per burst of messages from that peer.
    queueMicrotask(() => {
      const batch = pendingAcks.get(peer) ?? []
      pendingAcks.delete(peer)
      for (let i = 0; i < batch.length; i += MAX_ACK_IDS) mesh.sendNow({ type: 'ack', ids: batch.slice(i, i + MAX_ACK_IDS) }, peer)
    })
  }

  return {
    /** Loads what this browser kept of the room, before anyone else's history arrives. */
    async restore(): Promise<void> {
      if (!store) return
      const history = await options.history
      const kept = await store.load(room).catch(() => [])
      for (const mine of [true, false]) {
        const group = kept.filter((e) => e.mine === mine).map(({ message, key }) => ({ message, key }))
        const { added } = await history.merge(group, mine)
        for (const { entry, before } of added) show({ ...entry.message, mine: entry.mine, history: true, ...(before ? { before } : {}) })
      }
    },

    /** Joined as `peer`: only our own key signs as us (a history entry claiming to be ours is checked too). */
    joined(peer: string): void {
      void Promise.all([options.history, options.identity]).then(([history, identity]) => history.announce(peer, identity.key))
    },

    send(text: string, to: string | undefined): ChatView {
      lastTyping = 0 // typing right after sending is news again
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
      }
      const recipients = to === undefined ? mesh.views().map((v) => v.id) : [to]
      receipts.set(message.id, { id: message.id, recipients, delivered: [] })
      // Signing is asynchronous: a chain keeps the sender's order.
      outgoing = outgoing.then(async () => {
        const history = await options.history
        message.lamport = history.tick()
        message.sig = await (await options.identity).sign(message)
        await history.live(message, true)
        mesh.broadcast(message)
        scheduleSave()
      })
      outgoing = outgoing.catch((err: Error) => events.emit('error', err))
      return { ...message, mine: true }
    },

    /** Typing, throttled: the others hear it at most every TYPING_EVERY_MS. */
    typing(): void {
      const now = Date.now()
      if (now - lastTyping < TYPING_EVERY_MS) return
      lastTyping = now
      mesh.sendNow({ type: 'typing' })
    },

    /** A chat message straight from its author, in their channel's order. */
    async chat(from: string, message: ChatMessage): Promise<void> {
      stopTyping(from)
      const history = await options.history
      const added = await history.live(message)
      if (!added) return void counters.forged++
      ack(from, message.id)
      show({ ...message, mine: false, ...(added.before ? { before: added.before } : {}) })
      scheduleSave()
    },

    async message(from: string, message: PeerMessage): Promise<void> {
      switch (message.type) {
        case 'hello': {
          // Their key, from their own channel, is the key for their messages; then our history for them.
          const history = await options.history
          if (message.key) history.announce(from, message.key)
          for (const entries of history.batches()) mesh.sendNow({ type: 'history', entries }, from)
          return
        }
        case 'history': {
          const { added, refused } = await (await options.history).merge(message.entries)
          counters.forged += refused
          for (const { entry, before } of added) show({ ...entry.message, mine: entry.mine, history: true, ...(before ? { before } : {}) })
          if (added.length > 0) scheduleSave()
          return
        }
        case 'ack': {
          for (const id of message.ids) {
            const receipt = receipts.get(id)
            if (!receipt || !receipt.recipients.includes(from) || receipt.delivered.includes(from)) continue
            receipt.delivered.push(from)
            events.emit('receipt', { ...receipt, delivered: [...receipt.delivered] })
          }
          return
        }
        case 'typing': {
          const known = typing.has(from)
          clearTimeout(typing.get(from))
          typing.set(from, setTimeout(() => stopTyping(from), TYPING_SHOWN_MS))
          if (!known) typingChanged()
          return
        }
      }
    },

    /** Someone left: they are not typing any more. */
    gone(peer: string): void {
      stopTyping(peer)
    },

    stats: () => ({ ...counters }),

    /** Every timer goes (leaving), after one last save. */
    close(): void {
      for (const timer of typing.values()) clearTimeout(timer)
      typing.clear()
      if (saveTimer) {
        clearTimeout(saveTimer)
        saveTimer = undefined
        if (store) void options.history.then((h) => store.save(room, h.entries())).catch(() => {})
      }
    },
  }
}
