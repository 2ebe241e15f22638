import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  CHARS_BURST,
  createBucket,
  createBudget,
  HISTORY_ENTRIES_PER_AUTHOR,
  HISTORY_ENTRIES_PER_CHANNEL,
  MESSAGE_BURST,
} from '../../client/lib/budget'
import { createFiles, FILE_IDLE_MS, MAX_INCOMING_FILES } from '../../client/lib/files'
import {
  createRoomLog,
  inRange,
  LAMPORT_PER_S,
  LAMPORT_SLACK,
  lamportCap,
  MAX_PENDING_ENTRIES,
  MAX_RELAYED_KEYS,
  OLDEST_TIME_MS,
  TIME_WINDOW_MS,
} from '../../client/lib/history'
import {
  type ChatMessage,
  cleanFileName,
  type FileOffer,
  type HistoryEntry,
  MAX_FILE_BYTES,
  MAX_FILE_NAME_CHARS,
  MAX_TIME_MS,
  type PeerMessage,
  parsePeerMessage,
} from '../../client/lib/peer-protocol'
import type { Identity } from '../../client/lib/types'

const FROM = 'p9Yt2LmQ0sXc7Vb1NaZ4k'
const NOW = Date.UTC(2026, 10, 30, 12)
const KEY = 'k'.repeat(43)

const chat = (fields: Partial<ChatMessage> = {}): ChatMessage => ({
  type: 'chat',
  id: `m${Math.random().toString(36).slice(2)}`,
  from: FROM,
  name: 'Ana',
  text: 'hello',
  time: NOW,
  seq: 1,
  lamport: 1,
  ...fields,
})
const parse = (fields: Record<string, unknown>) => parsePeerMessage(JSON.stringify({ ...chat(), ...fields }), FROM)

/** Signatures are the key itself: enough to tell the right key from a wrong one. */
const keyedIdentity = (): Identity => ({ key: 'mine', sign: async () => 'mine', verify: async (m, key) => m.sig === key })

describe('fields at the boundary (parsePeerMessage)', () => {
  it('takes a time within the range of a Date, and nothing past it', () => {
    expect(parse({ time: MAX_TIME_MS })).toMatchObject({ time: MAX_TIME_MS })
    expect(parse({ time: -MAX_TIME_MS })).toMatchObject({ time: -MAX_TIME_MS })
    expect(parse({ time: MAX_TIME_MS + 1 })).toBeNull()
    expect(parse({ time: 1e300 })).toBeNull()
  })

  it('takes a seq and a lamport up to the largest exact integer', () => {
    expect(parse({ seq: Number.MAX_SAFE_INTEGER, lamport: Number.MAX_SAFE_INTEGER })).not.toBeNull()
    expect(parse({ seq: Number.MAX_SAFE_INTEGER + 1 })).toBeNull()
    expect(parse({ lamport: Number.MAX_SAFE_INTEGER + 1 })).toBeNull()
    expect(parse({ lamport: -1 })).toBeNull()
  })

  it('takes ids of 1 to 64 characters', () => {
    expect(parse({ id: 'i'.repeat(64) })).not.toBeNull()
    expect(parse({ id: 'i'.repeat(65) })).toBeNull()
  })

  const offer = (fields: Partial<FileOffer>) =>
    parsePeerMessage(
      JSON.stringify({ type: 'file', id: 'Ab3_-x9Z', name: 'a.txt', size: 1, mime: 'text/plain', sha256: 'a'.repeat(64), ...fields }),
      FROM,
    )

  it('takes files up to MAX_FILE_BYTES and names up to MAX_FILE_NAME_CHARS', () => {
    expect(offer({ size: MAX_FILE_BYTES })).toMatchObject({ size: MAX_FILE_BYTES })
    expect(offer({ size: MAX_FILE_BYTES + 1 })).toBeNull()
    expect(offer({ name: 'n'.repeat(MAX_FILE_NAME_CHARS) })).not.toBeNull()
    expect(offer({ name: 'n'.repeat(MAX_FILE_NAME_CHARS + 1) })).toBeNull()
  })

  it('strips bidirectional controls from file names, so an extension cannot be disguised', () => {
    expect(offer({ name: 'invoice\u202Efdp.exe' })).toMatchObject({ name: 'invoicefdp.exe' })
    expect(cleanFileName('\u2066a\u2069\u200f\u061cb\u202a.txt')).toBe('ab.txt')
  })
})

