import { describe, expect, it, vi } from 'vitest'
import { createSealedSignals } from '../../client/lib/sealed-signals'
import type { PeerLike, Sealer, Signaling } from '../../client/lib/types'
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

/** A connection as sealed signals watch it: its own 'signal' and 'close' events, fired by hand. */
function fakePeer() {
  const handlers = new Map<string, Array<(arg?: unknown) => void>>()
  const peer = {
    signal() {},
    send() {},
    destroy() {},
    on(event: string, handler: (arg?: unknown) => void) {
      handlers.set(event, [...(handlers.get(event) ?? []), handler])
      return peer
    },
    emit: (event: string, arg?: unknown) => {
      for (const handler of handlers.get(event) ?? []) handler(arg)
    },
  }
  return peer as typeof peer & PeerLike
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

  it('holds the offers of a join until every connection being made has its own out, then lets them go together', async () => {
    const { sealed, sent } = outgoing(async (_self, to) => `sealed for ${to}`)
    const [ana, ben, cai] = [fakePeer(), fakePeer(), fakePeer()]
    for (const peer of [ana, ben, cai]) sealed.track(peer)
    const offer = (peer: ReturnType<typeof fakePeer>, to: string) => {
      peer.emit('signal', { type: 'offer', sdp: '' })
      sealed.send(to, { attempt: 0, signal: { type: 'offer', sdp: '' } })
    }
    offer(ana, 'ana')
    offer(ben, 'ben')
    // Cai's connection closed before its offer: it holds nothing back any more.
    cai.emit('close')
    sealed.gathered()
    await vi.waitFor(() => expect(sent).toEqual(['sealed for ana', 'sealed for ben', 'flush me', 'flush me']))
    // A candidate is not a description: it neither ends a connection's preparing nor starts a flush.
    const dan = fakePeer()
    sealed.track(dan)
    dan.emit('signal', { type: 'candidate' })
    sealed.gathered()
    sealed.send('ana', { attempt: 0, signal: { type: 'offer', sdp: '' } })
    await vi.waitFor(() => expect(sent.at(-1)).toBe('sealed for ana'))
    expect(sent.filter((s) => s === 'flush me')).toHaveLength(2)
  })

  it('flushes for the peer id it had when asked, and not after a re-join gave it another', async () => {
    const finish: Array<() => void> = []
    const { sealed, sent, self } = outgoing((_self, to) => new Promise<string>((resolve) => finish.push(() => resolve(`sealed for ${to}`))))
    sealed.send('ana', { attempt: 0, signal: { type: 'candidate' } })
    sealed.gathered()
    self.id = 'me again'
    for (const done of finish) done()
    await vi.waitFor(() => expect(finish).toHaveLength(1))
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(sent).toEqual([])
  })
})
