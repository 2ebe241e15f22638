import { describe, expect, it, vi } from 'vitest'
import { backoffMs, createSerialQueue, isColor, isObject } from '../../client/lib/util'

describe('client util', () => {
  it('runs queued tasks one at a time, in order, and a failure rejects only its own task', async () => {
    const queue = createSerialQueue()
    const order: string[] = []
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const first = queue(async () => {
      await gate
      order.push('first')
      return 1
    })
    const failing = queue(() => {
      order.push('failing')
      throw new Error('boom')
    })
    const third = queue(() => {
      order.push('third')
      return 3
    })
    release()
    await expect(first).resolves.toBe(1)
    await expect(failing).rejects.toThrow('boom')
    await expect(third).resolves.toBe(3)
    expect(order).toEqual(['first', 'failing', 'third'])
  })

  it('backs off exponentially with jitter, within the cap', () => {
    vi.spyOn(Math, 'random').mockReturnValueOnce(0).mockReturnValueOnce(0.999999).mockReturnValueOnce(0.999999)
    expect(backoffMs(0, 250, 15_000)).toBe(125)
    expect(backoffMs(3, 250, 15_000)).toBeCloseTo(2_000, 0)
    expect(backoffMs(20, 250, 15_000)).toBeCloseTo(15_000, 0)
    vi.restoreAllMocks()
  })

  it('knows a colour and a plain object when it sees one', () => {
    expect(['#3b5bdb', '#FFFFFF'].every(isColor)).toBe(true)
    expect(['3b5bdb', '#3b5bd', '#3b5bdbz', 'red', undefined, 7].some(isColor)).toBe(false)
    expect(isObject({})).toBe(true)
    expect([null, [], 'x', 1].some(isObject)).toBe(false)
  })
})