describe('times and Lamport times against the receiver (inRange)', () => {
  it('takes a live message within a day of our clock, either way', () => {
    expect(inRange(chat({ time: NOW + TIME_WINDOW_MS }), true, NOW)).toBe(true)
    expect(inRange(chat({ time: NOW + TIME_WINDOW_MS + 1 }), true, NOW)).toBe(false)
    expect(inRange(chat({ time: NOW - TIME_WINDOW_MS }), true, NOW)).toBe(true)
    expect(inRange(chat({ time: NOW - TIME_WINDOW_MS - 1 }), true, NOW)).toBe(false)
  })

  it('takes history from 2020 up to a day from now', () => {
    expect(inRange(chat({ time: OLDEST_TIME_MS }), false, NOW)).toBe(true)
    expect(inRange(chat({ time: OLDEST_TIME_MS - 1 }), false, NOW)).toBe(false)
    expect(inRange(chat({ time: NOW + TIME_WINDOW_MS }), false, NOW)).toBe(true)
    expect(inRange(chat({ time: NOW + TIME_WINDOW_MS + 1 }), false, NOW)).toBe(false)
  })

  it('takes a Lamport time up to 100 a second since 2020 plus LAMPORT_SLACK, live or in history', () => {
    const cap = Math.floor(((NOW - OLDEST_TIME_MS) / 1000) * LAMPORT_PER_S) + LAMPORT_SLACK
    expect(lamportCap(NOW)).toBe(cap)
    for (const live of [true, false]) {
      expect(inRange(chat({ lamport: cap }), live, NOW)).toBe(true)
      expect(inRange(chat({ lamport: cap + 1 }), live, NOW)).toBe(false)
    }
    expect(inRange(chat({ lamport: Number.MAX_SAFE_INTEGER }), true, NOW)).toBe(false)
    // A million years of the cap still fits in exact integers.
    expect(lamportCap(NOW + 1e6 * 365 * 86_400_000)).toBeLessThan(Number.MAX_SAFE_INTEGER)
  })
})

