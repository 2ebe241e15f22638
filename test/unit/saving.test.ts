import { afterEach, describe, expect, it } from 'vitest'
import { type ChatMessage, type ChatView, type HistoryStore, type Identity, joinRoom, type LogEntry, type Room } from '../../client/lib'
import type { RoomLog } from '../../client/lib/history'
import { createSaving } from '../../client/lib/saving'
import { isLogEntry } from '../../client/lib/stored'
import { randomRoom } from '../helpers'
import {
  clearSealer,
  connectedTo,
  createSwitchboard,
  next,
  type Switchboard,
  settle,
  TEST_ROOM_SECRET,
  trustingIdentity,
  when,
} from './fakes'

// When the room writes its history to the store (saving.ts createSaving): at once for what this
// person says to nobody, once per burst for what others say or reached them, at once on flush, and never over what it has not
// read back yet. A page going away runs no later task, so each write must start in the calling one.

const open: Room[] = []
afterEach(async () => {
  for (const room of open.splice(0)) room.leave()
  await settle()
})

/** A store that records every save (synchronously, as it is called) and can hold its load back. */
function recordingStore(kept: LogEntry[] = []) {
  const saves: Array<readonly LogEntry[]> = []
  let release: () => void = () => {}
  const held = { load: Promise.resolve() }
  const store: HistoryStore = {
    load: async () => {
      await held.load
      return structuredClone(kept)
    },
    save: async (_room, entries) => {
      saves.push(structuredClone(entries))
      kept = structuredClone([...entries])
    },
  }
  return {
    store,
    saves,
    texts: () => saves.at(-1)?.map((e) => e.message.text) ?? [],
    kept: () => kept,
    holdLoad() {
      held.load = new Promise<void>((resolve) => (release = resolve))
    },
    releaseLoad: () => release(),
  }
}

function enter(board: Switchboard, room: string, name: string, store: HistoryStore, identity: Identity = trustingIdentity()) {
  const client = board.client()
  const joined = joinRoom({
    secret: TEST_ROOM_SECRET,
    sealer: clearSealer(),
    identity,
    room,
    name,
    store,
    signaling: client.signaling,
    createPeer: client.createPeer,
  })
  open.push(joined)
  return joined
}

/** Ana and Ben in a fresh room, connected to each other, each over the store given. */
async function connectedPair(anas: HistoryStore, bens: HistoryStore): Promise<[Room, Room, string]> {
  const board = createSwitchboard()
  const room = randomRoom()
  const pair = [enter(board, room, 'Ana', anas), enter(board, room, 'Ben', bens)] as const
  await Promise.all(pair.map((r) => connectedTo(r, 1)))
  return [...pair, room]
}

const joined = (room: Room) => when(room, ['status'], () => room.status === 'online')

