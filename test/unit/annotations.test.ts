import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { annotate, createAnnotations, type Signed } from '../../client/lib/annotations'
import { createRoomLog } from '../../client/lib/history'
import { createIdentity } from '../../client/lib/identity'
import { type ChatMessage, MAX_REACTIONS_PER_PERSON, parsePeerMessage, type Reference } from '../../client/lib/peer-protocol'
import type { Identity } from '../../client/lib/types'

const AUTHORS = ['ana', 'ben', 'cy']
const TARGETS = ['m0', 'm1', 'm2']
// A "signature" this fake identity accepts: the key that signed it, so a forger's key shows.
const fakeIdentity: Identity = {
  key: 'k-self',
  sign: async () => '',
  verify: async (message, key) => message.sig === key,
}

const chat = (id: string, from: string, lamport: number, extra: Partial<ChatMessage> = {}): ChatMessage => ({
  type: 'chat',
  id,
  from,
  name: from,
  text: `text of ${id}`,
  time: 1_767_225_600_000 + lamport,
  seq: 1,
  lamport,
  sig: `k-${from}`,
  ...extra,
})

const reference = fc.oneof(
  fc.record({ act: fc.constantFrom('reply' as const, 'edit' as const, 'delete' as const), id: fc.constantFrom(...TARGETS) }),
  fc.record({
    act: fc.constant('react' as const),
    id: fc.constantFrom(...TARGETS),
    emoji: fc.constantFrom('👍', '❤️', '🎉'),
    on: fc.boolean(),
  }),
) as fc.Arbitrary<Reference>

// Events by anyone about the targets; some signed with a key that is not their author's (forged).
const event = fc.record({
  from: fc.constantFrom(...AUTHORS),
  lamport: fc.nat(6),
  re: reference,
  forged: fc.boolean(),
  text: fc.constantFrom('a', 'b', 'c'),
})
const scenario = fc.array(event, { maxLength: 25 }).map((events): Signed[] => [
  ...TARGETS.map((id, i) => ({ message: chat(id, AUTHORS[i]!, i), key: `k-${AUTHORS[i]}` })),
  ...events.map(({ from, lamport, re, forged, text }, i) => {
    const key = forged ? 'k-mallory' : `k-${from}`
    const silent = re.act === 'delete' || re.act === 'react'
    return { message: chat(`e${i}`, from, lamport, { re, text: silent ? '' : text, sig: key }), key }
  }),
])

const shuffled = <T>(items: T[]) => fc.shuffledSubarray(items, { minLength: items.length, maxLength: items.length })

