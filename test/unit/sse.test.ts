import fc from 'fast-check'
import { describe, expect, it, vi } from 'vitest'
import { formatEvent, HEARTBEAT_FRAME, spreadEvery } from '../../signaling/sse'

/** What a spec-following EventSource makes of one frame (WHATWG HTML, "Interpreting an event stream"). */
function interpret(frame: string) {
  const result: { id?: string; event?: string; data: string[] } = { data: [] }
  for (const line of frame.split(/\r\n|\r|\n/)) {
    if (line === '' || line.startsWith(':')) continue
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'data') result.data.push(value)
    else if (field === 'event') result.event = value
    else if (field === 'id') result.id = value
  }
  return { id: result.id, event: result.event, data: result.data.join('\n') }
}

describe('formatEvent', () => {
  it('writes id, event and data fields and ends the frame with a blank line', () => {
    expect(formatEvent('roster', '{"to":"p1","peers":[]}', 'ab_-cd-7')).toBe(
      'id: ab_-cd-7\nevent: roster\ndata: {"to":"p1","peers":[]}\n\n',
    )
  })

  it('leaves the id field out when no id is given', () => {
    expect(formatEvent('reset', '{"reason":"gap"}')).toBe('event: reset\ndata: {"reason":"gap"}\n\n')
  })

  it('writes an empty id field for an empty id (which resets the client last event id)', () => {
    expect(formatEvent('x', 'y', '')).toBe('id: \nevent: x\ndata: y\n\n')
  })

  it('writes an empty data line for empty data, so the event is still dispatched', () => {
    expect(formatEvent('ping', '')).toBe('event: ping\ndata: \n\n')
  })

  it('splits multi-line data into one data field per line, on LF, CR and CRLF alike', () => {
    expect(formatEvent('e', 'a\nb')).toBe('event: e\ndata: a\ndata: b\n\n')
    expect(formatEvent('e', 'a\rb')).toBe('event: e\ndata: a\ndata: b\n\n')
    // CRLF is one line break, not two.
    expect(formatEvent('e', 'a\r\nb')).toBe('event: e\ndata: a\ndata: b\n\n')
    expect(formatEvent('e', 'a\n\rb')).toBe('event: e\ndata: a\ndata: \ndata: b\n\n')
    expect(formatEvent('e', 'one\r\ntwo\rthree\nfour', '9')).toBe('id: 9\nevent: e\ndata: one\ndata: two\ndata: three\ndata: four\n\n')
    expect(formatEvent('e', 'trailing\n')).toBe('event: e\ndata: trailing\ndata: \n\n')
    expect(formatEvent('e', '\r\n\r\n')).toBe('event: e\ndata: \ndata: \ndata: \n\n')
  })

  it('keeps data that looks like SSE syntax inside the data field', () => {
    expect(formatEvent('e', 'id: 5\nevent: evil\n: comment\n\ndata: x')).toBe(
      'event: e\ndata: id: 5\ndata: event: evil\ndata: : comment\ndata: \ndata: data: x\n\n',
    )
  })

  it.each([
    ['LF in event', 'bad\nevent', undefined],
    ['CR in event', 'bad\revent', undefined],
    ['CRLF in event', 'bad\r\n', undefined],
    ['a lone LF as event', '\n', undefined],
    ['LF in id', 'ok', '1\n2'],
    ['CR in id', 'ok', '1\r2'],
    ['CRLF in id', 'ok', '\r\nevent: evil'],
  ])('throws on %s', (_what, event, id) => {
    expect(() => formatEvent(event, 'data', id)).toThrow(/CR or LF/)
  })

  it('round-trips through a spec-following parser: data with any line breaks, event and id verbatim', () => {
    const text = (units: string[]) => fc.string({ unit: fc.constantFrom(...units), maxLength: 40 })
    const fieldText = text(['a', 'Z', '0', ' ', ':', '-', 'é', '😀', 'data: ', '\t', '\u2028'])
    const dataText = text(['a', ' ', ':', '\r', '\n', '\r\n', 'é', '😀', 'data: ', 'id: ', '\u2028', '{"x":1}'])
    fc.assert(
      fc.property(
        fieldText.filter((e) => e !== ''),
        dataText,
        fc.option(fieldText, { nil: undefined }),
        (event, data, id) => {
          const frame = formatEvent(event, data, id)
          expect(frame.endsWith('\n\n')).toBe(true)
          // Exactly one blank line: the frame is one event however many lines the data has.
          expect(frame.slice(0, -2)).not.toMatch(/\n\n|\r/)
          expect(interpret(frame)).toEqual({ id, event, data: data.replace(/\r\n|\r/g, '\n') })
        },
      ),
    )
  })
})

describe('HEARTBEAT_FRAME', () => {
  it('is a bare comment line that dispatches no event', () => {
    expect(HEARTBEAT_FRAME).toBe(':\n\n')
    expect(interpret(HEARTBEAT_FRAME)).toEqual({ id: undefined, event: undefined, data: '' })
  })
})

describe('spreadEvery', () => {
  it('reaches an item that falls due within half a period: heartbeats at most 1.5 periods apart', () => {
    vi.useFakeTimers()
    try {
      const PERIOD_MS = 1_000
      // 1,001 streams (a slice per tick that does not divide evenly) whose last writes are spread over a period, as after a burst of joins.
      const items = new Map(Array.from({ length: 1_001 }, (_, i) => [String(i), { last: i - PERIOD_MS, gaps: [] as number[] }]))
      const timer = spreadEvery(
        PERIOD_MS,
        () => items,
        (item) => {
          const now = Date.now()
          if (now - item.last < PERIOD_MS) return
          item.gaps.push(now - item.last)
          item.last = now
        },
      )
      vi.advanceTimersByTime(20 * PERIOD_MS)
      clearInterval(timer)
      const gaps = [...items.values()].flatMap((item) => item.gaps.slice(1))
      expect(gaps.length).toBeGreaterThan(15_000)
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(PERIOD_MS)
      expect(Math.max(...gaps)).toBeLessThanOrEqual(1.5 * PERIOD_MS)
    } finally {
      vi.useRealTimers()
    }
  })
})