describe('saving the history', () => {
  it('writes what this person says to nobody at once, without waiting for a quiet moment', async () => {
    const saved = recordingStore()
    const ana = enter(createSwitchboard(), randomRoom(), 'Ana', saved.store)
    await joined(ana)
    await settle()
    const before = saved.saves.length
    ana.send('mine, kept at once')
    // Signing is the only wait: a write that waited for the batching timer (500 ms) would not be here.
    await settle()
    expect(saved.saves.length).toBe(before + 1)
    expect(saved.texts()).toEqual(['mine, kept at once'])
  })

  it('writes what this person says to someone once the burst pauses (they hold it too), and at once on flush', async () => {
    const saved = recordingStore()
    const [ana, ben] = await connectedPair(saved.store, recordingStore().store)
    await settle()
    const before = saved.saves.length
    const heard = next(ben, 'message', (m) => m.text === 'to Ben')
    ana.send('to Ben')
    await heard
    await settle()
    expect(saved.saves.length).toBe(before)
    ana.flush()
    expect(saved.saves.length).toBe(before + 1)
    expect(saved.texts()).toEqual(['to Ben'])
  })

  it('writes a burst of received messages once, and at once on flush', async () => {
    const saved = recordingStore()
    const [ana, ben] = await connectedPair(recordingStore().store, saved.store)
    await settle()
    const before = saved.saves.length
    const last = next(ben, 'message', (m) => m.text === 'three')
    for (const text of ['one', 'two', 'three']) ana.send(text)
    await last
    await settle()
    expect(saved.saves.length).toBe(before)
    ben.flush()
    // Synchronously: the write has started before flush returns.
    expect(saved.saves.length).toBe(before + 1)
    expect(saved.texts()).toEqual(['one', 'two', 'three'])
    ben.flush()
    expect(saved.saves.length).toBe(before + 1)
  })

  it('keeps a message whose signature was not made yet, and signs it on the next visit', async () => {
    const room = randomRoom()
    const saved = recordingStore()
    // Its signature never comes: the page is gone by then.
    const slow: Identity = { ...trustingIdentity(), sign: () => new Promise<string>(() => {}) }
    const ana = enter(createSwitchboard(), room, 'Ana', saved.store, slow)
    await joined(ana)
    ana.send('said as the page went')
    await settle()
    // The page goes before the signature is made: the line is kept unsigned, with this room's key.
    ana.leave()
    expect(saved.kept()).toMatchObject([{ message: { text: 'said as the page went' }, key: slow.key, mine: true }])
    expect(saved.kept()[0]!.message.sig).toBeUndefined()

    const again = enter(createSwitchboard(), room, 'Ana', saved.store)
    const shown = await next(again, 'message', (m) => m.text === 'said as the page went')
    expect(shown).toMatchObject({ mine: true, history: true, sig: 'unsigned' })
    await settle()
    expect(saved.kept()).toMatchObject([{ message: { text: 'said as the page went', sig: 'unsigned' }, mine: true }])
  })

  it('writes nothing before the stored history is back, then both together', async () => {
    const board = createSwitchboard()
    const room = randomRoom()
    const earlier: LogEntry = {
      message: {
        type: 'chat',
        id: 'earlier-1',
        from: 'cleo',
        name: 'Cleo',
        text: 'from an earlier visit',
        time: Date.now() - 60_000,
        seq: 1,
        lamport: 1,
        sig: 'x',
      },
      key: 'cleo-key',
      mine: false,
    }
    const saved = recordingStore([earlier])
    saved.holdLoad()
    const ana = enter(board, room, 'Ana', recordingStore().store)
    const ben = enter(board, room, 'Ben', saved.store)
    await Promise.all([connectedTo(ana, 1), connectedTo(ben, 1)])
    const heard = next(ben, 'message', (m) => m.text === 'while reading')
    ana.send('while reading')
    await heard
    // Written now, the record would lose what it holds: the write waits for the read.
    ben.flush()
    expect(saved.saves).toEqual([])
    const restored = next(ben, 'message', (m) => m.text === 'from an earlier visit')
    saved.releaseLoad()
    await restored
    await settle()
    expect(saved.saves).toHaveLength(1)
    expect(saved.texts().sort()).toEqual(['from an earlier visit', 'while reading'])
  })

  it('marks a direct message not delivered when it was not confirmed as the page went', async () => {
    const saved = recordingStore()
    const [ana, ben, room] = await connectedPair(saved.store, recordingStore().store)
    const confirmed = next(ana, 'receipt')
    ana.send('got there', { to: ben.self.id })
    await settle()
    // Written (the page going) before its receipt could come: as not delivered, until the receipt is too.
    ana.flush()
    expect(saved.kept().map((e) => e.undelivered)).toEqual([true])
    await confirmed
    ana.flush()
    expect(saved.kept().map((e) => e.undelivered)).toEqual([undefined])
    ana.send('never got there', { to: ben.self.id })
    await settle()
    ana.leave()

    const again = enter(createSwitchboard(), room, 'Ana', saved.store)
    const shown = [next(again, 'message', (m) => m.text === 'got there'), next(again, 'message', (m) => m.text === 'never got there')]
    const [delivered, lost] = (await Promise.all(shown)) as [ChatView, ChatView]
    expect(delivered.undelivered).toBeUndefined()
    expect(lost).toMatchObject({ mine: true, history: true, undelivered: true })
    // And it stays so in what the next visit writes.
    again.flush()
    await joined(again)
    again.send('later')
    await settle()
    expect(saved.kept().map((e) => [e.message.text, e.undelivered])).toEqual([
      ['got there', undefined],
      ['never got there', true],
      ['later', undefined],
    ])
  })
})

