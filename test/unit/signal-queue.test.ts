import { afterEach, beforeEach, expect, it, vi } from 'vitest'
import { createSignalQueue, SIGNAL_GATHER_MS } from '../../client/lib/signaling/signal-queue'

// A pair's description and its host candidates leave in one POST: at once when the page says the
// host candidates are out, and otherwise when the gathering time is up.
let posts: unknown[]
const queue = () =>
  createSignalQueue({
    post: async (_path, body) => {
      posts.push(body)
      return new Response(null, { status: 204 })
    },
    isMember: () => true,
    unknown: () => {},
    closed: () => false,
  })
const offerAndCandidates = (signals: ReturnType<typeof queue>) => {
  signals.push('me', 'them', { sealed: 'offer' })
  signals.push('me', 'them', { sealed: 'candidate 1' })
  signals.push('me', 'them', { sealed: 'candidate 2' })
}
const batchOfThree = {
  peer: 'me',
  batch: ['offer', 'candidate 1', 'candidate 2'].map((sealed) => ({ to: 'them', data: { sealed } })),
}

beforeEach(() => {
  posts = []
  vi.useFakeTimers()
})
afterEach(() => vi.useRealTimers())

it('sends what a sender gathered in one POST as soon as it says its host candidates are out', () => {
  const signals = queue()
  offerAndCandidates(signals)
  signals.flush('someone else')
  expect(posts).toEqual([])
  signals.flush('me')
  expect(posts).toEqual([batchOfThree])
  // Nothing is sent twice when the gathering time runs out.
  vi.advanceTimersByTime(SIGNAL_GATHER_MS)
  expect(posts).toHaveLength(1)
})

it('sends what a sender gathered once the gathering time is up, without a flush', () => {
  const signals = queue()
  offerAndCandidates(signals)
  vi.advanceTimersByTime(SIGNAL_GATHER_MS - 1)
  expect(posts).toEqual([])
  vi.advanceTimersByTime(1)
  expect(posts).toEqual([batchOfThree])
})

it('sends nothing that was cleared while it gathered', () => {
  const signals = queue()
  offerAndCandidates(signals)
  signals.clear()
  expect(vi.getTimerCount()).toBe(0)
  signals.flush('me')
  vi.advanceTimersByTime(SIGNAL_GATHER_MS)
  expect(posts).toEqual([])
})

it('sends what is pushed while a flushed POST is in flight in the next one, in order, and ignores a flush meanwhile', async () => {
  let answer = () => {}
  const signals = createSignalQueue({
    post: (_path, body) => {
      posts.push(body)
      return new Promise<Response>((resolve) => (answer = () => resolve(new Response(null, { status: 204 }))))
    },
    isMember: () => true,
    unknown: () => {},
    closed: () => false,
  })
  signals.push('me', 'them', { sealed: 'offer' })
  signals.flush('me')
  signals.push('me', 'them', { sealed: 'candidate 1' })
  signals.push('me', 'them', { sealed: 'candidate 2' })
  signals.flush('me')
  expect(posts).toEqual([{ peer: 'me', to: 'them', data: { sealed: 'offer' } }])
  answer()
  await vi.waitFor(() => expect(posts).toHaveLength(2))
  expect(posts[1]).toEqual({
    peer: 'me',
    batch: ['candidate 1', 'candidate 2'].map((sealed) => ({ to: 'them', data: { sealed } })),
  })
})
