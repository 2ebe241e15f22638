import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type ChatMessage,
  cleanFileName,
  cleanName,
  MAX_FILE_NAME_CHARS,
  MAX_NAME_CHARS,
  MAX_TEXT_CHARS,
  MAX_TIME_MS,
  MAX_WIRE_CHARS,
  parseEnvelope,
  parsePeerMessage,
} from '../../client/lib/peer-protocol'
import { parseServerEvent } from '../../client/lib/signaling/event-stream'

const FROM = 'p9Yt2LmQ0sXc7Vb1NaZ4k'
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is what this pattern is for.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/

const validChat = (): ChatMessage => ({
  type: 'chat',
  id: 'V1StGXR8_Z5jdHi6B-myT',
  from: FROM,
  name: 'Ana',
  text: 'hello',
  time: 1_700_000_000_000,
  seq: 1,
  lamport: 1,
})
const wire = (value: unknown) => JSON.stringify(value)
const chatWith = (fields: Record<string, unknown>) => wire({ ...validChat(), ...fields })

describe('parsePeerMessage', () => {
  it('accepts a chat message and keeps only its known fields', () => {
    expect(parsePeerMessage(chatWith({ extra: 'ignored', html: '<b>' }), FROM)).toEqual(validChat())
  })

  it('accepts chat fields at their limits', () => {
    const edge = {
      id: 'i'.repeat(64),
      name: 'n'.repeat(MAX_NAME_CHARS),
      text: 't'.repeat(MAX_TEXT_CHARS),
      time: 0,
      seq: Number.MAX_SAFE_INTEGER,
    }
    expect(parsePeerMessage(chatWith(edge), FROM)).toEqual({ ...validChat(), ...edge })
    expect(parsePeerMessage(chatWith({ name: '', time: -1.5 }), FROM)).toMatchObject({ name: '', time: -1.5 })
  })

  it('cleans the sender’s name but keeps the text as written', () => {
    expect(parsePeerMessage(chatWith({ name: ' Ana\nB\u0007 ', text: '  line 1\nline 2  ' }), FROM)).toMatchObject({
      name: 'Ana B',
      text: '  line 1\nline 2  ',
    })
  })

  it.each<[string, Record<string, unknown>]>([
    ['another sender’s id', { from: 'someone-else' }],
    ['no sender', { from: undefined }],
    ['a numeric id', { id: 7 }],
    ['an empty id', { id: '' }],
    ['an id over 64 chars', { id: 'i'.repeat(65) }],
    ['a numeric name', { name: 1 }],
    ['a missing name', { name: undefined }],
    ['a name over the limit', { name: 'n'.repeat(MAX_NAME_CHARS * 2 + 1) }],
    ['a missing text', { text: undefined }],
    ['an empty text', { text: '' }],
    ['a blank text', { text: ' \n\t ' }],
    ['a text over the limit', { text: 't'.repeat(MAX_TEXT_CHARS + 1) }],
    ['a text array', { text: ['hi'] }],
    ['a string time', { time: '1700000000000' }],
    ['a null time', { time: null }],
    ['seq 0', { seq: 0 }],
    ['a negative seq', { seq: -1 }],
    ['a fractional seq', { seq: 1.5 }],
    ['an unsafe seq', { seq: 2 ** 53 }],
    ['a string seq', { seq: '1' }],
  ])('drops a chat message with %s', (_, fields) => {
    expect(parsePeerMessage(chatWith(fields), FROM)).toBeNull()
  })

  it('accepts a hello and cleans its name', () => {
    const hello = (value: object) => parsePeerMessage(wire({ type: 'hello', ...value }), FROM)
    expect(hello({ name: '\tBen ', have: 0 })).toEqual({ type: 'hello', name: 'Ben', have: 0 })
    expect(hello({ name: '', have: 41, extra: 1 })).toEqual({ type: 'hello', name: '', have: 41 })
  })

  it.each([
    { type: 'hello', name: 'Ben' },
    { type: 'hello', name: 'Ben', have: -1 },
    { type: 'hello', name: 'Ben', have: 0.5 },
    { type: 'hello', name: 'Ben', have: '3' },
    { type: 'hello', have: 0 },
    { type: 'hello', name: 'n'.repeat(MAX_NAME_CHARS * 2 + 1), have: 0 },
  ])('drops the hello %j', (value) => {
    expect(parsePeerMessage(wire(value), FROM)).toBeNull()
  })

  it('accepts a name change and cleans it', () => {
    expect(parsePeerMessage(wire({ type: 'name', name: ' Cai\u2028Li ' }), FROM)).toEqual({ type: 'name', name: 'Cai Li' })
    expect(parsePeerMessage(wire({ type: 'name', name: '' }), FROM)).toEqual({ type: 'name', name: '' })
  })

  it.each([{ type: 'name' }, { type: 'name', name: null }, { type: 'name', name: 'n'.repeat(MAX_NAME_CHARS * 2 + 1) }])(
    'drops the name change %j',
    (value) => {
      expect(parsePeerMessage(wire(value), FROM)).toBeNull()
    },
  )

  it('accepts a file cancel with a file id, and nothing else', () => {
    expect(parsePeerMessage(wire({ type: 'file-cancel', id: 'Ab3_-x9Z', extra: 1 }), FROM)).toEqual({ type: 'file-cancel', id: 'Ab3_-x9Z' })
    for (const id of [undefined, 7, 'short', 'Ab3_-x9Z9', 'Ab3 -x9Z'])
      expect(parsePeerMessage(wire({ type: 'file-cancel', id }), FROM)).toBeNull()
  })

  it.each<[string, unknown]>([
    ['non-JSON', '{"type":"chat"'],
    ['an empty string', ''],
    ['a JSON number', '42'],
    ['a JSON string', '"chat"'],
    ['JSON null', 'null'],
    ['a JSON array', wire([validChat()])],
    ['an unknown type', wire({ ...validChat(), type: 'file' })],
    ['no type', wire({ name: 'Ana' })],
    ['an object instead of a string', validChat()],
    ['bytes instead of a string', new TextEncoder().encode(wire(validChat()))],
    ['undefined', undefined],
    ['null', null],
  ])('drops %s', (_, raw) => {
    expect(parsePeerMessage(raw, FROM)).toBeNull()
  })

  it('drops frames over MAX_WIRE_CHARS, even when well-formed', () => {
    const base = chatWith({ pad: '' })
    const fill = (chars: number) => chatWith({ pad: 'p'.repeat(chars - base.length) })
    expect(fill(MAX_WIRE_CHARS)).toHaveLength(MAX_WIRE_CHARS)
    expect(parsePeerMessage(fill(MAX_WIRE_CHARS), FROM)).toEqual(validChat())
    expect(parsePeerMessage(fill(MAX_WIRE_CHARS + 1), FROM)).toBeNull()
  })

  it('never throws, whatever arrives', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.anything()), (raw) => {
        parsePeerMessage(raw, FROM)
      }),
    )
  })

  it('reads back every chat message a sender can write', () => {
    const chatArb = fc.record({
      type: fc.constant('chat' as const),
      id: fc.string({ minLength: 1, maxLength: 64 }),
      from: fc.constant(FROM),
      name: fc.string({ maxLength: MAX_NAME_CHARS }).map(cleanName),
      text: fc.string({ minLength: 1, maxLength: MAX_TEXT_CHARS }).filter((t) => t.trim() !== ''),
      time: fc.double({ min: -MAX_TIME_MS, max: MAX_TIME_MS, noNaN: true }),
      seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
      lamport: fc.nat(),
    })
    fc.assert(
      fc.property(chatArb, (message) => {
        // JSON has no -0: it comes back as 0.
        expect(parsePeerMessage(wire(message), FROM)).toEqual({ ...message, time: message.time === 0 ? 0 : message.time })
      }),
    )
  })
})

