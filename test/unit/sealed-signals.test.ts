import { afterEach, describe, expect, it, vi } from 'vitest'
import { createSealedSignals } from '../../client/lib/sealed-signals'
import type { Sealer, Signaling } from '../../client/lib/types'
import { clearSealer } from './fakes'

/** Sealed signals over `sealSignal`, with what they sent and the errors they reported. */
function outgoing(sealSignal: Sealer['sealSignal']) {
  const sent: unknown[] = []
  const errors: Error[] = []
  const signaling = {
    signal: (_from: string, _to: string, data: unknown) => sent.push(data),
    flush: (from: string) => sent.push(`flush ${from}`),
  } as unknown as Signaling
  const sealer: Sealer = { ...clearSealer(), sealSignal }
  const onError = (e: Error) => void errors.push(e)
  const self = { id: 'me', name: 'Me' }
  const sealed = createSealedSignals({ self, sealer, signaling, closed: () => false, onError })
  return { sealed, sent, errors, self }
}

describe('sealed signals on the way out', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('seals a burst at once and sends it in the order it was given, however the sealing finishes', async () => {
    const finish: Array<() => void> = []
    const { sealed, sent, errors } = outgoing(
      (_self, to) => new Promise<string>((resolve) => finish.push(() => resolve(`sealed for ${to}`))),
    )
    // A join's offers to everyone are sealed together, not one WebCrypto trip after another.
    sealed.making()
    for (const to of ['ana', 'ben', 'cai']) sealed.send(to, { attempt: 0, signal: { type: 'offer', sdp: '' } })
    expect(finish).toHaveLength(3)
    for (const done of [...finish].reverse()) done()
    await vi.waitFor(() => expect(sent).toEqual(['sealed for ana', 'sealed for ben', 'sealed for cai']))
    expect(errors).toEqual([])
  })

  it('reports a signal that cannot be sealed, and still sends the ones after it', async () => {
    let calls = 0
    const { sealed, sent, errors } = outgoing(async (_self, to) => {
      if (calls++ === 0) throw new Error('no key')
      return `sealed for ${to}`
    })
    sealed.send('ana', { attempt: 0, signal: { type: 'candidate' } })
    sealed.send('ben', { attempt: 0, signal: { type: 'candidate' } })
    await vi.waitFor(() => expect(sent).toContain('sealed for ben'))
    expect(sent.filter((s) => s !== 'flush me')).toEqual(['sealed for ben'])
    expect(errors.map((e) => e.message)).toEqual(['no key'])
  })

  it('flushes a burst given while no connection is being made (late candidates) a few ms after its first, and not while one is', async () => {
    vi.useFakeTimers()
    const { sealed, sent } = outgoing(async (_self, to) => `sealed for ${to}`)
    const candidate = { attempt: 0, signal: { candidate: { candidate: 'srflx' } } }
    sealed.send('ana', candidate)
    await vi.advanceTimersByTimeAsync(3)
    sealed.send('ben', candidate)
    await vi.advanceTimersByTimeAsync(4)
    expect(sent).toEqual(['sealed for ana', 'sealed for ben'])
    await vi.advanceTimersByTimeAsync(1)
    // One POST for both: the first's wait covers the second, and one flush for the burst.
    expect(sent).toEqual(['sealed for ana', 'sealed for ben', 'flush me'])
    await vi.advanceTimersByTimeAsync(10)
    expect(sent).toEqual(['sealed for ana', 'sealed for ben', 'flush me'])
    // A connection being made when the wait ends: what is queued goes with its candidates, at its own flush.
    sealed.send('cai', candidate)
    const done = sealed.making()
    sealed.send('cai', { attempt: 0, signal: { type: 'answer', sdp: '' } })
    await vi.advanceTimersByTimeAsync(20)
    expect(sent.slice(3)).toEqual(['sealed for cai', 'sealed for cai'])
    done()
    await vi.advanceTimersByTimeAsync(0)
    expect(sent.at(-1)).toBe('flush me')
  })

  it('flushes no burst after the room closed it', async () => {
    vi.useFakeTimers()
    const { sealed, sent } = outgoing(async (_self, to) => `sealed for ${to}`)
    sealed.send('ana', { attempt: 0, signal: { candidate: { candidate: 'srflx' } } })
    await vi.advanceTimersByTimeAsync(1)
    sealed.close()
    await vi.advanceTimersByTimeAsync(20)
    expect(sent).toEqual(['sealed for ana'])
  })

  it('flushes once every connection being made has its host candidates out (or closed), after the signals given before', async () => {
    const finish: Array<() => void> = []
    const { sealed, sent } = outgoing((_self, to) => new Promise<string>((resolve) => finish.push(() => resolve(`sealed for ${to}`))))
    const [ana, ben, cai] = [sealed.making(), sealed.making(), sealed.making()]
    sealed.send('ana', { attempt: 0, signal: { type: 'offer', sdp: '' } })
    sealed.send('ana', { attempt: 0, signal: { type: 'candidate' } })
    ana()
    // Cai's connection closed before it gathered anything: it holds nothing back any more.
    cai()
    sealed.send('ben', { attempt: 0, signal: { type: 'offer', sdp: '' } })
    ana()
    expect(finish).toHaveLength(3)
    ben()
    ben()
    for (const done of finish) done()
    await vi.waitFor(() => expect(sent).toEqual(['sealed for ana', 'sealed for ana', 'sealed for ben', 'flush me']))
    // The next connection made and done flushes again.
    sealed.making()()
    await vi.waitFor(() => expect(sent.at(-1)).toBe('flush me'))
    expect(sent.filter((s) => s === 'flush me')).toHaveLength(2)
  })

  it('flushes for the peer id it had when the connection was done, not after a re-join gave it another', async () => {
    const finish: Array<() => void> = []
    const { sealed, sent, self } = outgoing((_self, to) => new Promise<string>((resolve) => finish.push(() => resolve(`sealed for ${to}`))))
    const done = sealed.making()
    sealed.send('ana', { attempt: 0, signal: { type: 'candidate' } })
    done()
    self.id = 'me again'
    for (const resolve of finish) resolve()
    sealed.making()()
    await vi.waitFor(() => expect(sent).toEqual(['flush me again']))
  })
})
