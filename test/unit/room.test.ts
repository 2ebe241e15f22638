import { nanoid } from 'nanoid'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { type ChatMessage, joinRoom, type Room, type RoomStatus, SignalingError } from '../../client/lib'
import { cleanName, MAX_TEXT_CHARS, MAX_WIRE_CHARS } from '../../client/lib/peer-protocol'
import type { HistoryStore } from '../../client/lib/stored'
import type { CreatePeer, PeerLike } from '../../client/lib/types'
import { randomRoom } from '../helpers'
import {
  clearSealer,
  collect,
  connectedTo,
  createFakeNetwork,
  createFakeSignaling,
  createSwitchboard,
  type FakeClient,
  type FakePeer,
  joinWithSlowKey,
  next,
  type Switchboard,
  settle,
  TEST_ROOM_SECRET,
  trustingIdentity,
  when,
} from './fakes'

// client/lib/peer-link.ts: the first retry comes after RETRY_MIN_MS × (0.5…1) of jitter; an attempt whose
// hellos are not exchanged by CONNECT_TIMEOUT_MS is given up.
const RETRY_MIN_MS = 250
const CONNECT_TIMEOUT_MS = 15_000

interface Party {
  room: Room
  client: FakeClient
}

const open: Room[] = []

afterEach(async () => {
  for (const room of open.splice(0)) room.leave()
  await settle()
  vi.useRealTimers()
})

function enter(board: Switchboard, room: string, name: string, id?: string, store?: HistoryStore): Party {
  const client = board.client(id === undefined ? {} : { id })
  const joined = joinRoom({
    secret: TEST_ROOM_SECRET,
    sealer: clearSealer(),
    identity: trustingIdentity(),
    room,
    name,
    signaling: client.signaling,
    createPeer: client.createPeer,
    ...(store ? { store } : {}),
  })
  open.push(joined)
  return { room: joined, client }
}

/** A history store that starts empty and records the texts of every save. */
function recordingStore(): { store: HistoryStore; saved: string[][] } {
  const saved: string[][] = []
  return { saved, store: { load: async () => [], save: async (_room, entries) => void saved.push(entries.map((e) => e.message.text)) } }
}

/** One room driven by hand: the test resolves its join (as peer `m`) and pushes server events. */
async function solo(createPeer?: CreatePeer) {
  const signaling = createFakeSignaling()
  const network = createFakeNetwork()
  const room = joinRoom({
    secret: TEST_ROOM_SECRET,
    sealer: clearSealer(),
    identity: trustingIdentity(),
    room: randomRoom(),
    name: 'Mo',
    signaling,
    createPeer: createPeer ?? network.createPeer(() => 'm'),
  })
  open.push(room)
  await settle() // the name is sealed before the join goes out
  return { room, signaling, network }
}

/** `names.length` people in one fresh room, everyone connected to everyone and greeted. */
async function meshOf(board: Switchboard, names: string[], ids: string[] = []): Promise<Party[]> {
  const room = randomRoom()
  const parties = names.map((name, i) => enter(board, room, name, ids[i]))
  await Promise.all(parties.map((p) => connectedTo(p.room, names.length - 1)))
  await settle() // the hellos are on their way
  return parties
}

const texts = (messages: ChatMessage[], from?: string) => messages.filter((m) => from === undefined || m.from === from).map((m) => m.text)

/** A chat message as `from` would put it on the wire. */
const chat = (from: string, seq: number, fields: Record<string, unknown> = {}) =>
  JSON.stringify({ type: 'chat', id: nanoid(), from, name: 'Ana', text: 'hi', time: Date.now(), seq, ...fields })

/** Ids that sort in a known order (the mesh compares them as strings). */
const orderedIds = (n: number) => Array.from({ length: n }, (_, i) => `${String.fromCharCode(65 + i)}${nanoid(20)}`)