describe('parseEnvelope', () => {
  it('accepts a signal of an attempt, dropping anything else', () => {
    const signal = { type: 'offer', sdp: 'v=0' }
    expect(parseEnvelope({ attempt: 3, signal, from: 'x' })).toEqual({ attempt: 3, signal })
    expect(parseEnvelope({ attempt: 0, signal: {} })).toEqual({ attempt: 0, signal: {} })
  })

  it('accepts a restart request, which wins over a signal', () => {
    expect(parseEnvelope({ attempt: 2, restart: true })).toEqual({ attempt: 2, restart: true })
    expect(parseEnvelope({ attempt: 2, restart: true, signal: { type: 'offer' } })).toEqual({ attempt: 2, restart: true })
  })

  it.each<unknown>([
    null,
    undefined,
    'offer',
    7,
    [],
    [{ attempt: 1, signal: {} }],
    {},
    { signal: {} },
    { attempt: -1, signal: {} },
    { attempt: 1.5, signal: {} },
    { attempt: '1', signal: {} },
    { attempt: 2 ** 53, signal: {} },
    { attempt: 1 },
    { attempt: 1, signal: null },
    { attempt: 1, signal: 'v=0' },
    { attempt: 1, signal: [] },
    { attempt: 1, restart: 'true' },
    { attempt: 1, restart: 1 },
    { restart: true },
  ])('drops %j', (value) => {
    expect(parseEnvelope(value)).toBeNull()
  })
})