describe('the room log under hostile history', () => {
  afterEach(() => vi.useRealTimers())

  it('refuses live messages out of range, and counts them', async () => {
    const log = createRoomLog(keyedIdentity())
    expect(log.admits(chat({ lamport: 5, time: Date.now() }))).toBe(true)
    expect(log.admits(chat({ lamport: Number.MAX_SAFE_INTEGER, time: Date.now() }))).toBe(false)
    expect(log.admits(chat({ lamport: 6, time: 1e15 }))).toBe(false)
    expect(log.counts().outOfRange).toBe(2)
  })

  it('refuses history entries out of range, and counts them', async () => {
    // The cap grows with the clock (one every 10 ms): a clock that ticks between making the entry and
    // checking it would let it in.
    vi.useFakeTimers({ toFake: ['Date'] })
    const log = createRoomLog(keyedIdentity())
    const { refused } = await log.merge([{ message: chat({ lamport: lamportCap(Date.now()) + 1, time: Date.now(), sig: KEY }), key: KEY }])
    expect(refused).toBe(1)
    expect(log.counts().outOfRange).toBe(1)
  })

  it('takes a Lamport time into its own clock only up to the cap less the slack (a stored history is not ranged)', async () => {
    const log = createRoomLog(keyedIdentity())
    await log.merge([{ message: chat({ lamport: Number.MAX_SAFE_INTEGER, time: Date.now(), sig: 'mine' }), key: 'mine' }], true)
    expect(log.tick()).toBeLessThanOrEqual(lamportCap(Date.now()) - LAMPORT_SLACK + 1)
  })

  it('a reader whose clock a peer pushed to the cap is still heard by readers 99 s behind', async () => {
    const ana = createRoomLog(keyedIdentity())
    const now = Date.now()
    await ana.merge([{ message: chat({ lamport: lamportCap(now), time: now, sig: KEY }), key: KEY }])
    const next = chat({ from: 'ana', lamport: ana.tick(), time: now })
    expect(inRange(next, true, now - 99_000)).toBe(true)
  })

  it('holds entries for a present peer until their own hello, then checks them with its key', async () => {
    const log = createRoomLog(keyedIdentity())
    const forged = chat({ time: Date.now(), sig: 'forger', text: 'forged' })
    const genuine = chat({ time: Date.now(), sig: KEY, text: 'genuine' })
    const present = (id: string) => id === FROM
    const held = await log.merge(
      [
        { message: forged, key: 'forger' },
        { message: genuine, key: KEY },
      ],
      false,
      present,
    )
    expect(held).toEqual({ added: [], refused: 0 })
    expect(log.counts().pending).toBe(2)
    const { added, refused } = await log.announce(FROM, KEY)
    expect(added.map((a) => a.entry.message.text)).toEqual(['genuine'])
    expect(refused).toBe(1)
    expect(log.counts().pending).toBe(0)
  })

  it('takes back, at an absent author’s hello, what history said in their name with another key; the rest stays', async () => {
    const log = createRoomLog(keyedIdentity())
    const forged = chat({ time: Date.now(), sig: 'forger', text: 'forged', lamport: 1 })
    const other = chat({ from: 'someone-else', time: Date.now(), sig: 'forger', text: 'another author', lamport: 2 })
    const { added } = await log.merge([
      { message: forged, key: 'forger' },
      { message: other, key: 'forger' },
    ])
    expect(added).toHaveLength(2) // nobody here named a key for either: the first one seen is taken
    const genuine = chat({ time: Date.now(), sig: KEY, text: 'genuine', lamport: 3 })
    const hello = await log.announce(FROM, KEY)
    expect(hello).toEqual({ added: [], refused: 0, dropped: [forged.id] })
    expect(log.entries().map((e) => e.message.text)).toEqual(['another author'])
    // Gone for good: passed on again, even signed anew with their key, its id is taken; their real lines are not.
    expect((await log.merge([{ message: forged, key: 'forger' }])).added).toEqual([])
    expect((await log.merge([{ message: { ...forged, sig: KEY }, key: KEY }])).added).toEqual([])
    expect((await log.merge([{ message: genuine, key: KEY }])).added).toHaveLength(1)
    expect((await log.announce(FROM, KEY)).dropped).toEqual([])
  })

  it('refuses an entry whose author’s hello named another key while its signature was being checked', async () => {
    let release = () => {}
    const gate = new Promise<void>((resolve) => (release = resolve))
    const log = createRoomLog({
      ...keyedIdentity(),
      verify: async (m, key) => {
        await gate
        return m.sig === key
      },
    })
    const forged = chat({ time: Date.now(), sig: 'forger', text: 'forged' })
    const merging = log.merge([{ message: forged, key: 'forger' }])
    const hello = log.announce(FROM, KEY)
    release()
    expect(await hello).toEqual({ added: [], refused: 0, dropped: [] })
    expect(await merging).toEqual({ added: [], refused: 1 })
    expect(log.entries()).toEqual([])
  })

  it('waits for at most MAX_PENDING_ENTRIES, and forgets them when the peer goes', async () => {
    const log = createRoomLog(keyedIdentity())
    const entries = Array.from({ length: MAX_PENDING_ENTRIES + 1 }, () => ({ message: chat({ time: Date.now(), sig: KEY }), key: KEY }))
    const { refused } = await log.merge(entries, false, () => true)
    expect(refused).toBe(1)
    expect(log.counts().pending).toBe(MAX_PENDING_ENTRIES)
    log.gone(FROM)
    expect(log.counts().pending).toBe(0)
  })

  it("takes a line from its proven author's channel at once, and hands it on only once its signature is checked", async () => {
    let checks = 0
    let release = () => {}
    let gate = new Promise<void>((resolve) => (release = resolve))
    // Signatures are checked only once the gate opens: what the log does before that is what a reader sees.
    const verify = async (m: ChatMessage, key: string) => {
      checks++
      await gate
      return m.sig === key
    }
    const log = createRoomLog({ ...keyedIdentity(), verify })
    await log.announce(FROM, KEY)
    const first = chat({ time: Date.now(), sig: KEY, text: 'first', lamport: 1 })
    const genuine = chat({ time: Date.now(), sig: KEY, text: 'genuine', lamport: 2 })
    const forged = chat({ time: Date.now(), sig: 'forger', text: 'forged', lamport: 3 })
    // Until a line of theirs verifies under the hello's key, they have not shown it is theirs.
    expect(log.heard(genuine)).toBeNull()
    const proving = log.live(first)
    await vi.waitFor(() => expect(checks).toBe(1))
    release()
    expect(await proving).not.toBeNull()
    expect(log.proven(FROM)).toBe(true)
    checks = 0
    gate = new Promise<void>((resolve) => (release = resolve))
    const heard = [log.heard(genuine), log.heard(forged)]
    expect(heard.map((h) => h?.added.entry.message.text)).toEqual(['genuine', 'forged'])
    expect(log.entries().map((e) => e.message.text)).toEqual(['first', 'genuine', 'forged'])
    expect(log.heard(genuine)).toBeNull()
    // Nobody is handed a line before its check.
    let batches: string[][] | undefined
    void log.batches().then((b) => (batches = b.map((batch) => batch.map((e) => e.message.text))))
    await vi.waitFor(() => expect(checks).toBe(2))
    expect(batches).toBeUndefined()
    release()
    expect(await Promise.all(heard.map((h) => h?.checked))).toEqual([true, false])
    await vi.waitFor(() => expect(batches).toEqual([['first', 'genuine']]))
    expect(log.entries().map((e) => e.message.text)).toEqual(['first', 'genuine'])
    // A bad line takes the proof back: the next line is checked before it is shown again.
    expect(log.proven(FROM)).toBe(false)
    // Without their hello's key there is nothing to hear it by.
    expect(log.heard(chat({ from: 'stranger', time: Date.now(), sig: KEY }))).toBeNull()
  })

  it('remembers keys for MAX_RELAYED_KEYS absent authors, and refuses new ones past that', async () => {
    const log = createRoomLog(keyedIdentity())
    const entry = (i: number) => {
      const key = `key-${i}`.padEnd(43, '0')
      return { message: chat({ from: `author-${i}`, time: Date.now(), sig: key }), key }
    }
    const first = await log.merge(Array.from({ length: MAX_RELAYED_KEYS }, (_, i) => entry(i)))
    expect(first.refused).toBe(0)
    const past = await log.merge([entry(MAX_RELAYED_KEYS)])
    expect(past.refused).toBe(1)
    expect(log.counts().relayedKeys).toBe(MAX_RELAYED_KEYS)
  })
})

