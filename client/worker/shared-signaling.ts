import { nanoid } from 'nanoid'
import type { IceResponse } from '../../signaling/protocol'
import { createEmitter, type Emitter } from '../lib/emitter'
import { mark } from '../lib/marks'
import { createSignalingClient } from '../lib/signaling/client'
import { leaveByBeacon, newNonce, SignalingError } from '../lib/signaling/http'
import type { Membership, MembershipHandlers, Signaling, SignalingEvents, SignalingStatus } from '../lib/types'
import { parseWorkerMessage, type TabMessage, type WorkerMessage } from './protocol'

const WORKER_ANSWER_MS = 3_000

interface PendingJoin {
  room: string
  meta: string | undefined
  verifier: string | undefined
  /**
   * The nonce of its attempt in flight (the first chosen here, a retry's told by the worker), until the
   * worker says it joined; then of its latest re-claim (after a `reset`) until the worker says it was
   * answered. The tab cancels that attempt by beacon if it goes first.
   */
  nonce?: string | undefined
  handlers: MembershipHandlers
  resolve: (m: Membership) => void
  reject: (e: Error) => void
}

interface Pending {
  joins: Map<number, PendingJoin>
  iceRequests: Map<number, { resolve: (ice: IceResponse) => void; reject: (err: Error) => void }>
}

/**
 * Held until this tab is gone; the worker then cleans up after it (see worker.ts). Nothing is sent
 * before the lock is ours, or the worker could be granted it first and take the tab for dead.
 */
function holdTabLock() {
  const name = `parley-tab-${nanoid()}`
  let release: () => void = () => {}
  let holding = false
  const held = new Promise<void>((granted) => {
    void navigator.locks.request(name, () => {
      holding = true
      granted()
      return new Promise<void>((resolve) => (release = resolve))
    })
  })
  return {
    name,
    // Synchronous once the lock is held: a leave sent from pagehide must not wait for a microtask the
    // frozen (back/forward-cached) page may never run.
    whenHeld: (task: () => void) => (holding ? task() : void held.then(task)),
    release: () => release(),
  }
}

/** What the worker says to this tab, delivered to the join or ICE request it answers. */
function answer(message: WorkerMessage, pending: Pending, events: Emitter<SignalingEvents>, setStatus: (s: SignalingStatus) => void) {
  const { joins, iceRequests } = pending
  switch (message.op) {
    case 'status':
      return setStatus(message.status)
    case 'error':
      return events.emit('error', new SignalingError('WORKER', message.message))
    case 'attempt': {
      const join = joins.get(message.id)
      if (join) join.nonce = message.nonce
      return
    }
    case 'settled': {
      const join = joins.get(message.id)
      if (join) join.nonce = undefined
      return
    }
    case 'joined': {
      const join = joins.get(message.id)
      if (join) join.nonce = undefined
      join?.handlers.joined(message.membership)
      return join?.resolve(message.membership)
    }
    case 'join-failed': {
      const join = joins.get(message.id)
      joins.delete(message.id)
      return join?.reject(new SignalingError(message.code, message.message, message.status))
    }
    case 'event':
      return joins.get(message.id)?.handlers.event(message.event)
    case 'lost': {
      // Its room joins afresh, under a new id: this one is done with (and not lost again on a fallback).
      const join = joins.get(message.id)
      joins.delete(message.id)
      return join?.handlers.lost()
    }
    case 'unknown':
      return joins.get(message.id)?.handlers.unknown(message.peer)
    case 'ice': {
      const request = iceRequests.get(message.id)
      iceRequests.delete(message.id)
      return message.ice ? request?.resolve(message.ice) : request?.reject(new SignalingError('ICE', 'no fresh ICE servers'))
    }
  }
}

/**
 * Calls `died` once the worker has died under this tab (its renderer crashed, seen in Chromium): the worker
 * holds this lock from before its answer to the tab's hello (its first status to it) until it dies.
 */
const whenWorkerDies = (tabLock: string, died: () => unknown) => navigator.locks.request(`${tabLock} worker`, died)

/** The worker did not answer, or died: `own` signals for this tab, taking over what waited for the worker. */
function fallBack(
  own: Signaling,
  server: string,
  pending: Pending,
  tracked: (handlers: MembershipHandlers) => MembershipHandlers,
  onStatus: (status: SignalingStatus) => void,
  onError: (err: Error) => void,
): Signaling {
  own.on('status', onStatus)
  own.on('error', onError)
  // It says only changes: until then, its status (not the dead worker's) is this tab's.
  onStatus(own.status)
  for (const [id, join] of pending.joins) {
    pending.joins.delete(id)
    // The worker may yet send the join it was asked for: cancelled, it seats nobody; ours carries a fresh nonce.
    if (join.nonce) leaveByBeacon(server, { nonce: join.nonce })
    void own.join(join.room, join.meta, tracked(join.handlers), { verifier: join.verifier }).then(join.resolve, join.reject)
  }
  for (const [id, request] of pending.iceRequests) {
    pending.iceRequests.delete(id)
    request.reject(new SignalingError('WORKER', 'the shared signaling worker did not answer'))
  }
  return own
}

/**
 * A Signaling that lives in a SharedWorker, shared with the browser's other tabs (see worker.ts).
 * Null where SharedWorker or Web Locks are missing (e.g. Chrome on Android): use createSignalingClient.
 */