describe('cleanName', () => {
  it.each([
    ['Ana', 'Ana'],
    ['  Ana  ', 'Ana'],
    ['Ana\nMaria', 'Ana Maria'],
    ['Ana\r\n\tMaria', 'Ana   Maria'],
    ['\u0000Ana\u001f', 'Ana'],
    ['Ana\u007fB\u0085C\u009fD', 'Ana B C D'],
    ['Ana\u2028B\u2029C', 'Ana B C'],
    ['Zoë 🎉', 'Zoë 🎉'],
    ['', ''],
    [' \n\t ', ''],
    ['x'.repeat(100), 'x'.repeat(MAX_NAME_CHARS)],
  ])('cleans %j to %j', (input, output) => {
    expect(cleanName(input)).toBe(output)
  })

  it('is single-line and bounded for any input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (input) => {
        const name = cleanName(input)
        expect(name.length).toBeLessThanOrEqual(MAX_NAME_CHARS)
        expect(name).not.toMatch(CONTROL)
        expect(name.startsWith(' ')).toBe(false)
      }),
    )
  })

  it('is trimmed, and idempotent, even when the cut lands after a space', () => {
    const name = cleanName(`${'a'.repeat(MAX_NAME_CHARS - 1)} b`)
    expect(name).toBe(name.trim())
    expect(cleanName(name)).toBe(name)
  })
})

describe('cleanFileName', () => {
  const LONG = 'quarterly_report_final_v2_REALLY_FINAL_with_a_very_long_file_name.pdf'

  it.each([
    [LONG, LONG],
    [' a\nb.txt ', 'a b.txt'],
    ['invoice\u202Efdp.exe', 'invoicefdp.exe'],
    [`${'x'.repeat(300)}.tar.gz`, `${'x'.repeat(MAX_FILE_NAME_CHARS - 7)}.tar.gz`],
    [`${'😀'.repeat(200)}.pdf`, `${'😀'.repeat(125)}.pdf`],
    [`start${'x'.repeat(300)}.a name-like end`, `${'x'.repeat(MAX_FILE_NAME_CHARS - 16)}.a name-like end`],
    [`${'a'.repeat(100)} ${'y'.repeat(250)}.pdf`, `${'y'.repeat(250)}.pdf`],
    ['', 'file'],
    [' \u202e ', 'file'],
    ['\ud83d', 'file'],
  ])('cleans %j to %j', (input, output) => {
    expect(cleanFileName(input)).toBe(output)
  })

  it('is single-line, bounded by the wire, keeps a short extension, and idempotent for any input', () => {
    const extension = fc.stringMatching(/^\.[a-z0-9]{1,16}$/)
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400, size: 'max' }), extension, (input, ext) => {
        const name = cleanFileName(input + ext)
        expect(name.length).toBeLessThanOrEqual(MAX_FILE_NAME_CHARS)
        expect(name).not.toBe('')
        expect(name).not.toMatch(CONTROL)
        expect(name.endsWith(ext)).toBe(true)
        expect(cleanFileName(name)).toBe(name)
        expect(
          parsePeerMessage(JSON.stringify({ type: 'file', id: 'abcdefgh', name, size: 1, mime: 'a/b', sha256: '0'.repeat(64) }), 'p'),
        ).toMatchObject({ name })
      }),
    )
  })
})