describe('joinRoom over a fake mesh', () => {
  it('has exactly one initiator per pair: the newer member', async () => {
    const board = createSwitchboard()
    // Ids in mixed order: the rule is about who came later, not about ids.
    const [a, b, c, d] = orderedIds(4)
    const parties = await meshOf(board, ['Ana', 'Ben', 'Cai', 'Dee'], [c!, a!, d!, b!])

    for (const a of parties) {
      expect(a.client.peers).toHaveLength(3)
      for (const b of parties) {
        if (a === b) continue
        const made = a.client.peers.filter((p) => p.partner?.owner === b.client.id)
        expect(made).toHaveLength(1)
        expect(made[0]!.initiator).toBe(parties.indexOf(a) > parties.indexOf(b))
      }
    }
    const initiatorPairs = parties.flatMap((a) => a.client.peers.filter((p) => p.initiator))
    expect(initiatorPairs).toHaveLength(6)
    const states = parties.map((p) => p.room.peers.map((v) => v.state))
    expect(states).toEqual(Array(4).fill(['connected', 'connected', 'connected']))
  })

  it('hands the ICE servers of the join reply to every peer it creates', async () => {
    const board = createSwitchboard()
    const parties = await meshOf(board, ['Ana', 'Ben'])
    for (const peer of parties.flatMap((p) => p.client.peers)) {
      expect(peer.iceServers).toEqual([{ urls: 'stun:stun.invalid:3478' }])
    }
  })

  it('delivers every message to every other room exactly once, in the sender’s order', async () => {
    const board = createSwitchboard()
    const parties = await meshOf(board, ['Ana', 'Ben', 'Cai'])
    const inboxes = parties.map((p) => collect(p.room, 'message'))
    const sent = new Map<string, string[]>(parties.map((p) => [p.room.self.id, []]))

    for (let i = 0; i < 50; i++) {
      for (const p of parties) {
        const message = p.room.send(`${p.room.self.name} #${i}`)
        expect(message).not.toBeNull()
        sent.get(p.room.self.id)!.push(message!.text)
      }
    }
    await Promise.all(parties.map((p, i) => when(p.room, ['message'], () => inboxes[i]!.length >= 100)))
    await settle()

    parties.forEach((receiver, i) => {
      const inbox = inboxes[i]!
      expect(inbox).toHaveLength(100)
      expect(texts(inbox, receiver.room.self.id)).toEqual([])
      for (const sender of parties) {
        if (sender === receiver) continue
        expect(texts(inbox, sender.room.self.id)).toEqual(sent.get(sender.room.self.id))
        expect(inbox.filter((m) => m.from === sender.room.self.id).map((m) => m.seq)).toEqual(Array.from({ length: 50 }, (_, k) => k + 1))
      }
      expect(receiver.room.stats()).toMatchObject({ dropped: 0, duplicates: 0, connections: 2, outbox: 50 })
    })
  })

  it('keeps a reply to a direct message, and typing written privately, between the two people; sends none once the other has left', async () => {
    const board = createSwitchboard()
    const [ana, ben, cai] = (await meshOf(board, ['Ana', 'Ben', 'Cai'])).map((p) => p.room) as [Room, Room, Room]
    const [atAna, atCai] = [collect(ana, 'message'), collect(cai, 'message')]
    const [typingAtAna, typingAtCai] = [collect(ana, 'typing'), collect(cai, 'typing')]
    const secret = ben.send('just for you', { to: ana.self.id })!
    await when(ana, ['message'], () => atAna.length === 1)
    // Ana replies from the composer's everyone mode, and to her own private line too: both go to Ben only.
    const reply = ana.send('got it', { replyTo: secret.id })!
    const mine = ana.send('one more thing', { to: ben.self.id })!
    await settle() // signed and in her log, as a line is before anyone can point at it
    const again = ana.send('and that', { replyTo: mine.id, to: cai.self.id })!
    expect([reply.to, again.to]).toEqual([ben.self.id, ben.self.id])
    ben.typing(ana.self.id)
    cai.send('public line')
    await when(ana, ['message', 'typing'], () => atAna.length === 2 && typingAtAna.length > 0)
    await settle()
    expect(typingAtAna.at(0)?.peers.map((p) => p.id)).toEqual([ben.self.id])
    // Cai heard nothing of it: no reply, no typing.
    ben.send('public too')
    await when(cai, ['message'], () => atCai.length === 1)
    await settle()
    expect(texts(atCai)).toEqual(['public too'])
    expect(typingAtCai).toEqual([])
    // Ben leaves (or reloads: a new id): a reply to his private line would reach nobody, so none is sent.
    const gone = next(ana, 'peer-left')
    board.drop(ben.self.id, 'leave')
    await gone
    expect(ana.send('too late', { replyTo: secret.id })).toBeNull()
    expect(ana.send('to everyone')).not.toBeNull()
  })

  it('drops a replayed message (same id, or an old seq) and counts it as a duplicate', async () => {
    const board = createSwitchboard()
    const [ana, ben] = await meshOf(board, ['Ana', 'Ben'])
    const inbox = collect(ben!.room, 'message')
    const first = ana!.room.send('once')!
    await when(ben!.room, ['message'], () => inbox.length === 1)

    const benSide = ben!.client.peerTo(ana!.room.self.id)!
    const raw = JSON.stringify(first)
    benSide.inject(raw) // the very same frame again
    benSide.inject(JSON.stringify({ ...first, seq: 2 })) // same id, higher seq
    benSide.inject(JSON.stringify({ ...first, id: nanoid() })) // new id, a seq already received
    await settle()
    expect(texts(inbox)).toEqual(['once'])
    expect(ben!.room.stats()).toMatchObject({ duplicates: 3, dropped: 0 })

    // The real next message (seq 2) still gets through.
    ana!.room.send('twice')
    await when(ben!.room, ['message'], () => inbox.length === 2)
    await settle()
    expect(texts(inbox)).toEqual(['once', 'twice'])
    expect(ben!.room.stats().duplicates).toBe(3)
  })

  it('asks the signaling to send what it queued once every connection being made has its host candidates out, even if making one threw', async () => {
    // Connections that offer, then say their host candidates are out; the second one cannot be made.
    const quiet = (gathered?: () => void): PeerLike => {
      const closes: Array<() => void> = []
      const peer = {
        on: (event: string, handler: (data?: unknown) => void) => {
          if (event === 'close') closes.push(handler as () => void)
          if (event === 'signal') queueMicrotask(() => handler({ type: 'offer', sdp: '' }))
          return peer
        },
        signal() {},
        send() {},
        destroy: () =>
          queueMicrotask(() => {
            for (const close of closes) close()
          }),
      }
      setTimeout(() => gathered?.())
      return peer as unknown as PeerLike
    }
    let made = 0
    const { room, signaling } = await solo(({ gathered }) => {
      if (made++ === 1) throw new Error('WebRTC is switched off')
      return quiet(gathered)
    })
    const flushes: string[] = []
    signaling.flush = (from: string) => void flushes.push(from)
    const errors = collect(room, 'error')
    signaling.joins[0]!.resolve('m', [{ id: 'ana' }, { id: 'ben' }])
    await vi.waitFor(() => expect(flushes).toEqual(['m']))
    expect(errors.map((e) => e.message)).toEqual([expect.stringContaining('(WebRTC is switched off)')])
  })

  it('goes on with the roster when making one connection throws, says why once, and retries that pair', async () => {
    const network = createFakeNetwork()
    const fake = network.createPeer(() => 'm')
    let calls = 0
    // The second connection made throws, twice (as where WebRTC is missing), then is made.
    const { room, signaling } = await solo((options) => {
      calls++
      if (calls === 2 || calls === 4) throw new Error('No WebRTC support: Not a supported browser')
      return fake(options)
    })
    const errors = collect(room, 'error')
    const failed = collect(room, 'failed')
    signaling.joins[0]!.resolve('m', [{ id: 'ana' }, { id: 'ben' }, { id: 'cai' }])
    // Cai, after the refused one, still gets a connection; the refused pair tries again after its backoff.
    await vi.waitFor(() => expect(calls).toBe(5), { timeout: 3_000 })
    expect(room.peers.map((p) => p.id)).toEqual(['ana', 'ben', 'cai'])
    expect(room.peers.map((p) => p.state)).toEqual(['connecting', 'connecting', 'connecting'])
    expect(errors.map((e) => [(e as SignalingError).code, e.message])).toEqual([
      [
        'CONNECTION_REFUSED',
        expect.stringMatching(/^Could not open a connection to someone \(No WebRTC support: Not a supported browser\)/),
      ],
    ])
    expect(failed).toEqual([])
  })

  it('says once that the browser refused a connection (simple-peer’s error, then a close), goes on, and retries that pair', async () => {
    const network = createFakeNetwork()
    const fake = network.createPeer(() => 'm')
    let calls = 0
    const refusal = () => Object.assign(new Error('Cannot create so many PeerConnections'), { code: 'ERR_PC_CONSTRUCTOR' })
    const { room, signaling } = await solo((options) => {
      const made = fake(options)
      calls++
      // As simple-peer does when RTCPeerConnection throws: destroyed with that error before it returns.
      if (calls === 2 || calls === 4) network.peers.at(-1)!.fail(refusal())
      // Any other error of a connection is its pair's business (it closes and retries), not news.
      if (calls === 3) network.peers.at(-1)!.fail(Object.assign(new Error('ICE failed'), { code: 'ERR_ICE_CONNECTION_FAILURE' }))
      return made
    })
    const errors = collect(room, 'error')
    const failed = collect(room, 'failed')
    signaling.joins[0]!.resolve('m', [{ id: 'ana' }, { id: 'ben' }, { id: 'cai' }])
    await vi.waitFor(() => expect(calls).toBeGreaterThanOrEqual(5), { timeout: 3_000 })
    expect(room.peers.map((p) => p.id)).toEqual(['ana', 'ben', 'cai'])
    expect(errors.map((e) => [(e as SignalingError).code, e.message])).toEqual([
      ['CONNECTION_REFUSED', expect.stringMatching(/^Could not open a connection to someone \(Cannot create so many PeerConnections\)/)],
    ])
    expect(failed).toEqual([])
    expect(room.status).not.toBe('closed')
  })

  it('counts the far side’s failed attempts: a pair that never connects shows as failed on this side too, not connecting forever', async () => {
    const { room, signaling, network } = await solo()
    signaling.joins[0]!.resolve('m', [{ id: 'a' }]) // 'm' found 'a' in its roster: 'm' offers
    await vi.waitFor(() => expect(network.peers).toHaveLength(1))
    // Each time, 'a' (which could not answer) asks for another attempt while this one is still in flight.
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect(room.peers.map((p) => p.state)).toEqual(['connecting'])
      signaling.push({ type: 'signal', from: 'a', data: { attempt, restart: true } })
      await vi.waitFor(() => expect(network.peers).toHaveLength(attempt + 1))
    }
    expect(room.peers.map((p) => p.state)).toEqual(['failed'])
    expect(network.peers.map((p) => p.destroyed)).toEqual([true, true, true, false]) // and it still tries
  })

  it('acknowledges a line that came in history before its author sent it, and neither shows it twice nor counts it forged', async () => {
    const board = createSwitchboard()
    const [ana, ben] = await meshOf(board, ['Ana', 'Ben'])
    const from = ana!.room.self.id
    const inbox = collect(ben!.room, 'message')
    const benSide = ben!.client.peerTo(from)!
    const line = { type: 'chat', id: nanoid(), from, name: 'Ana', text: 'said while we were apart', time: Date.now(), seq: 1, lamport: 5 }
    // Ana's line, passed on in history (here on her own channel: who relays it does not matter).
    benSide.inject(JSON.stringify({ type: 'history', entries: [{ message: { ...line, sig: 'unsigned' }, key: trustingIdentity().key }] }))
    await when(ben!.room, ['message'], () => inbox.length === 1)
    // Then the same line from her outbox, once their channel works again.
    const acks = benSide.sent.length
    benSide.inject(JSON.stringify({ ...line, sig: 'unsigned' }))
    await settle()
    expect(texts(inbox)).toEqual(['said while we were apart'])
    expect(ben!.room.stats().forged).toBe(0)
    await vi.waitFor(() =>
      expect(benSide.sent.slice(acks).map((frame) => JSON.parse(frame))).toContainEqual({ type: 'ack', ids: [line.id] }),
    )
  })

  it('takes back what history said in an absent author’s name with another key, once that author’s own hello comes', async () => {
    const board = createSwitchboard()
    const room = randomRoom()
    const { store, saved } = recordingStore()
    const ana = enter(board, room, 'Ana', undefined, store)
    const ben = enter(board, room, 'Ben')
    await Promise.all([connectedTo(ana.room, 1), connectedTo(ben.room, 1)])
    await settle()
    const inbox = collect(ana.room, 'message')
    const real = ben.room.send('a real line')!
    await when(ana.room, ['message'], () => inbox.length === 1)
    // Cai is not here: a key first seen in history is taken for him, and Ben passes on lines in his name.
    const caiId = nanoid()
    const forger = 'forger-key-0000000000000000000000000000000000'
    const line = {
      type: 'chat',
      id: nanoid(),
      from: caiId,
      name: 'Cai',
      text: 'forged in Cai’s name',
      time: Date.now(),
      seq: 1,
      lamport: 5,
    }
    const reaction = { ...line, id: nanoid(), seq: 2, lamport: 6, text: '', re: { act: 'react', id: real.id, emoji: '👍', on: true } }
    const annotations = collect(ana.room, 'annotation')
    ana.client
      .peerTo(ben.room.self.id)!
      .inject(
        JSON.stringify({ type: 'history', entries: [line, reaction].map((m) => ({ message: { ...m, sig: 'unsigned' }, key: forger })) }),
      )
    await when(ana.room, ['message'], () => inbox.length === 2)
    await vi.waitFor(() => expect(ana.room.annotation(real.id).reactions).toEqual([{ emoji: '👍', from: [caiId] }]))
    expect(ana.room.stats().forged).toBe(0)

    // Cai comes (back) under that id: his own hello names his key, which is not the forger's.
    const retracted = next(ana.room, 'retracted')
    enter(board, room, 'Cai', caiId)
    expect((await retracted).ids.sort()).toEqual([line.id, reaction.id].sort())
    expect(ana.room.annotation(real.id).reactions).toEqual([])
    expect(annotations.at(-1)).toMatchObject({ id: real.id, reactions: [] })
    expect(ana.room.stats().forged).toBe(2)
    await vi.waitFor(() => expect(saved.at(-1)).toEqual(['a real line']), { timeout: 3_000 })
    // Passed on again, they stay refused, even signed anew with Cai's own key: their ids are taken.
    ana.client
      .peerTo(ben.room.self.id)!
      .inject(JSON.stringify({ type: 'history', entries: [{ message: { ...line, sig: 'unsigned' }, key: trustingIdentity().key }] }))
    await settle()
    expect(inbox.map((m) => m.text)).toEqual(['a real line', 'forged in Cai’s name'])
  })

  it('keeps in its store the history that waited for its author’s hello, once the hello comes', async () => {
    const board = createSwitchboard()
    const room = randomRoom()
    const { store, saved } = recordingStore()
    const ana = enter(board, room, 'Ana')
    const ben = enter(board, room, 'Ben', undefined, store)
    await Promise.all([connectedTo(ana.room, 1), connectedTo(ben.room, 1)])
    // Cai is listed, but no channel reaches him yet: his hello has not come.
    board.holdSignals()
    const cai = enter(board, room, 'Cai')
    await when(ben.room, ['peer-joined'], () => ben.room.peers.length === 2)
    const line = {
      type: 'chat',
      id: nanoid(),
      from: cai.client.id,
      name: 'Cai',
      text: 'said before Ben came',
      time: Date.now(),
      seq: 1,
      lamport: 5,
    }
    ben.client
      .peerTo(ana.room.self.id)!
      .inject(JSON.stringify({ type: 'history', entries: [{ message: { ...line, sig: 'unsigned' }, key: trustingIdentity().key }] }))
    await settle()
    board.releaseSignals()
    await vi.waitFor(() => expect(saved.at(-1)).toContain('said before Ben came'), { timeout: 3_000 })
  })

  it('drops malformed, oversized and forged data-channel messages without emitting them', async () => {
    const board = createSwitchboard()
    const [ana, ben, cai] = await meshOf(board, ['Ana', 'Ben', 'Cai'])
    const from = ana!.room.self.id
    const inbox = collect(ben!.room, 'message')
    const updates = collect(ben!.room, 'peer-updated')
    const junk: unknown[] = [
      'not json {',
      '',
      '42',
      '"chat"',
      'null',
      '[]',
      JSON.stringify([{ type: 'chat' }]),
      JSON.stringify({ type: 'nope', text: 'hi' }),
      JSON.stringify({ text: 'hi' }),
      chat(from, 1, { id: 5 }),
      chat(from, 1, { id: '' }),
      chat(from, 1, { id: 'x'.repeat(65) }),
      chat(from, 1, { name: 7 }),
      chat(from, 1, { name: 'n'.repeat(81) }),
      chat(from, 1, { text: 12 }),
      chat(from, 1, { text: '' }),
      chat(from, 1, { text: ' \n\t ' }),
      chat(from, 1, { text: 't'.repeat(MAX_TEXT_CHARS + 1) }),
      chat(from, 1, { time: 'now' }),
      chat(from, 1, { time: null }),
      chat(from, 0),
      chat(from, -1),
      chat(from, 1.5),
      chat(from, 1, { seq: '1' }),
      chat(cai!.room.self.id, 1), // forged: Cai's id on Ana's channel
      chat('someone-else', 1),
      chat(from, 1, { from: undefined }),
      chat(from, 1, { pad: 'p'.repeat(MAX_WIRE_CHARS) }), // oversized frame
      JSON.stringify({ type: 'hello', name: 'Ana', have: -1 }),
      JSON.stringify({ type: 'hello', name: 'Ana' }),
      JSON.stringify({ type: 'hello', name: 'n'.repeat(81), have: 0 }),
      JSON.stringify({ type: 'name', name: 5 }),
      JSON.stringify({ type: 'name' }),
      new TextEncoder().encode(chat(from, 1)), // binary, not a string
      { type: 'chat' },
      undefined,
    ]
    const benSide = ben!.client.peerTo(from)!
    for (const frame of junk) benSide.inject(frame)
    await settle()

    expect(inbox).toEqual([])
    expect(updates).toEqual([])
    expect(ben!.room.stats()).toMatchObject({ dropped: junk.length, duplicates: 0 })
    expect(ben!.room.peers.find((p) => p.id === from)).toMatchObject({ name: 'Ana', state: 'connected' })

    // The channel still works, and the forged seq did not poison Ana's real seq 1.
    ana!.room.send('real')
    await when(ben!.room, ['message'], () => inbox.length === 1)
    expect(inbox[0]).toMatchObject({ from, text: 'real', seq: 1 })
  })

  it('refuses signals that do not open, and drops those of strangers', async () => {
    const { room, signaling, network } = await solo()
    signaling.joins[0]!.resolve('m', [{ id: 'a' }])
    await settle()
    const errors = collect(room, 'error')
    const bad: unknown[] = [
      null,
      'offer',
      [],
      {},
      { attempt: -1, signal: {} },
      { attempt: 1.5, signal: {} },
      { attempt: 1 },
      { attempt: 1, signal: 'sdp' },
    ]
    for (const data of bad) signaling.push({ type: 'signal', from: 'a', data })
    signaling.push({ type: 'signal', from: 'stranger', data: { attempt: 1, signal: { type: 'offer', sdp: 'x' } } })
    await settle()
    await settle()
    // A peer whose signals do not open is refused (once, visibly) and not connected to.
    expect(room.stats().dropped).toBe(1) // the stranger's
    expect(errors.map((e) => (e as Error & { code?: string }).code)).toEqual(['UNVERIFIED_PEER'])
    expect(room.peers.map((p) => [p.id, p.state])).toEqual([['a', 'failed']])
    // 'm' found 'a' in its roster, so 'm' offered; the refusal stopped that connection.
    expect(network.peers.map((p) => [p.initiator, p.destroyed])).toEqual([[true, true]])
  })

  it('shows the signing key a peer’s hello named in its view (what the page keeps mute and block by)', async () => {
    const board = createSwitchboard()
    const [ana, ben] = await meshOf(board, ['Ana', 'Ben'])
    const key = trustingIdentity().key
    expect(ana!.room.peers.map((p) => [p.id, p.key])).toEqual([[ben!.room.self.id, key]])
    expect(ben!.room.peers.map((p) => p.key)).toEqual([key])
  })

  it('propagates a name change to the others as peer-updated', async () => {
    const board = createSwitchboard()
    const [ana, ben, cai] = await meshOf(board, ['Ana', 'Ben', 'Cai'])
    const id = ana!.room.self.id
    const seen = [ben!, cai!].map((p) => next(p.room, 'peer-updated', (v) => v.id === id))

    ana!.room.setName('  Ana\nMaria  ')
    expect(ana!.room.self.name).toBe('Ana Maria')
    for (const view of await Promise.all(seen)) expect(view).toMatchObject({ id, name: 'Ana Maria', state: 'connected' })
    expect(ben!.room.peers.find((p) => p.id === id)?.name).toBe('Ana Maria')

    // Blank and unchanged names are not announced.
    const sentBefore = ana!.client.peers.map((p) => p.sent.length)
    ana!.room.setName('   ')
    ana!.room.setName('Ana Maria')
    await settle()
    expect(ana!.client.peers.map((p) => p.sent.length)).toEqual(sentBefore)

    // Messages carry the new name, and a later joiner hears it in the hello.
    const inbox = collect(ben!.room, 'message')
    ana!.room.send('hi')
    await when(ben!.room, ['message'], () => inbox.length === 1)
    expect(inbox[0]!.name).toBe('Ana Maria')
    const dee = enter(board, ana!.room.id, 'Dee')
    await when(dee.room, ['peer-updated', 'peer-joined', 'peer-connected'], () =>
      dee.room.peers.some((p) => p.id === id && p.name === 'Ana Maria'),
    )
  })

  it('propagates a name change made between connect and the remote’s hello', async () => {
    const board = createSwitchboard()
    const room = randomRoom()
    const [idA, idB] = orderedIds(2)
    const ana = enter(board, room, 'Ana', idA)
    ana.room.on('peer-connected', () => ana.room.setName('Ana Maria')) // our hello is out, Ben's is not in
    const ben = enter(board, room, 'Ben', idB)
    await Promise.all([connectedTo(ana.room, 1), connectedTo(ben.room, 1)])
    await settle()
    expect(ben.room.peers[0]!.name).toBe('Ana Maria')
  })

  it('forgets a peer that left: gone from peers, its connection destroyed', async () => {
    const board = createSwitchboard()
    const [ana, ben, cai] = await meshOf(board, ['Ana', 'Ben', 'Cai'])
    const id = ana!.room.self.id
    const toAna = ben!.client.peerTo(id)!
    const left = next(ben!.room, 'peer-left')

    board.drop(id, 'leave')
    expect(await left).toMatchObject({ id, name: 'Ana' })
    expect(ben!.room.peers.map((p) => p.id)).toEqual([cai!.room.self.id])
    expect(toAna.destroyCalls).toBe(1)
    expect(toAna.destroyed).toBe(true)
    expect(ben!.room.stats().connections).toBe(1)
    expect(ben!.room.peers[0]!.state).toBe('connected')
  })

  it('keeps a peer the server timed out while its channel is alive, and drops it when the channel dies', async () => {
    const board = createSwitchboard()
    const [ana, ben] = await meshOf(board, ['Ana', 'Ben'])
    const id = ana!.room.self.id
    const left = collect(ben!.room, 'peer-left')

    board.drop(id, 'timeout') // the server lost Ana's stream for longer than the grace period
    await settle()
    expect(left).toEqual([])
    expect(ben!.room.peers.map((p) => [p.id, p.state])).toEqual([[id, 'connected']])

    ben!.client.peerTo(id)!.fail() // and now the channel dies too: nothing says she is there
    await settle()
    expect(left.map((p) => p.id)).toEqual([id])
    expect(ben!.room.peers).toEqual([])
  })

  it('leave() destroys every peer, leaves once, emits closed, and ignores everything after', async () => {
    const board = createSwitchboard()
    const [ana, ben, cai] = await meshOf(board, ['Ana', 'Ben', 'Cai'])
    const id = ana!.room.self.id
    const statuses = collect(ana!.room, 'status')
    const othersSeeLeave = [ben!, cai!].map((p) => next(p.room, 'peer-left', (v) => v.id === id))
    const peers = ana!.client.peers

    ana!.room.leave()
    ana!.room.leave()
    expect(statuses).toEqual<RoomStatus[]>(['closed'])
    expect(ana!.room.status).toBe('closed')
    expect(peers.map((p) => p.destroyCalls)).toEqual([1, 1])
    expect(ana!.client.signaling.leaves).toEqual([id])
    expect(ana!.client.signaling.closes).toBe(0) // injected signaling belongs to the caller
    expect(ana!.room.peers).toEqual([])
    expect(ana!.room.stats().connections).toBe(0)
    await Promise.all(othersSeeLeave)
    expect(ben!.room.peers.map((p) => p.id)).toEqual([cai!.room.self.id])

    // Late events from the server, the signaling client and the old channels change nothing.
    const types = ['peer-joined', 'peer-connected', 'peer-updated', 'peer-left', 'message', 'status', 'error', 'failed'] as const
    const late = types.map((type) => collect(ana!.room, type))
    const handlers = ana!.client.signaling.joins[0]!.handlers
    handlers.event({ type: 'peer-joined', peer: { id: 'zzzz', meta: 'Zed' } })
    handlers.event({ type: 'roster', room: ana!.room.id, peers: [{ id: 'zzzz' }, { id: '0000' }] })
    handlers.event({ type: 'peer-left', peer: ben!.room.self.id, reason: 'leave' })
    handlers.event({ type: 'signal', from: ben!.room.self.id, data: { attempt: 9, signal: { type: 'offer', sdp: 'x' } } })
    ana!.client.signaling.setStatus('offline')
    for (const peer of peers) peer.inject(chat(peer.partner!.owner, 99))
    await settle()
    expect(late.flat()).toEqual([])
    expect(ana!.client.peers).toHaveLength(2)
    expect(ana!.room.peers).toEqual([])
    expect(ana!.room.status).toBe('closed')
    expect(ana!.room.send('anyone?')).toBeNull()
    expect(ana!.client.signaling.leaves).toEqual([id])
  })

  it('sends its join while its signing key is still being made, and connects to nobody before the key is ready', async () => {
    const { room, signaling, network, keyLoaded } = joinWithSlowKey()
    open.push(room)
    await settle()
    expect(signaling.joins).toHaveLength(1)
    signaling.joins[0]!.resolve('m', [{ id: 'z' }]) // m would initiate to z
    signaling.joins[0]!.handlers.event({ type: 'peer-joined', peer: { id: 'n' } })
    await settle()
    expect(room.status).toBe('online')
    expect(network.peers).toEqual([])
    keyLoaded()
    await vi.waitFor(() => expect(network.peers.map((p) => p.initiator)).toEqual([true]))
    expect(room.self.key).toMatch(/^[\w-]{43}$/)
    expect(room.peers.map((p) => p.id).sort()).toEqual(['n', 'z'])
  })

  it('drops what a lost membership queued while its signing key was being made: only the new one applies', async () => {
    const { room, signaling, network, keyLoaded } = joinWithSlowKey()
    open.push(room)
    await settle()
    signaling.joins[0]!.resolve('m', [{ id: 'z' }])
    signaling.joins[0]!.handlers.event({ type: 'peer-joined', peer: { id: 'n' } })
    // The server lost that membership: the room joins again, as someone else.
    signaling.joins[0]!.handlers.lost()
    await settle()
    expect(signaling.joins).toHaveLength(2)
    signaling.joins[1]!.resolve('m2', [{ id: 'y' }])
    keyLoaded()
    await vi.waitFor(() => expect(network.peers.map((p) => p.owner)).toEqual(['m2']))
    expect(room.peers.map((p) => p.id)).toEqual(['y'])
  })

  it('leave() before the join reply starts no connections', async () => {
    vi.useFakeTimers()
    const signaling = createFakeSignaling()
    const network = createFakeNetwork()
    const room = joinRoom({
      secret: TEST_ROOM_SECRET,
      sealer: clearSealer(),
      identity: trustingIdentity(),
      room: randomRoom(),
      name: 'Mo',
      signaling,
      createPeer: network.createPeer(() => 'm'),
    })
    await settle()
    const joining = signaling.joins[0]!
    room.leave()
    joining.resolve('m', [{ id: 'z' }]) // m found z in its roster: m would initiate
    await settle()
    expect(signaling.leaves).toEqual(['m'])
    expect(network.peers).toEqual([])
    expect(room.stats().connections).toBe(0)

    // Leaving before the join even went out (the name is still being sealed): no join at all.
    const quick = createFakeSignaling()
    joinRoom({
      secret: TEST_ROOM_SECRET,
      sealer: clearSealer(),
      identity: trustingIdentity(),
      room: randomRoom(),
      name: 'Mo',
      signaling: quick,
    }).leave()
    await settle()
    expect(quick.joins).toEqual([])
  })

  it('reconnects a broken pair and delivers what was sent meanwhile exactly once', async () => {
    vi.useFakeTimers()
    const board = createSwitchboard()
    const [ana, ben] = await meshOf(board, ['Ana', 'Ben'], orderedIds(2)) // Ben, the newer, initiates
    const [a, b] = [ana!.room, ben!.room]
    const toBen = collect(b, 'message')
    const toAna = collect(a, 'message')
    const benStates = collect(b, 'peer-updated')

    a.send('m1')
    await when(b, ['message'], () => toBen.length === 1)
    b.send('n1')
    await when(a, ['message'], () => toAna.length === 1)

    const link = ana!.client.peerTo(b.self.id)!
    const marker = board.log.length
    a.send('m2') // in flight when the link drops: lost on the wire
    link.fail()
    await settle()
    expect(a.peers[0]!.state).toBe('reconnecting')
    expect(b.peers[0]!.state).toBe('reconnecting')
    expect(benStates.at(-1)).toMatchObject({ id: a.self.id, state: 'reconnecting' })
    expect(a.send('m3')).not.toBeNull() // while down
    expect(b.send('n2')).not.toBeNull()
    expect(a.stats().connections).toBe(0)

    await vi.advanceTimersByTimeAsync(RETRY_MIN_MS)
    await Promise.all([connectedTo(a, 1), connectedTo(b, 1)])
    await settle()

    // The initiator made the new attempt, numbered 2; the responder followed it.
    expect(ana!.client.peers.map((p) => p.initiator)).toEqual([false, false])
    expect(ben!.client.peers.map((p) => p.initiator)).toEqual([true, true])
    const attempts = board.log
      .slice(marker)
      .filter((s) => !(s.data as { restart?: boolean }).restart)
      .map((s) => (s.data as { attempt: number }).attempt)
    expect(new Set(attempts)).toEqual(new Set([2]))

    expect(texts(toBen)).toEqual(['m1', 'm2', 'm3'])
    expect(texts(toAna)).toEqual(['n1', 'n2'])
    expect(a.stats()).toMatchObject({ duplicates: 0, dropped: 0, connections: 1 })
    expect(b.stats()).toMatchObject({ duplicates: 0, dropped: 0, connections: 1 })

    // Late signals of the abandoned attempt reach nobody and start nothing.
    const current = [ana!.client.peerTo(b.self.id)!, ben!.client.peerTo(a.self.id)!]
    const receivedBefore = current.map((p) => p.received.length)
    const stale = board.log.slice(0, marker).filter((s) => (s.data as { attempt: number }).attempt === 1)
    expect(stale.map((s) => (s.data as { signal: { type: string } }).signal.type)).toEqual(
      expect.arrayContaining(['offer', 'answer', 'candidate']),
    )
    for (const s of stale) board.deliver(s.to, { type: 'signal', from: s.from, data: s.data })
    await settle()
    expect(current.map((p) => p.received.length)).toEqual(receivedBefore)
    expect(ana!.client.peers).toHaveLength(2)
    expect(ben!.client.peers).toHaveLength(2)
    expect([a.peers[0]!.state, b.peers[0]!.state]).toEqual(['connected', 'connected'])

    a.send('m4')
    await when(b, ['message'], () => toBen.length === 4)
    await settle()
    expect(texts(toBen)).toEqual(['m1', 'm2', 'm3', 'm4'])
    expect(texts(toAna)).toEqual(['n1', 'n2'])
  })

  it('restarts at once when the responder’s retry comes before the initiator’s', async () => {
    vi.useFakeTimers()
    const board = createSwitchboard()
    const [ana, ben] = await meshOf(board, ['Ana', 'Ben'], orderedIds(2)) // Ben, the newer, initiates
    const [a, b] = [ana!.room, ben!.room]
    const inbox = collect(a, 'message')
    // Ana's close is handled first: her (the responder's) retry waits the shortest jitter, Ben's the longest.
    vi.spyOn(Math, 'random').mockReturnValueOnce(0).mockReturnValueOnce(0.999)
    const marker = board.log.length
    ana!.client.peerTo(b.self.id)!.fail()
    await settle()
    b.send('while down')

    await vi.advanceTimersByTimeAsync(RETRY_MIN_MS / 2)
    expect(board.log.slice(marker)[0]).toEqual({ from: a.self.id, to: b.self.id, data: { attempt: 1, restart: true } })
    await Promise.all([connectedTo(a, 1), connectedTo(b, 1)])
    await when(a, ['message'], () => inbox.length === 1)

    // Ben's own retry timer was superseded: no third attempt.
    await vi.advanceTimersByTimeAsync(RETRY_MIN_MS)
    await settle()
    expect(ana!.client.peers).toHaveLength(2)
    expect(ben!.client.peers).toHaveLength(2)
    expect(texts(inbox)).toEqual(['while down'])
    expect(a.stats().duplicates).toBe(0)
  })

  it('delivers a message sent to a peer that is still connecting once it connects', async () => {
    const board = createSwitchboard()
    const room = randomRoom()
    const ana = enter(board, room, 'Ana')
    await when(ana.room, ['status'], () => ana.room.status === 'online')
    board.holdSignals() // the connection cannot complete yet
    const ben = enter(board, room, 'Ben')
    await Promise.all([
      when(ana.room, ['peer-joined'], () => ana.room.peers.length === 1),
      when(ben.room, ['peer-joined'], () => ben.room.peers.length === 1),
    ])
    await settle()
    expect(ana.room.peers[0]!.state).toBe('connecting')
    const toBen = collect(ben.room, 'message')
    const toAna = collect(ana.room, 'message')
    expect(ana.room.send('early from Ana')).not.toBeNull()
    expect(ben.room.send('early from Ben')).not.toBeNull()

    board.releaseSignals()
    await Promise.all([when(ben.room, ['message'], () => toBen.length === 1), when(ana.room, ['message'], () => toAna.length === 1)])
    await settle()
    expect(texts(toBen)).toEqual(['early from Ana'])
    expect(texts(toAna)).toEqual(['early from Ben'])
    expect([ana.room.stats().duplicates, ben.room.stats().duplicates]).toEqual([0, 0])
  })

  it('delivers once a message sent after connect but before the remote’s hello', async () => {
    const board = createSwitchboard()
    const room = randomRoom()
    const [idA, idB] = orderedIds(2)
    const ana = enter(board, room, 'Ana', idA)
    let early: ChatMessage | null = null
    ana.room.on('peer-connected', () => {
      early ??= ana.room.send('right after connect')
    })
    const ben = enter(board, room, 'Ben', idB)
    const inbox = collect(ben.room, 'message')
    await Promise.all([connectedTo(ana.room, 1), connectedTo(ben.room, 1)])
    await when(ben.room, ['message'], () => inbox.length === 1)
    await settle()
    expect(early).not.toBeNull()
    expect(texts(inbox)).toEqual(['right after connect'])
    expect(ben.room.stats().duplicates).toBe(0)
  })

  it('remakes a channel whose hello never came in, taking none of its lines before it: nothing is lost or counted forged', async () => {
    vi.useFakeTimers()
    const board = createSwitchboard()
    const room = randomRoom()
    const [idA, idB] = orderedIds(2)
    // Ben's first hello is lost on its way into Ana's page (seen in CI, how is not known). His pings still
    // come: only the missing hello tells Ana the channel is no good.
    const client = board.client({ id: idA })
    let lost = false
    const losingHello: CreatePeer = (options) => {
      const peer = client.createPeer(options)
      const on = peer.on.bind(peer) as (event: string, handler: (data: unknown) => void) => unknown
      peer.on = ((event: string, handler: (data: unknown) => void) =>
        on(event, (data) => {
          if (event !== 'data' || lost || !String(data).includes('"type":"hello"')) return handler(data)
          lost = true
        })) as PeerLike['on']
      return peer
    }
    const a = joinRoom({
      secret: TEST_ROOM_SECRET,
      sealer: clearSealer(),
      identity: trustingIdentity(),
      room,
      name: 'Ana',
      signaling: client.signaling,
      createPeer: losingHello,
    })
    open.push(a)
    const b = enter(board, room, 'Ben', idB).room
    const [toAna, toBen] = [collect(a, 'message'), collect(b, 'message')]
    await Promise.all([connectedTo(a, 1), connectedTo(b, 1)])
    await settle()
    expect(lost).toBe(true)
    b.send('from Ben, on the channel Ana has no hello on')
    a.send('from Ana, held for want of that hello')
    await settle()
    expect([toAna.length, toBen.length]).toEqual([0, 0])

    // Still not made for Ana, the attempt times out; the next channel's hellos say what each side has, so
    // each line goes again, once.
    await vi.advanceTimersByTimeAsync(CONNECT_TIMEOUT_MS + RETRY_MIN_MS)
    await Promise.all([when(a, ['message'], () => toAna.length === 1), when(b, ['message'], () => toBen.length === 1)])
    await settle()
    expect(client.peers).toHaveLength(2)
    expect(texts(toAna)).toEqual(['from Ben, on the channel Ana has no hello on'])
    expect(texts(toBen)).toEqual(['from Ana, held for want of that hello'])
    expect(a.peers[0]).toMatchObject({ state: 'connected', key: trustingIdentity().key })
    expect([a.stats().forged, a.stats().duplicates, b.stats().forged, b.stats().duplicates]).toEqual([0, 0, 0, 0])
  })

  it('gives a newcomer what was said before as history, once, before what follows', async () => {
    const board = createSwitchboard()
    const room = randomRoom()
    const ana = enter(board, room, 'Ana')
    await when(ana.room, ['status'], () => ana.room.status === 'online')
    ana.room.send('before Ben')
    await settle()
    const ben = enter(board, room, 'Ben')
    const inbox = collect(ben.room, 'message')
    await Promise.all([connectedTo(ana.room, 1), connectedTo(ben.room, 1)])
    await when(ben.room, ['message'], () => inbox.length === 1)
    ana.room.send('after Ben')
    await when(ben.room, ['message'], () => inbox.length === 2)
    await settle()
    expect(texts(inbox)).toEqual(['before Ben', 'after Ben'])
    expect(inbox[0]!.lamport).toBeLessThan(inbox[1]!.lamport)
  })

  it('reconciles a later roster: missing peers leave, new ones join, known ones stay', async () => {
    const { room, signaling, network } = await solo()
    const joined = collect(room, 'peer-joined')
    const left = collect(room, 'peer-left')

    signaling.joins[0]!.resolve('m', [
      { id: 'a', meta: 'Al' },
      { id: 'z', meta: 'Zoe' },
    ])
    await settle()
    expect(room.self.id).toBe('m')
    expect(room.peers.map((p) => [p.id, p.name, p.state])).toEqual([
      ['a', 'Al', 'connecting'],
      ['z', 'Zoe', 'connecting'],
    ])
    expect(network.peers.map((p) => p.initiator)).toEqual([true, true]) // 'm' is the newer member of both pairs
    const toZoe = network.peers[1]!

    signaling.push({ type: 'roster', room: room.id, peers: [{ id: 'z', meta: 'Zoe' }, { id: 'q' }, { id: 'm' }] })
    await settle()
    expect(room.peers.map((p) => p.id)).toEqual(['z', 'q'])
    expect(left.map((p) => p.id)).toEqual(['a'])
    expect(joined.map((p) => p.id)).toEqual(['a', 'z', 'q'])
    expect(toZoe.destroyCalls).toBe(0)
    expect(network.peers).toHaveLength(3) // a new one for 'q', none for the self entry

    signaling.push({ type: 'roster', room: room.id, peers: [] })
    await settle()
    expect(room.peers).toEqual([])
    expect(left.map((p) => p.id)).toEqual(['a', 'z', 'q'])
    expect(network.peers.map((p) => p.destroyCalls)).toEqual([1, 1, 1])
    expect(room.stats().connections).toBe(0)
  })

  it('follows the signaling status and reports join failures', async () => {
    const { room, signaling } = await solo()
    const statuses = collect(room, 'status')
    expect(room.status).toBe('joining')
    expect(signaling.joins.map((j) => [j.room, j.meta])).toEqual([[room.id, 'Mo']])
    signaling.setStatus('offline') // not joined yet: no status of its own
    signaling.joins[0]!.resolve('m')
    await settle()
    signaling.setStatus('online')
    signaling.setStatus('offline')
    signaling.setStatus('connecting')
    expect(statuses).toEqual<RoomStatus[]>(['reconnecting', 'online', 'reconnecting', 'joining'])

    const errors = collect(room, 'error')
    signaling.emitError(new Error('malformed roster event'))
    expect(errors.map((e) => e.message)).toEqual(['malformed roster event'])

    const failing = createFakeSignaling()
    const doomed = joinRoom({
      secret: TEST_ROOM_SECRET,
      sealer: clearSealer(),
      identity: trustingIdentity(),
      room: randomRoom(),
      name: 'Mo',
      signaling: failing,
    })
    await settle()
    const failed = next(doomed, 'failed')
    const problems = collect(doomed, 'error')
    const closed = next(doomed, 'status', (s) => s === 'closed')
    failing.joins[0]!.reject(new Error('ROOM_FULL'))
    expect((await failed).message).toBe('ROOM_FULL')
    expect(problems).toEqual([]) // the failure is said once, as 'failed'
    await closed
    expect(doomed.status).toBe('closed')
    expect(failing.leaves).toEqual([])
  })

  it('closes without an error (the page shows no problem) when its join was cancelled or closed: the page is going', async () => {
    for (const code of ['JOIN_CANCELLED', 'CLOSED']) {
      const { room, signaling } = await solo()
      const errors = collect(room, 'error')
      const failed = collect(room, 'failed')
      const closed = next(room, 'status', (s) => s === 'closed')
      signaling.joins[0]!.reject(new SignalingError(code, 'the page is going', code === 'CLOSED' ? 0 : 409))
      await closed
      expect([...errors, ...failed], code).toEqual([])
      expect(signaling.leaves).toEqual([])
    }
  })

  it('re-joins as a new peer when the signaling loses the membership', async () => {
    const signaling = createFakeSignaling()
    const network = createFakeNetwork()
    let self = 'm'
    const room = joinRoom({
      secret: TEST_ROOM_SECRET,
      sealer: clearSealer(),
      identity: trustingIdentity(),
      room: randomRoom(),
      name: 'Mo',
      signaling,
      createPeer: network.createPeer(() => self),
    })
    open.push(room)
    await settle()
    signaling.joins[0]!.resolve('m', [{ id: 'z' }])
    await settle()
    expect(network.peers).toHaveLength(1)

    signaling.joins[0]!.handlers.lost()
    expect(room.status).toBe('joining')
    expect(room.self.id).toBe('')
    expect(room.peers).toEqual([])
    expect(network.peers[0]!.destroyCalls).toBe(1)
    expect(room.send('lost?')).toBeNull()
    await settle()
    expect(signaling.joins).toHaveLength(2)

    self = 'n'
    signaling.joins[1]!.resolve('n', [{ id: 'z' }])
    await settle()
    expect(room.self.id).toBe('n')
    expect(room.status).toBe('online')
    expect(room.peers.map((p) => p.id)).toEqual(['z'])
    expect(network.peers).toHaveLength(2)
  })

  it('shows a peer’s name from the roster cleaned like every other name', async () => {
    const { room, signaling } = await solo()
    const meta = `  Eve\n${'x'.repeat(200)}`
    signaling.joins[0]!.resolve('m', [{ id: 'a', meta }])
    await settle()
    expect(room.peers[0]!.name).toBe(cleanName(meta))
  })

  it('never reports as sent a message the others will drop', async () => {
    const board = createSwitchboard()
    const [ana, ben] = await meshOf(board, ['Ana', 'Ben'])
    const inbox = collect(ben!.room, 'message')
    const message = ana!.room.send('t'.repeat(MAX_TEXT_CHARS + 1))
    await settle()
    expect(message === null || inbox.length === 1).toBe(true)
    expect(ben!.room.stats().dropped).toBe(0)
  })
})

describe('the fakes', () => {
  it('connect a pair only after an offer/answer exchange through the signaling', async () => {
    const board = createSwitchboard()
    const room = randomRoom()
    const ana = enter(board, room, 'Ana')
    await when(ana.room, ['status'], () => ana.room.status === 'online')
    board.holdSignals()
    const ben = enter(board, room, 'Ben')
    await when(ana.room, ['peer-joined'], () => ana.room.peers.length === 1)
    await settle()
    const made: FakePeer[] = [...ana.client.peers, ...ben.client.peers]
    expect(made.every((p) => !p.connected)).toBe(true)
    board.releaseSignals()
    await Promise.all([connectedTo(ana.room, 1), connectedTo(ben.room, 1)])
    const [x, y] = [ana.client.peerTo(ben.room.self.id)!, ben.client.peerTo(ana.room.self.id)!]
    expect(x.partner).toBe(y)
    expect(y.partner).toBe(x)
    expect([...x.emitted, ...y.emitted].map((s) => (s as { type: string }).type).sort()).toEqual([
      'answer',
      'candidate',
      'candidate',
      'offer',
    ])
  })
})
