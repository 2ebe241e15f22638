import { describe, expect, it } from 'vitest'
import { mark, whenMarked } from '../../client/lib/marks'

// Marks are set once per page; each case here uses a step no other case marks.
describe('join path marks', () => {
  it('resolves whoever waits for a step when it is marked, and at once after it was', async () => {
    const order: string[] = []
    const first = whenMarked('join-sent').then(() => order.push('first'))
    const second = whenMarked('join-sent').then(() => order.push('second'))
    await Promise.resolve()
    expect(order).toEqual([])
    mark('join-sent')
    await Promise.all([first, second])
    expect(order).toEqual(['first', 'second'])
    await whenMarked('join-sent')
    expect(performance.getEntriesByName('parley:join-sent')).toHaveLength(1)
  })

  it('leaves a wait for another step pending', async () => {
    let done = false
    void whenMarked('history-merged').then(() => (done = true))
    mark('stream-open')
    await Promise.resolve()
    expect(done).toBe(false)
  })
})