describe('parseServerEvent', () => {
  const to = 'h3Kq9ZmX2aT0Lr8v1YcQe'
  const peer = 'p9Yt2LmQ0sXc7Vb1NaZ4k'

  it('parses a roster', () => {
    const peers = [{ id: peer }, { id: 'other', meta: 'enc:…' }]
    expect(parseServerEvent('roster', wire({ to, room: 'team', peers }))).toEqual({
      to,
      event: { type: 'roster', room: 'team', peers },
    })
    expect(parseServerEvent('roster', wire({ to, room: 'team', peers: [] }))).toEqual({
      to,
      event: { type: 'roster', room: 'team', peers: [] },
    })
  })

  it('parses peer-joined, peer-left and signal', () => {
    expect(parseServerEvent('peer-joined', wire({ to, peer: { id: peer, meta: 'm' } }))).toEqual({
      to,
      event: { type: 'peer-joined', peer: { id: peer, meta: 'm' } },
    })
    for (const reason of ['leave', 'timeout'] as const) {
      expect(parseServerEvent('peer-left', wire({ to, peer, reason }))).toEqual({
        to,
        event: { type: 'peer-left', peer, reason },
      })
    }
    const data = { attempt: 1, signal: { type: 'offer', sdp: 'v=0' } }
    expect(parseServerEvent('signal', wire({ to, from: peer, data }))).toEqual({
      to,
      event: { type: 'signal', from: peer, data },
    })
    // The server relays any JSON value unread; the mesh judges it.
    expect(parseServerEvent('signal', wire({ to, from: peer, data: null }))).toEqual({
      to,
      event: { type: 'signal', from: peer, data: null },
    })
  })

  it('parses reset, which concerns the whole session', () => {
    expect(parseServerEvent('reset', wire({ reason: 'gap' }))).toEqual({ reset: 'gap' })
    expect(parseServerEvent('reset', wire({ reason: 'unknown-session', to }))).toEqual({ reset: 'unknown-session' })
  })

  it.each<[string, string]>([
    ['roster', '{"to":'],
    ['roster', wire({ room: 'team', peers: [] })],
    ['roster', wire({ to: 7, room: 'team', peers: [] })],
    ['roster', wire({ to, peers: [] })],
    ['roster', wire({ to, room: 5, peers: [] })],
    ['roster', wire({ to, room: 'team' })],
    ['roster', wire({ to, room: 'team', peers: {} })],
    ['roster', wire({ to, room: 'team', peers: [peer] })],
    ['roster', wire({ to, room: 'team', peers: [{ id: 1 }] })],
    ['roster', wire({ to, room: 'team', peers: [{ id: peer, meta: 2 }] })],
    ['roster', wire({ to, room: 'team', peers: [{ id: peer }, null] })],
    ['roster', wire([{ to, room: 'team', peers: [] }])],
    ['peer-joined', wire({ to })],
    ['peer-joined', wire({ to, peer })],
    ['peer-joined', wire({ to, peer: { meta: 'm' } })],
    ['peer-joined', wire({ to, peer: [{ id: peer }] })],
    ['peer-joined', wire({ peer: { id: peer } })],
    ['peer-left', wire({ to, peer })],
    ['peer-left', wire({ to, peer, reason: 'kicked' })],
    ['peer-left', wire({ to, peer: { id: peer }, reason: 'leave' })],
    ['peer-left', wire({ peer, reason: 'leave' })],
    ['signal', wire({ to, from: peer })],
    ['signal', wire({ to, data: {} })],
    ['signal', wire({ to, from: 3, data: {} })],
    ['signal', wire({ from: peer, data: {} })],
    ['reset', wire({})],
    ['reset', wire({ reason: 'restart' })],
    ['reset', '"gap"'],
    ['reset', 'gap'],
    ['message', wire({ to, text: 'hi' })],
    ['', wire({ to })],
    ['roster', 'null'],
    ['signal', ''],
  ])('drops a %s event with data %s', (type, raw) => {
    expect(parseServerEvent(type, raw)).toBeNull()
  })

  it('never throws, whatever the event and data', () => {
    const types = fc.constantFrom('roster', 'peer-joined', 'peer-left', 'signal', 'reset', 'other')
    fc.assert(
      fc.property(types, fc.oneof(fc.string(), fc.json()), (type, raw) => {
        parseServerEvent(type, raw)
      }),
    )
  })
})

describe('names and text from peers', () => {
  it('accepts a name of 40 emoji (80 UTF-16 units) and keeps it whole', () => {
    const name = '😀'.repeat(MAX_NAME_CHARS)
    const parsed = parsePeerMessage(JSON.stringify({ type: 'name', name }), 'p')
    expect(parsed).toEqual({ type: 'name', name })
  })

  it('drops control characters from chat text but keeps newlines and tabs', () => {
    const raw = JSON.stringify({ type: 'chat', id: 'i', from: 'p', name: 'n', text: 'a\u0000b\u0007c\nd\te\u009b', time: 1, seq: 1 })
    expect(parsePeerMessage(raw, 'p')).toMatchObject({ text: 'abc\nd\te' })
    const only = JSON.stringify({ type: 'chat', id: 'i', from: 'p', name: 'n', text: '\u0000\u0001', time: 1, seq: 1 })
    expect(parsePeerMessage(only, 'p')).toBeNull()
  })
})
