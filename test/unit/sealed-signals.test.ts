import { describe, expect, it, vi } from 'vitest'
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
  const sealed = createSealedSignals({ self: { id: 'me', name: 'Me' }, sealer, signaling, closed: () => false, onError })
  return { sealed, sent, errors }
}

describe('sealed signals on the way out', () => {
  it('seals a burst at once and sends it in the order it was given, however the sealing finishes', async () => {
    const finish: Array<() => void> = []
    const { sealed, sent, errors } = outgoing(
      (_self, to) => new Promise<string>((resolve) => finish.push(() => resolve(`sealed for ${to}`))),
    )
    for (const to of ['ana', 'ben', 'cai']) sealed.send(to, { attempt: 0, signal: { type: 'candidate' } })
    // A join's offers to everyone are sealed together, not one WebCrypto trip after another.
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
    await vi.waitFor(() => expect(sent).toEqual(['sealed for ben']))
    expect(errors.map((e) => e.message)).toEqual(['no key'])
  })

  it('lets an offer leave at once, and an answer once its candidates are all out', async () => {
    const finish: Array<() => void> = []
    const { sealed, sent } = outgoing((_self, to) => new Promise<string>((resolve) => finish.push(() => resolve(`sealed for ${to}`))))
    sealed.send('ana', { attempt: 0, signal: { type: 'offer', sdp: '' } })
    sealed.send('ben', { attempt: 0, signal: { type: 'answer', sdp: '' } })
    sealed.send('ben', { attempt: 0, signal: { type: 'candidate' } })
    sealed.gathered()
    await Promise.resolve()
    expect(sent).toEqual([])
    for (const done of finish) done()
    await vi.waitFor(() => expect(sent).toEqual(['sealed for ana', 'flush me', 'sealed for ben', 'sealed for ben', 'flush me']))
  })
})
