import { describe, expect, it } from 'vitest'
import { mergeKept } from '../../client/lib/kept-history'
import type { ChatMessage } from '../../client/lib/peer-protocol'
import type { LogEntry } from '../../client/lib/stored'

// What a page reads back of a room from the records its tabs wrote (client/page/idb-store.ts): one
// history, as the room log would hold it. Signatures are not checked here; the log checks them after.

const KEY = 'ana-key'
const line = (id: string, lamport: number, extra: Partial<ChatMessage> = {}): ChatMessage => ({
  type: 'chat',
  id,
  from: 'ana',
  name: 'Ana',
  text: `line ${id}`,
  time: 1_800_000_000_000,
  seq: lamport,
  lamport,
  sig: `sig-${id}`,
  ...extra,
})
const entry = (message: ChatMessage, more: Partial<LogEntry> = {}): LogEntry => ({ message, key: KEY, mine: false, ...more })
const ids = (entries: LogEntry[]) => entries.map((e) => e.message.id)

describe('mergeKept', () => {
  it('keeps what each tab alone held, each entry once, in the room’s order', () => {
    const a = [entry(line('a1', 1)), entry(line('both', 2)), entry(line('a3', 5))]
    const b = [entry(line('both', 2)), entry(line('b4', 3)), entry(line('b5', 4))]
    expect(ids(mergeKept([a, b]))).toEqual(['a1', 'both', 'b4', 'b5', 'a3'])
    expect(mergeKept([b, a])).toEqual(mergeKept([a, b]))
  })

  it('orders equal Lamport times by author, then id, as the log does', () => {
    const tie = [entry(line('y', 7, { from: 'ben' })), entry(line('z', 7)), entry(line('x', 7))]
    expect(ids(mergeKept([tie]))).toEqual(['x', 'z', 'y'])
  })

  it('keeps the newest `limit`, so what every tab trimmed stays trimmed', () => {
    const a = Array.from({ length: 4 }, (_, i) => entry(line(`a${i}`, 2 * i)))
    const b = Array.from({ length: 4 }, (_, i) => entry(line(`b${i}`, 2 * i + 1)))
    expect(ids(mergeKept([a, b], 5))).toEqual(['b1', 'a2', 'b2', 'a3', 'b3'])
  })

  it('puts ours not yet signed last (their Lamport time comes with the signature) and keeps them past the limit', () => {
    const unsigned = entry(line('late', 0, { sig: undefined }), { mine: true })
    const kept = mergeKept([[unsigned, entry(line('s1', 1)), entry(line('s2', 2))]], 2)
    expect(ids(kept)).toEqual(['s2', 'late'])
  })

  it('prefers a signed copy to an unsigned one of the same line', () => {
    const unsigned = entry(line('m', 0, { sig: undefined }), { mine: true })
    const signed = entry(line('m', 9), { mine: true })
    for (const records of [
      [[unsigned], [signed]],
      [[signed], [unsigned]],
    ])
      expect(mergeKept(records)).toEqual([signed])
  })

  it('keeps a direct message of ours undelivered unless a copy knows it arrived', () => {
    const dm = line('dm', 3, { to: 'ben' })
    const undelivered = entry(dm, { mine: true, undelivered: true })
    expect(mergeKept([[undelivered], [entry(line('other', 4))]])).toEqual([undelivered, entry(line('other', 4))])
    expect(mergeKept([[undelivered], [undelivered]])).toEqual([undelivered])
    // The same tab, after the receipt came; or the recipient's tab in this browser.
    expect(mergeKept([[undelivered], [entry(dm, { mine: true })]])).toEqual([entry(dm, { mine: true })])
    expect(mergeKept([[entry(dm)], [undelivered]])).toEqual([entry(dm, { mine: true })])
  })

  it('tells apart lines with one id by another author or key', () => {
    const kept = mergeKept([[entry(line('same', 1)), entry(line('same', 1, { from: 'ben' })), entry(line('same', 1), { key: 'other' })]])
    expect(kept).toHaveLength(3)
  })

  it('drops what is not an entry, and reads records that are not lists as empty', () => {
    const good = entry(line('ok', 1))
    expect(mergeKept([[good, { message: 'junk' }, null], undefined, { 0: good }, 'text'])).toEqual([good])
  })

  it('copies only the entry’s own fields', () => {
    const stored = { ...entry(line('x', 1)), extra: true }
    expect(mergeKept([[stored]])).toEqual([entry(line('x', 1))])
  })

  it('keeps ours not yet signed in the order they were said, whatever Lamport time signing had given some', () => {
    // Said just before the page went: the first one's signing had begun (its Lamport time set), not the others'.
    const said = (id: string, seq: number, lamport: number) =>
      entry(line(id, lamport, { from: 'me', seq, time: 1_800_000_000_000 + seq, sig: undefined }), { mine: true })
    const kept = mergeKept([[said('zzz', 1, 42), said('aaa', 2, 0), said('mmm', 3, 0)], [entry(line('theirs', 7))]])
    expect(ids(kept)).toEqual(['theirs', 'zzz', 'aaa', 'mmm'])
  })
})