export function createSharedSignaling(workerUrl: string, server = '/v1'): Signaling | null {
  if (typeof SharedWorker === 'undefined' || !navigator.locks) return null
  let worker: SharedWorker
  try {
    // A module worker: it imports the signaling client from the chunk the page already loaded.
    worker = new SharedWorker(workerUrl, { name: `parley ${server}`, type: 'module' })
  } catch {
    return null
  }
  const port = worker.port
  const events = createEmitter<SignalingEvents>()
  const pending: Pending = { joins: new Map(), iceRequests: new Map() }
  const peers = new Map<string, { id: number; token: string }>()
  const lock = holdTabLock()
  let status: SignalingStatus = 'connecting'
  let nextId = 1
  let closed = false

  const send = (message: TabMessage) => lock.whenHeld(() => port.postMessage(message))
  const setStatus = (next: SignalingStatus) => {
    if (next === status) return
    status = next
    events.emit('status', next)
  }

  // The worker answers every hello. Silence means it is wedged (seen in Chromium when a tab connects
  // while the worker is shutting down): this tab then signals on its own, as if it had no SharedWorker.
  let answered = false
  let watching: Promise<unknown> | undefined
  let fallback: Signaling | undefined
  const ownPeers = new Set<string>()
  const silence = setTimeout(() => answered || closed || useFallback(), WORKER_ANSWER_MS)

  function useFallback(own: Signaling = createSignalingClient(server)) {
    // What was joined through the worker is given up (its seat by beacon), and its room joins afresh.
    const lost = [...peers].map(([peer, { id }]) => {
      const join = pending.joins.get(id)
      leave(peer)
      return join
    })
    fallback = fallBack(own, server, pending, tracked, setStatus, (err) => events.emit('error', err))
    port.close()
    for (const join of lost) join?.handlers.lost()
  }

  function leave(peer: string) {
    if (ownPeers.delete(peer)) return fallback!.leave(peer)
    const member = peers.get(peer)
    if (!member) return
    peers.delete(peer)
    const nonce = pending.joins.get(member.id)?.nonce
    pending.joins.delete(member.id)
    // The worker may be gone before its own request could leave (it dies with its last tab), so the
    // tab says goodbye itself, by beacon, which outlives the page; the worker then just forgets. The
    // nonce cancels a re-claim the worker may have in flight, which would seat the peer again.
    leaveByBeacon(server, { token: member.token, peer, nonce })
    send({ op: 'leave', peer })
  }

  // A new worker, shared with the tabs the dead one left (one stream still), or this tab's own connection.
  const replaceWorker = () => closed || useFallback(createSharedSignaling(workerUrl, server) ?? undefined)

  const tracked = (handlers: MembershipHandlers): MembershipHandlers => ({
    ...handlers,
    joined(membership) {
      ownPeers.add(membership.peer)
      handlers.joined(membership)
    },
  })

  port.onmessage = (event: MessageEvent<unknown>) => {
    mark('worker-ready')
    answered = true
    clearTimeout(silence)
    const message = parseWorkerMessage(event.data)
    if (message?.op === 'status' && !watching) watching = whenWorkerDies(lock.name, replaceWorker)
    if (message) answer(message, pending, events, setStatus)
  }
  port.start()
  send({ op: 'hello', server, lock: lock.name })
  const onOnline = () => send({ op: 'network', online: true })
  const onOffline = () => send({ op: 'network', online: false })
  addEventListener('online', onOnline)
  addEventListener('offline', onOffline)

  return {
    on: events.on,
    off: events.off,
    get status() {
      return status
    },
    join(room, meta, handlers, { verifier } = {}) {
      if (fallback) return fallback.join(room, meta, tracked(handlers), { verifier })
      const id = nextId++
      return new Promise<Membership>((resolve, reject) => {
        const joined = (membership: Membership) => {
          peers.set(membership.peer, { id, token: membership.token })
          handlers.joined(membership)
        }
        const nonce = newNonce()
        pending.joins.set(id, { room, meta, verifier, nonce, handlers: { ...handlers, joined }, resolve, reject })
        send({ op: 'join', id, room, meta, nonce, ...(verifier === undefined ? {} : { verifier }) })
      })
    },
    signal(from, to, data) {
      if (ownPeers.has(from)) return fallback!.signal(from, to, data)
      if (!closed) send({ op: 'signal', from, to, data })
    },
    flush(from) {
      if (ownPeers.has(from)) return fallback!.flush?.(from)
      if (!closed) send({ op: 'flush', from })
    },
    refreshIce(peer) {
      if (ownPeers.has(peer)) return fallback!.refreshIce(peer)
      const id = nextId++
      return new Promise<IceResponse>((resolve, reject) => {
        pending.iceRequests.set(id, { resolve, reject })
        send({ op: 'ice', id, peer })
      })
    },
    leave,
    close() {
      if (closed) return
      closed = true
      clearTimeout(silence)
      fallback?.close()
      removeEventListener('online', onOnline)
      removeEventListener('offline', onOffline)
      // A join (or re-claim) the worker has not answered yet is cancelled by beacon, which outlives both
      // this page and the worker (it dies with its last tab, maybe before its join lands).
      for (const { nonce } of pending.joins.values()) if (nonce) leaveByBeacon(server, { nonce })
      send({ op: 'bye' })
      lock.whenHeld(() => {
        port.close()
        lock.release()
      })
      events.clear()
    },
  }
}
