// The browser's one signaling connection, shared by every tab of the origin (a SharedWorker): one event
// stream per browser however many tabs are open, so tabs never exhaust the six HTTP/1.1 connections a
// browser allows per host. Tabs keep their WebRTC connections; this worker only carries signaling.
// The signaling client itself, not the library's index: the worker's bundle carries no room or WebRTC.
import { createSignalingClient, type SignalingClient } from '../lib/signaling/client'
import type { MembershipHandlers } from '../lib/types'
import { parseTabMessage, type WorkerMessage } from './protocol'

// The one SharedWorkerGlobalScope member used here (the DOM lib, which the rest of client/ needs,
// and the webworker lib cannot be loaded together).
declare const self: { onconnect: ((event: MessageEvent) => void) | null }

interface Tab {
  port: MessagePort
  peers: Set<string>
  release?: () => void
}

let signaling: SignalingClient | undefined
let server = '/v1'
const tabs = new Set<Tab>()

function post(tab: Tab, message: WorkerMessage) {
  tab.port.postMessage(message)
}

/** The shared connection, created on first use; it idles (no session, no stream) while nobody is in a room. */
function connection(): SignalingClient {
  if (signaling) return signaling
  const created = createSignalingClient(server)
  signaling = created
  // Only to tabs answered already (holding their lock, see hello): a tab takes the first status it hears
  // for that answer, and asks for the lock then.
  created.on('status', (status) => {
    for (const tab of tabs) if (tab.release) post(tab, { op: 'status', status })
  })
  created.on('error', (err) => {
    for (const tab of tabs) if (tab.release) post(tab, { op: 'error', message: err.message })
  })
  return created
}

/** Everything a tab had joined leaves: the tab closed, crashed or navigated away. */
function forget(tab: Tab) {
  if (!tabs.delete(tab)) return
  for (const peer of tab.peers) signaling?.leave(peer)
  tab.peers.clear()
  tab.port.close()
  tab.release?.()
}

self.onconnect = (event) => {
  const tab: Tab = { port: event.ports[0]!, peers: new Set() }
  tabs.add(tab)
  tab.port.onmessage = (message) => {
    const request = parseTabMessage(message.data)
    if (!request) return
    switch (request.op) {
      case 'hello':
        server = request.server
        // Always answer: a tab that hears nothing takes the worker for wedged and signals on its own.
        // Answered once this worker holds the lock the tab then asks for: the tab is granted it when
        // the worker dies. Released when the tab goes.
        void navigator.locks.request(`${request.lock} worker`, () => {
          if (!tabs.has(tab)) return
          post(tab, { op: 'status', status: signaling?.status ?? 'connecting' })
          return new Promise<void>((resolve) => (tab.release = resolve))
        })
        // The tab holds this lock for its whole life; it is granted to us when the tab is gone, which
        // is the only reliable way to learn that (ports send no close event).
        void navigator.locks.request(request.lock, () => forget(tab))
        return
      case 'join': {
        const current = connection()
        const handlers: MembershipHandlers = {
          joined: (membership) => {
            tab.peers.add(membership.peer)
            post(tab, { op: 'joined', id: request.id, membership })
          },
          event: (e) => post(tab, { op: 'event', id: request.id, event: e }),
          lost: () => post(tab, { op: 'lost', id: request.id }),
          unknown: (peer) => post(tab, { op: 'unknown', id: request.id, peer }),
        }
        // The tab knows the first nonce (it chose it); it hears of each retry's.
        const nonces = request.nonce
          ? {
              first: request.nonce,
              sent(nonce: string) {
                if (nonce !== request.nonce) post(tab, { op: 'attempt', id: request.id, nonce })
              },
              settled: () => post(tab, { op: 'settled', id: request.id }),
              gone: () => !tabs.has(tab),
            }
          : undefined
        current
          .join(request.room, request.meta, handlers, { verifier: request.verifier, nonces })
          .then((membership) => {
            // The tab went away while its join was in flight.
            if (!tabs.has(tab)) current.leave(membership.peer)
          })
          .catch((err: Error & { code?: string; status?: number }) => {
            post(tab, { op: 'join-failed', id: request.id, code: err.code ?? 'ERROR', message: err.message, status: err.status ?? 0 })
          })
        return
      }
      case 'signal':
        if (tab.peers.has(request.from)) signaling?.signal(request.from, request.to, request.data)
        return
      case 'flush':
        if (tab.peers.has(request.from)) signaling?.flush(request.from)
        return
      case 'leave':
        if (tab.peers.delete(request.peer)) signaling?.leave(request.peer)
        return
      case 'bye':
        return forget(tab)
      case 'network':
        return signaling?.networkChanged(request.online)
      case 'ice':
        if (!tab.peers.has(request.peer) || !signaling) return post(tab, { op: 'ice', id: request.id, ice: null })
        return void signaling
          .refreshIce(request.peer)
          .then((ice) => post(tab, { op: 'ice', id: request.id, ice }))
          .catch(() => post(tab, { op: 'ice', id: request.id, ice: null }))
    }
  }
  tab.port.start()
}