describe('budgets', () => {
  it('a bucket allows its burst, refuses one more, and refills with time', () => {
    let t = 0
    const take = createBucket(10, 5, () => t)
    expect(Array.from({ length: 5 }, () => take())).toEqual([true, true, true, true, true])
    expect(take()).toBe(false)
    t += 100
    expect(take()).toBe(true)
    expect(take()).toBe(false)
  })

  it('drops messages past MESSAGE_BURST and marks the peer misbehaving, once', () => {
    const changed = vi.fn()
    const budget = createBudget({ changed, now: () => 0 })
    for (let i = 0; i < MESSAGE_BURST; i++) expect(budget.admit('p', '{}')).toBe(true)
    expect(budget.admit('p', '{}')).toBe(false)
    expect(budget.admit('p', '{}')).toBe(false)
    expect(changed).toHaveBeenCalledTimes(1)
    expect(budget.decorate({ id: 'p', name: '', state: 'connected' })).toMatchObject({ misbehaving: true })
    expect(budget.decorate({ id: 'q', name: '', state: 'connected' })).not.toHaveProperty('misbehaving')
    expect(budget.excess('p')).toMatchObject({ messages: 2 })
    expect(budget.stats().overBudget).toBe(2)
  })

  it('drops text past CHARS_BURST', () => {
    const budget = createBudget({ changed: () => {}, now: () => 0 })
    expect(budget.admit('p', 'x'.repeat(CHARS_BURST))).toBe(true)
    expect(budget.admit('p', 'x')).toBe(false)
  })

  it('takes HISTORY_ENTRIES_PER_CHANNEL entries per channel, and counts repeated hellos', () => {
    const budget = createBudget({ changed: () => {} })
    expect(budget.history('p', HISTORY_ENTRIES_PER_CHANNEL)).toBe(true)
    expect(budget.history('p', 1)).toBe(false)
    budget.opened('p')
    expect(budget.history('p', 1)).toBe(true)
    budget.hello('p')
    expect(budget.excess('p')).toMatchObject({ history: 1, hellos: 1 })
  })

  it('takes HISTORY_ENTRIES_PER_AUTHOR entries of one author from one relayer per channel, and counts the rest', () => {
    const changed = vi.fn()
    const budget = createBudget({ changed })
    const by = (from: string, count: number) =>
      Array.from({ length: count }, (_, i) => ({ message: { from, id: `${from}${i}` }, key: 'k' }) as unknown as HistoryEntry)
    expect(budget.authored('relayer', by('a', HISTORY_ENTRIES_PER_AUTHOR - 1))).toHaveLength(HISTORY_ENTRIES_PER_AUTHOR - 1)
    expect(changed).not.toHaveBeenCalled()
    // At the cap: the last one of "a" fits, the one past it does not; "b" and another relayer are counted apart.
    const kept = budget.authored('relayer', [...by('a', 2), ...by('b', 1)])
    expect(kept.map((e) => e.message.from)).toEqual(['a', 'b'])
    expect(budget.authored('other', by('a', 1))).toHaveLength(1)
    expect(changed).toHaveBeenCalledTimes(1)
    expect(budget.excess('relayer')).toMatchObject({ history: 1 })
    expect(budget.decorate({ id: 'relayer', name: '', state: 'connected' })).toMatchObject({ misbehaving: true })
    // A new channel, a new hand-over.
    budget.opened('relayer')
    expect(budget.authored('relayer', by('a', 1))).toHaveLength(1)
  })
})

