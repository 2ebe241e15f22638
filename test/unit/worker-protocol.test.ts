import { describe, expect, it } from 'vitest'
import { parseTabMessage, parseWorkerMessage, type WorkerMessage } from '../../client/worker/protocol'

const membership = { peer: 'p1', peers: [{ id: 'p2', meta: 'm' }], iceServers: [{ urls: 'stun:x' }], token: 't', iceServersTtlS: 60 }

describe('parseWorkerMessage (the worker to its tab)', () => {
  it('passes every message the worker sends as it is', () => {
    const messages: WorkerMessage[] = [
      { op: 'status', status: 'online' },
      { op: 'error', message: 'bad' },
      { op: 'attempt', id: 1, nonce: 'n'.repeat(22) },
      { op: 'joined', id: 1, membership },
      { op: 'join-failed', id: 1, code: 'ROOM_FULL', message: 'full', status: 409 },
      { op: 'event', id: 1, event: { type: 'roster', room: 'r', peers: [{ id: 'p2' }] } },
      { op: 'event', id: 1, event: { type: 'peer-left', peer: 'p2', reason: 'timeout' } },
      { op: 'event', id: 1, event: { type: 'signal', from: 'p2', data: { sealed: 'x' } } },
      { op: 'lost', id: 1 },
      { op: 'settled', id: 1 },
      { op: 'unknown', id: 1, peer: 'p2' },
      { op: 'ice', id: 2, ice: { iceServers: [], iceServersTtlS: 60 } },
      { op: 'ice', id: 2, ice: null },
    ]
    for (const message of messages) expect(parseWorkerMessage(structuredClone(message))).toEqual(message)
  })

  it('drops shapes the worker never sends', () => {
    for (const junk of [
      null,
      'joined',
      [],
      { op: 'nope', id: 1 },
      { op: 'status', status: 'sleepy' },
      { op: 'error' },
      { op: 'attempt', id: '1', nonce: 'n' },
      { op: 'attempt', id: 1, nonce: 7 },
      { op: 'attempt', id: 1 },
      { op: 'joined', id: 1, membership: null },
      { op: 'joined', id: 1, membership: { ...membership, token: undefined } },
      { op: 'joined', id: 1, membership: { ...membership, peers: 'p2' } },
      { op: 'joined', id: 1, membership: { ...membership, peers: [{ id: 'p2' }, { id: 3 }] } },
      { op: 'joined', id: 1, membership: { ...membership, peers: [null] } },
      { op: 'join-failed', id: 1, code: 'X', message: 'x' },
      { op: 'event', id: 1, event: { type: 'roster', room: 'r', peers: [{ id: 2 }] } },
      { op: 'event', id: 1, event: { type: 'peer-left', peer: 'p2', reason: 'gone' } },
      { op: 'event', id: 1, event: 'peer-left' },
      { op: 'lost' },
      { op: 'settled', id: '1' },
      { op: 'unknown', id: 1 },
      { op: 'ice', id: 2, ice: { iceServers: 'stun:x' } },
      { op: 'ice', id: 2 },
    ]) {
      expect(parseWorkerMessage(junk), JSON.stringify(junk)).toBeNull()
    }
  })
})

describe('parseTabMessage (a tab to the worker)', () => {
  it('passes a flush of one sender and drops one without it', () => {
    expect(parseTabMessage(structuredClone({ op: 'flush', from: 'p1' }))).toEqual({ op: 'flush', from: 'p1' })
    for (const junk of [{ op: 'flush' }, { op: 'flush', from: 7 }]) expect(parseTabMessage(junk), JSON.stringify(junk)).toBeNull()
  })
})