const chat = (id: string, text: string): ChatMessage => ({
  type: 'chat',
  id,
  from: 'ana',
  name: 'Ana',
  text,
  time: Date.now(),
  seq: 1,
  lamport: 1,
})

/** createSaving alone, over a log that holds `entries` and records what it was asked to merge. */
function saverOver(store: HistoryStore, entries: LogEntry[] = []) {
  const merged: LogEntry[] = []
  const log = {
    entries: () => entries,
    merge: async (group: LogEntry[]) => {
      merged.push(...group)
      return { added: [], refused: 0 }
    },
  } as unknown as RoomLog
  const saving = createSaving({
    room: randomRoom(),
    store,
    log: Promise.resolve(log),
    identity: Promise.resolve(trustingIdentity()),
    unconfirmed: () => false,
  })
  return { saving, merged }
}

describe('saving the history, when the store fails', () => {
  it('writes nothing this visit when the stored history cannot be read, even on a second try', async () => {
    const saves: Array<readonly LogEntry[]> = []
    let loads = 0
    const store: HistoryStore = {
      load: async () => {
        loads++
        throw new Error('unreadable')
      },
      save: async (_room, entries) => void saves.push(entries),
    }
    const { saving } = saverOver(store, [{ message: chat('m1', 'said now'), key: 'k', mine: true }])
    await expect(saving.restore(() => {})).rejects.toThrow('unreadable')
    saving.said(false)
    saving.flush()
    expect(loads).toBe(2)
    expect(saves).toEqual([])
  })

  it('reads the stored history once more when the first read fails', async () => {
    const earlier: LogEntry = { message: { ...chat('e1', 'kept'), sig: 'x' }, key: 'k', mine: false }
    let loads = 0
    const store: HistoryStore = {
      load: async () => {
        if (loads++ === 0) throw new Error('busy')
        return [earlier]
      },
      save: async () => {},
    }
    const { saving, merged } = saverOver(store)
    await saving.restore(() => {})
    expect(merged.map((e) => e.message.id)).toEqual(['e1'])
  })

  it('tries a rejected write again on the next flush', async () => {
    const saves: Array<readonly LogEntry[]> = []
    const store: HistoryStore = {
      load: async () => [],
      save: async (_room, entries) => {
        saves.push(entries)
        if (saves.length === 1) throw new Error('quota')
      },
    }
    const { saving } = saverOver(store, [{ message: chat('m1', 'said now'), key: 'k', mine: true }])
    await saving.restore(() => {})
    saving.said(false)
    await settle()
    saving.flush()
    expect(saves).toHaveLength(2)
    saving.flush()
    expect(saves).toHaveLength(2)
  })

  it('keeps every unsigned message when one it never held is signed', async () => {
    const saves: Array<readonly LogEntry[]> = []
    const { saving } = saverOver({ load: async () => [], save: async (_room, entries) => void saves.push(entries) })
    await saving.restore(() => {})
    saving.signing(chat('a', 'first'))
    saving.signing(chat('b', 'second'))
    saving.signed(chat('c', 'never held'))
    saving.flush()
    expect(saves.at(-1)?.map((e) => e.message.text)).toEqual(['first', 'second'])
  })
})

describe('what a store reads back', () => {
  it('keeps each well-formed entry and drops the rest, not the whole record', () => {
    const good: LogEntry = { message: { ...chat('g1', 'fine'), sig: 'x' }, key: 'k', mine: true, undelivered: true }
    const record: unknown[] = [
      good,
      null,
      'text',
      { ...good, key: 7 },
      { ...good, mine: 'yes' },
      { ...good, undelivered: false },
      { ...good, message: { ...good.message, type: 'file' } },
      { ...good, message: { ...good.message, lamport: '1' } },
      { message: { ...good.message, id: 'g2' }, key: 'k', mine: false },
    ]
    expect(record.filter(isLogEntry).map((e) => e.message.id)).toEqual(['g1', 'g2'])
  })
})
