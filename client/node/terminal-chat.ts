import { createInterface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'
import type { ChatView, Membership, MembershipHandlers, PeerView, Room, Signaling, SignalingJoinOptions } from '../lib'
import { createFileStore, createMemoryStore, createNodeSignaling, joinRoom, type RoomLink, SignalingError } from './index'
import { type ChatOutput, formatText, HELP, parseInput, resolvePeer } from './terminal-lines'

// After EOF or /quit, wait this long at most for everyone to confirm what was just sent.
const DRAIN_MS = 10_000

export interface ChatOptions {
  link: RoomLink
  name: string
  json: boolean
  color?: string
  historyFile?: string
  input: Readable
  output: Writable
  errors: Writable
}

/**
 * The client with its join reply observed: `joined` hears who was in the room then (everyone but us).
 * Only join is wrapped; everything else (the status getter included) is the real client's.
 */
function watchJoin(signaling: Signaling, joined: (others: Set<string>) => void): Signaling {
  return Object.assign(Object.create(signaling) as Signaling, {
    join: (id: string, meta: string | undefined, handlers: MembershipHandlers, options?: SignalingJoinOptions) =>
      signaling.join(
        id,
        meta,
        {
          ...handlers,
          joined(membership: Membership) {
            joined(new Set(membership.peers.map((p) => p.id).filter((p) => p !== membership.peer)))
            handlers.joined(membership)
          },
        },
        options,
      ),
  })
}

/** Messages of ours not yet confirmed, by whom: leaving waits for these, at most DRAIN_MS. */
function createReceiptWait() {
  const unconfirmed = new Map<string, Set<string>>()
  let drained: (() => void) | undefined
  const check = () => {
    for (const [id, pending] of unconfirmed) if (pending.size === 0) unconfirmed.delete(id)
    if (unconfirmed.size === 0) drained?.()
  }
  return {
    sent(id: string, to: string[]) {
      unconfirmed.set(id, new Set(to))
    },
    delivered(id: string, peers: string[]) {
      const pending = unconfirmed.get(id)
      for (const peer of peers) pending?.delete(peer)
      check()
    },
    /** They left: they will never confirm. */
    left(peer: string) {
      for (const pending of unconfirmed.values()) pending.delete(peer)
      check()
    },
    async drained() {
      check()
      if (unconfirmed.size === 0) return
      let timer: ReturnType<typeof setTimeout> | undefined
      await new Promise<void>((resolve) => {
        drained = resolve
        timer = setTimeout(resolve, DRAIN_MS)
      })
      clearTimeout(timer)
    },
  }
}

const chatOut = (m: ChatView): ChatOutput => ({
  type: 'message',
  id: m.id,
  from: m.from,
  name: m.name,
  text: m.text,
  time: m.time,
  ...(m.to ? { to: m.to } : {}),
  history: m.history === true,
})

/** What /who prints. */
const roster = (peers: PeerView[]) =>
  peers.length === 0 ? 'Nobody else is here.\n' : `${peers.map((p) => `${p.name || 'Someone'} (${p.id}): ${p.state}`).join('\n')}\n`

/** Resolves once the lines typed before the join went out, or the room closed. */
const linesSent = (room: Room, waiting: string[]) =>
  new Promise<void>((resolve) => {
    const check = () => (waiting.length === 0 || room.status === 'closed') && resolve()
    for (const type of ['status', 'peer-joined', 'peer-left'] as const) room.on(type, () => queueMicrotask(check))
  })

/** Joins the room, prints what happens there and sends what is typed; resolves with the exit code. */
export function runChat(options: ChatOptions): Promise<number> & { quit(): Promise<void> } {
  const { link, json, output, errors } = options
  const signaling = createNodeSignaling(link.server)
  // Who the join reply listed: lines typed before the join wait until the room knows them all, so
  // that what they send is owed to (and waited for by) everyone already there.
  let expected: Set<string> | undefined
  const watched = watchJoin(signaling, (others) => {
    expected = others
  })
  const room: Room = joinRoom({
    room: link.room,
    secret: link.secret,
    server: link.server,
    name: options.name,
    signaling: watched,
    store: options.historyFile ? createFileStore(options.historyFile) : createMemoryStore(),
    ...(options.color ? { color: options.color } : {}),
  })
  const known = new Map<string, string>()
  const names = (id: string) => known.get(id) ?? id
  const receipts = createReceiptWait()
  const waiting: string[] = []
  let quitting = false
  let fatal: Error | undefined

  const print = (out: ChatOutput) => {
    if (json) return void output.write(`${JSON.stringify(out)}\n`)
    const text = formatText(out, names)
    if (text) (out.type === 'error' ? errors : output).write(`${text}\n`)
  }
  const problem = (code: string, message: string) => print({ type: 'error', code, message })
  const peerOut = (type: 'peer-joined' | 'peer-connected' | 'peer-left', p: PeerView) => print({ type, id: p.id, name: p.name })

  room.on('message', (m: ChatView) => print(chatOut(m)))
  const flush = () => {
    if (!room.self.id || (expected && expected.size > 0)) return
    for (const line of waiting.splice(0)) handle(line)
  }
  const met = (id: string) => {
    if (!expected?.delete(id)) return
    // Handled after the event's other listeners, so the room's peer list includes them.
    queueMicrotask(flush)
  }

  room.on('peer-joined', (p) => {
    known.set(p.id, p.name)
    peerOut('peer-joined', p)
    met(p.id)
  })
  const codes = new Map<string, string>()
  room.on('peer-updated', (p) => {
    known.set(p.id, p.name)
    if (!p.code || codes.get(p.id) === p.code) return
    codes.set(p.id, p.code)
    print({ type: 'peer-code', id: p.id, name: p.name, code: p.code })
  })
  room.on('peer-connected', (p) => peerOut('peer-connected', p))
  room.on('peer-left', (p) => {
    receipts.left(p.id)
    peerOut('peer-left', p)
    met(p.id)
  })
  room.on('receipt', (r) => receipts.delivered(r.id, r.delivered))
  room.on('retracted', ({ ids }) => print({ type: 'retracted', ids }))
  const said = (err: Error) => problem(err instanceof SignalingError ? err.code : 'ERROR', err.message)
  room.on('error', said)
  // A refused join (room full, bad room) ends the room: that is the error to exit with.
  room.on('failed', (err) => {
    fatal = err
    said(err)
  })
  let offline = false
  signaling.on('status', (status) => {
    if (status === 'offline' && !offline) problem('UNREACHABLE', `cannot reach the server at ${link.server}; retrying…`)
    if (status === 'online' && offline) print({ type: 'status', status: 'online', id: room.self.id })
    offline = status === 'offline'
  })

  function send(text: string, to: string | undefined) {
    let target: string | undefined
    if (to !== undefined) {
      const found = resolvePeer(room.peers, to)
      if ('error' in found) return problem('NO_SUCH_PEER', found.error)
      target = found.id
    }
    const sent = room.send(text, target === undefined ? undefined : { to: target })
    if (!sent) return problem('NOT_SENT', `not sent: empty, longer than 4000 characters, or the person left`)
    receipts.sent(sent.id, target === undefined ? room.peers.map((p) => p.id) : [target])
    print({ type: 'sent', id: sent.id, text: sent.text, time: sent.time, ...(target ? { to: target } : {}) })
  }

  function handle(line: string) {
    const input = parseInput(line, json)
    if (!input) return
    if ('error' in input) return problem('BAD_INPUT', input.error)
    if ('send' in input) return send(input.send, input.to)
    switch (input.command) {
      case 'quit':
        return void quit()
      case 'help':
        return void output.write(`${HELP}\n`)
      case 'name':
        return room.setName(input.name)
      case 'who':
        return void output.write(roster(room.peers))
    }
  }

  const lines = createInterface({ input: options.input, terminal: false })
  lines.on('line', (line) => (waiting.length === 0 && room.self.id && !expected?.size ? handle(line) : waiting.push(line)))
  lines.on('close', () => void quit())

  let finish: (code: number) => void
  const done = new Promise<number>((resolve) => (finish = resolve))

  room.on('status', (status) => {
    if (status === 'online' || status === 'reconnecting') print({ type: 'status', status, id: room.self.id })
    if (status === 'online') flush()
    if (status !== 'closed') return
    lines.close()
    signaling.close()
    print({ type: 'status', status: 'closed' })
    finish(fatal ? 1 : 0)
  })

  async function quit() {
    if (quitting) return
    quitting = true
    // Lines typed before the join completed still go out, unless the server cannot be reached.
    if (waiting.length > 0 && !offline && room.status !== 'closed') await linesSent(room, waiting)
    await receipts.drained()
    room.leave()
  }

  return Object.assign(done, { quit })
}