describe('annotations', () => {
  it('converge: any order of the same events gives the same state', () => {
    fc.assert(
      fc.property(
        scenario.chain((all) => fc.tuple(fc.constant(all), shuffled(all), shuffled(all))),
        ([all, first, second]) => {
          const a = createAnnotations()
          const b = createAnnotations()
          for (const entry of first) a.add(entry)
          for (const entry of second) b.add(entry)
          for (const id of TARGETS) {
            expect(a.state(id)).toEqual(b.state(id))
            expect(a.state(id)).toEqual(
              annotate(
                all.find((e) => e.message.id === id),
                all,
                id,
              ),
            )
          }
        },
      ),
      { numRuns: 300 },
    )
  })

  it('converge through the room log too: the same entries survive deletion in any order', async () => {
    await fc.assert(
      fc.asyncProperty(
        scenario.chain((all) => fc.tuple(shuffled(all), shuffled(all))),
        async ([first, second]) => {
          const kept = async (order: Signed[]) => {
            const log = createRoomLog(fakeIdentity)
            // Everyone's hello came first: which key is theirs does not depend on the order (history.ts).
            for (const author of AUTHORS) log.announce(author, `k-${author}`)
            for (const entry of order) await log.merge([entry])
            return log.entries().map((e) => e.message.id)
          }
          expect(await kept(first)).toEqual(await kept(second))
        },
      ),
      { numRuns: 200 },
    )
  })

  it('applies the author’s edits and deletion, and refuses anyone else’s', () => {
    const target = { message: chat('m', 'ana', 1), key: 'k-ana' }
    const edit = (id: string, from: string, key: string, lamport: number, text: string) => ({
      message: chat(id, from, lamport, { re: { act: 'edit', id: 'm' }, text, sig: key }),
      key,
    })
    const forgedByOther = edit('x1', 'ben', 'k-ben', 5, 'ben says ana said this')
    const forgedKey = edit('x2', 'ana', 'k-mallory', 6, 'not ana')
    expect(annotate(target, [forgedByOther, forgedKey])).toEqual({ id: 'm', edited: false, deleted: false, reactions: [] })
    const later = edit('x3', 'ana', 'k-ana', 3, 'second')
    const earlier = edit('x4', 'ana', 'k-ana', 2, 'first')
    expect(annotate(target, [later, forgedKey, earlier])).toMatchObject({ edited: true, text: 'second' })
    const del = (from: string, key: string) => ({
      message: chat(`d-${key}`, from, 9, { re: { act: 'delete', id: 'm' }, text: '', sig: key }),
      key,
    })
    expect(annotate(target, [del('ben', 'k-ben'), del('ana', 'k-mallory')]).deleted).toBe(false)
    expect(annotate(target, [later, del('ana', 'k-ana')])).toEqual({ id: 'm', edited: false, deleted: true, reactions: [] })
  })

  it('counts one reaction per person and emoji, the latest one deciding', () => {
    const target = { message: chat('m', 'ana', 1), key: 'k-ana' }
    const react = (id: string, from: string, lamport: number, emoji: string, on: boolean) => ({
      message: chat(id, from, lamport, { re: { act: 'react', id: 'm', emoji, on }, text: '' }),
      key: `k-${from}`,
    })
    const state = annotate(target, [
      react('r1', 'ben', 2, '👍', true),
      react('r2', 'ben', 3, '👍', true),
      react('r3', 'cy', 2, '👍', true),
      react('r4', 'cy', 4, '👍', false),
      react('r5', 'ana', 2, '🎉', true),
    ])
    expect(state.reactions).toEqual([
      { emoji: '🎉', from: ['ana'] },
      { emoji: '👍', from: ['ben'] },
    ])
  })

  it('counts at most MAX_REACTIONS_PER_PERSON different emoji per person on one message, the first ones', () => {
    const target = { message: chat('m', 'ana', 1), key: 'k-ana' }
    const emoji = ['😀', '😁', '😂', '😃', '😄', '😅', '😆', '😇', '😈', '😉', '😊', '😋', '😌', '😍', '😎']
    const events = emoji.map((e, i) => ({
      message: chat(`r${i}`, 'ben', 10 + i, { re: { act: 'react', id: 'm', emoji: e, on: true }, text: '' }),
      key: 'k-ben',
    }))
    const kept = annotate(target, events).reactions.map((r) => r.emoji)
    expect(kept.sort()).toEqual(emoji.slice(0, MAX_REACTIONS_PER_PERSON).sort())
    const off = { message: chat('off', 'ben', 99, { re: { act: 'react', id: 'm', emoji: '😀', on: false }, text: '' }), key: 'k-ben' }
    expect(annotate(target, [...events, off]).reactions.map((r) => r.emoji)).toContain(emoji[MAX_REACTIONS_PER_PERSON])
  })

  it('drops taken-back messages and events: the new state of each message they changed, and nothing for the rest', () => {
    const notes = createAnnotations()
    const react = (id: string, from: string, target: string) => ({
      message: chat(id, from, 3, { re: { act: 'react', id: target, emoji: '👍', on: true }, text: '' }),
      key: `k-${from}`,
    })
    for (const entry of [
      { message: chat('m', 'ana', 1), key: 'k-ana' },
      { message: chat('n', 'ben', 2), key: 'k-ben' },
      react('r1', 'cy', 'm'),
      react('r2', 'ben', 'm'),
      react('r3', 'cy', 'n'),
      { message: chat('x', 'cy', 4), key: 'k-cy' },
      react('r4', 'ana', 'x'),
    ])
      notes.add(entry)
    expect(notes.drop(['r1', 'x'])).toEqual([{ id: 'm', edited: false, deleted: false, reactions: [{ emoji: '👍', from: ['ben'] }] }])
    expect(notes.state('n').reactions).toEqual([{ emoji: '👍', from: ['cy'] }])
    // A dropped message is no target any more: what comes about it later changes nothing.
    expect(notes.target('x')).toBeUndefined()
    expect(notes.add(react('r5', 'ben', 'x'))).toBeUndefined()
  })

  it('a deletion erases the target and its edits from the log, also when they arrive again', async () => {
    const log = createRoomLog(fakeIdentity)
    const target = { message: chat('m', 'ana', 1), key: 'k-ana' }
    const edit = { message: chat('e', 'ana', 2, { re: { act: 'edit', id: 'm' }, text: 'secret v2' }), key: 'k-ana' }
    const other = { message: chat('o', 'ben', 2), key: 'k-ben' }
    await log.merge([target, edit, other])
    const own = { message: chat('f', 'ben', 3, { re: { act: 'delete', id: 'o' }, text: '', sig: 'k-ben' }), key: 'k-ben' }
    const foreign = { message: chat('g', 'ben', 3, { re: { act: 'delete', id: 'm' }, text: '', sig: 'k-ben' }), key: 'k-ben' }
    await log.merge([foreign])
    expect(log.entries().map((e) => e.message.id)).toEqual(['m', 'e', 'o', 'g'])
    const del = { message: chat('d', 'ana', 4, { re: { act: 'delete', id: 'm' }, text: '', sig: 'k-ana' }), key: 'k-ana' }
    await log.merge([del, own])
    const texts = log.entries().map((e) => e.message.text)
    expect(log.entries().map((e) => e.message.id)).toEqual(['f', 'g', 'd'])
    expect(texts.join(' ')).not.toContain('text of m')
    expect(texts.join(' ')).not.toContain('secret')
    // Someone passing the old text on again does not bring it back.
    const again = createRoomLog(fakeIdentity)
    await again.merge([del])
    const { added } = await again.merge([target, edit])
    expect(added).toEqual([])
  })

  it('signatures cover the event: a reaction or deletion moved to another message or author is refused', async () => {
    const ana = await createIdentity('room')
    const reaction: ChatMessage = {
      ...chat('r', 'ana', 2, { re: { act: 'react', id: 'm', emoji: '👍', on: true }, text: '' }),
      sig: undefined,
    }
    reaction.sig = await ana.sign(reaction)
    expect(await ana.verify(reaction, ana.key)).toBe(true)
    expect(await ana.verify({ ...reaction, re: { act: 'react', id: 'm', emoji: '👍', on: false } }, ana.key)).toBe(false)
    expect(await ana.verify({ ...reaction, re: { act: 'react', id: 'other', emoji: '👍', on: true } }, ana.key)).toBe(false)
    expect(await ana.verify({ ...reaction, re: { act: 'delete', id: 'm' } }, ana.key)).toBe(false)
    expect(await ana.verify({ ...reaction, from: 'ben' }, ana.key)).toBe(false)
    // A plain chat line is signed as before the events existed.
    const plain = { ...chat('p', 'ana', 1), sig: undefined } as ChatMessage
    plain.sig = await ana.sign(plain)
    expect(await ana.verify({ ...plain, re: { act: 'reply', id: 'm' } }, ana.key)).toBe(false)
    const log = createRoomLog(ana)
    log.announce('ben', 'B'.repeat(87))
    const { refused } = await log.merge([{ message: { ...reaction, from: 'ben' }, key: ana.key }])
    expect(refused).toBe(1)
  })
})