describe('unfinished incoming files', () => {
  afterEach(() => vi.useRealTimers())

  function files() {
    const sent: PeerMessage[] = []
    const events: string[] = []
    const refused: string[] = []
    const channel = {
      connected: () => [],
      sendNow: (m: PeerMessage) => {
        sent.push(m)
        return []
      },
      sendBinary: async () => true,
    }
    const f = createFiles(channel, ((type: string, t: { state: string }) => void events.push(`${type}:${t.state}`)) as never, (from) =>
      refused.push(from),
    )
    let n = 0
    const offer = (from: string, size: number) =>
      f.offered(from, { type: 'file', id: `id${String(n++).padStart(6, '0')}`, name: 'f', size, mime: 'x', sha256: '0'.repeat(64) })
    return { f, sent, events, refused, offer }
  }

  it(`takes ${MAX_INCOMING_FILES} at once from one peer, and refuses (and cancels) one more`, () => {
    const { offer, refused, sent } = files()
    for (let i = 0; i < MAX_INCOMING_FILES; i++) offer('a', 1)
    expect(refused).toEqual([])
    offer('a', 1)
    expect(refused).toEqual(['a'])
    expect(sent).toMatchObject([{ type: 'file-cancel' }])
    offer('b', 1)
    expect(refused).toEqual(['a'])
  })

  it('takes 128 MiB of unfinished files per peer and 256 MiB in all, not a byte more', () => {
    const { offer, refused } = files()
    offer('a', MAX_FILE_BYTES)
    offer('a', MAX_FILE_BYTES)
    offer('a', 1)
    expect(refused).toEqual(['a'])
    offer('b', MAX_FILE_BYTES)
    offer('b', MAX_FILE_BYTES)
    expect(refused).toEqual(['a'])
    offer('c', 1)
    expect(refused).toEqual(['a', 'c'])
  })

  it(`fails a file that heard nothing for ${FILE_IDLE_MS / 1000} s, freeing its place`, () => {
    vi.useFakeTimers()
    const { f, offer, events, refused } = files()
    for (let i = 0; i < MAX_INCOMING_FILES; i++) offer('a', 10)
    vi.advanceTimersByTime(FILE_IDLE_MS + FILE_IDLE_MS / 3)
    expect(events.filter((e) => e === 'file-progress:failed')).toHaveLength(MAX_INCOMING_FILES)
    offer('a', 10)
    expect(refused).toEqual([])
    f.reset()
  })
})
