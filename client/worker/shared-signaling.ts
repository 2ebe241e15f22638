import { nanoid } from 'nanoid'
import type { IceResponse } from '../../signaling/protocol'
import { createEmitter } from '../lib/emitter'
import { createSignalingClient, type SignalingClient } from '../lib/signaling/client'
import { leaveByBeacon, SignalingError } from '../lib/signaling/http'
import type { Membership, MembershipHandlers, Signaling, SignalingEvents, SignalingStatus } from '../lib/types'
import type { TabMessage, WorkerMessage } from './protocol'

const WORKER_ANSWER_MS = 3_000

/**
 * A Signaling that lives in a SharedWorker, shared with the browser's other tabs (see worker.ts).
 * Null where SharedWorker or Web Locks are missing (e.g. Chrome on Android): use createSignalingClient.
 */
export function createSharedSignaling(workerUrl: string, server = '/v1'): Signaling | null {
  if (typeof SharedWorker === 'undefined' || !navigator.locks) return null
  let worker: SharedWorker
  try {
    worker = new SharedWorker(workerUrl, { name: `parley ${server}` })
  } catch {
    return null
  }
  const port = worker.port
  const events = createEmitter<SignalingEvents>()
  const joins = new Map<
    number,
    { room: string; meta: string | undefined; handlers: MembershipHandlers; resolve: (m: Membership) => void; reject: (e: Error) => void }
  >()
  const iceRequests = new Map<number, { resolve: (ice: IceResponse) => void; reject: (err: Error) => void }>()
  let status: SignalingStatus = 'connecting'
  let nextId = 1
  let closed = false

  // Held until this tab is gone; the worker then cleans up after it (see worker.ts). Nothing is sent
  // before the lock is ours, or the worker could be granted it first and take the tab for dead.
  const lock = `parley-tab-${nanoid()}`
  let releaseLock: () => void = () => {}
  let holding = false
  const ready = new Promise<void>((held) => {
    void navigator.locks.request(lock, () => {
      holding = true
      held()
      return new Promise<void>((resolve) => (releaseLock = resolve))
    })
  })
  // Synchronous once the lock is held: a leave sent from pagehide must not wait for a microtask the
  // frozen (back/forward-cached) page may never run.
  const send = (message: TabMessage) => {
    if (holding) port.postMessage(message)
    else void ready.then(() => port.postMessage(message))
  }

  // The worker answers every hello. Silence means it is wedged (seen in Chromium when a tab connects
  // while the worker is shutting down): this tab then signals on its own, as if it had no SharedWorker.
  let answered = false
  let fallback: SignalingClient | undefined
  const ownPeers = new Set<string>()
  const silence = setTimeout(() => answered || closed || useFallback(), WORKER_ANSWER_MS)

  function useFallback() {
    const own = createSignalingClient(server)
    fallback = own
    own.on('status', (next) => {
      status = next
      events.emit('status', next)
    })
    own.on('error', (err) => events.emit('error', err))
    for (const [id, join] of joins) {
      joins.delete(id)
      void own.join(join.room, join.meta, tracked(join.handlers)).then(join.resolve, join.reject)
    }
    for (const [id, pending] of iceRequests) {
      iceRequests.delete(id)
      pending.reject(new SignalingError('WORKER', 'the shared signaling worker did not answer'))
    }
    port.close()
  }

  const tracked = (handlers: MembershipHandlers): MembershipHandlers => ({
    ...handlers,
    joined(membership) {
      ownPeers.add(membership.peer)
      handlers.joined(membership)
    },
  })

  port.onmessage = (event: MessageEvent<WorkerMessage>) => {
    const message = event.data
    answered = true
    clearTimeout(silence)
    switch (message.op) {
      case 'status':
        if (message.status === status) return
        status = message.status
        return events.emit('status', status)
      case 'error':
        return events.emit('error', new SignalingError('WORKER', message.message))
      case 'joined': {
        const join = joins.get(message.id)
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
      case 'lost':
        return joins.get(message.id)?.handlers.lost()
      case 'unknown':
        return joins.get(message.id)?.handlers.unknown(message.peer)
      case 'ice': {
        const pending = iceRequests.get(message.id)
        iceRequests.delete(message.id)
        return message.ice ? pending?.resolve(message.ice) : pending?.reject(new SignalingError('ICE', 'no fresh ICE servers'))
      }
    }
  }
  port.start()
  send({ op: 'hello', server, lock })
  const onOnline = () => send({ op: 'network', online: true })
  const onOffline = () => send({ op: 'network', online: false })
  addEventListener('online', onOnline)
  addEventListener('offline', onOffline)

  const peers = new Map<string, { id: number; token: string }>()
  return {
    on: events.on,
    off: events.off,
    get status() {
      return status
    },
    join(room, meta, handlers) {
      if (fallback) return fallback.join(room, meta, tracked(handlers))
      const id = nextId++
      return new Promise<Membership>((resolve, reject) => {
        joins.set(id, {
          room,
          meta,
          handlers: {
            ...handlers,
            joined(membership) {
              peers.set(membership.peer, { id, token: membership.token })
              handlers.joined(membership)
            },
          },
          resolve,
          reject,
        })
        send({ op: 'join', id, room, meta })
      })
    },
    signal(from, to, data) {
      if (ownPeers.has(from)) return fallback!.signal(from, to, data)
      if (!closed) send({ op: 'signal', from, to, data })
    },
    refreshIce(peer) {
      if (ownPeers.has(peer)) return fallback!.refreshIce(peer)
      const id = nextId++
      return new Promise<IceResponse>((resolve, reject) => {
        iceRequests.set(id, { resolve, reject })
        send({ op: 'ice', id, peer })
      })
    },
    leave(peer) {
      if (ownPeers.delete(peer)) return fallback!.leave(peer)
      const member = peers.get(peer)
      if (!member) return
      peers.delete(peer)
      joins.delete(member.id)
      // The worker may be gone before its own request could leave (it dies with its last tab), so the
      // tab says goodbye itself, by beacon, which outlives the page; the worker then just forgets.
      leaveByBeacon(server, { token: member.token, peer })
      send({ op: 'leave', peer })
    },
    close() {
      if (closed) return
      closed = true
      clearTimeout(silence)
      fallback?.close()
      removeEventListener('online', onOnline)
      removeEventListener('offline', onOffline)
      send({ op: 'bye' })
      if (holding) {
        port.close()
        releaseLock()
      } else {
        void ready.then(() => {
          port.close()
          releaseLock()
        })
      }
      events.clear()
    },
  }
}