describe('events on the wire', () => {
  const wire = (message: object) => parsePeerMessage(JSON.stringify({ ...chat('e', 'ana', 1), ...message }), 'ana')
  it('parses each kind and refuses malformed ones', () => {
    expect(wire({ re: { act: 'reply', id: 'm' } })).toMatchObject({ re: { act: 'reply', id: 'm' } })
    expect(wire({ re: { act: 'edit', id: 'm' }, text: 'new' })).toMatchObject({ re: { act: 'edit', id: 'm' }, text: 'new' })
    expect(wire({ re: { act: 'delete', id: 'm' }, text: '' })).toMatchObject({ re: { act: 'delete', id: 'm' } })
    expect(wire({ re: { act: 'react', id: 'm', emoji: '🇫🇷', on: true }, text: '' })).toMatchObject({ re: { emoji: '🇫🇷', on: true } })
    expect(wire({ re: { act: 'delete', id: 'm' }, text: 'left behind' })).toBeNull()
    expect(wire({ re: { act: 'edit', id: 'm' }, text: ' ' })).toBeNull()
    expect(wire({ re: { act: 'react', id: 'm', emoji: 'hello', on: true }, text: '' })).toBeNull()
    expect(wire({ re: { act: 'react', id: 'm', emoji: '👍 👍', on: true }, text: '' })).toBeNull()
    expect(wire({ re: { act: 'react', id: 'm', emoji: '👍'.repeat(17), on: true }, text: '' })).toBeNull()
    expect(wire({ re: { act: 'react', id: 'm', emoji: '👍' }, text: '' })).toBeNull()
    expect(wire({ re: { act: 'pin', id: 'm' } })).toBeNull()
    expect(wire({ re: { act: 'reply', id: '' } })).toBeNull()
    expect(wire({ re: 'm' })).toBeNull()
  })
})
