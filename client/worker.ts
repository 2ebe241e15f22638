// The browser's one signaling connection, shared by every tab of the origin (a SharedWorker): one event
// stream per browser however many tabs are open, so tabs never exhaust the six HTTP/1.1 connections a
// browser allows per host. Tabs keep their WebRTC connections; this worker only carries signaling.
import { createSignaling, type MembershipHandlers, type Signaling } from './signaling'
import { parseTabMessage, type WorkerMessage } from './worker-protocol'

// The one SharedWorkerGlobalScope member used here (the DOM lib, which the rest of client/ needs,
// and the webworker lib cannot be loaded together).
declare const self: { onconnect: ((event: MessageEvent) => void) | null }

interface Tab {
  port: MessagePort
  peers: Set<string>
}

let signaling: Signaling | undefined
let server = '/v1'
let pendingJoins = 0
const tabs = new Set<Tab>()

function post(tab: Tab, message: WorkerMessage) {
  tab.port.postMessage(message)
}

/** The shared connection, created on first use and again after the last membership left. */
function connection(): Signaling {
  if (signaling) return signaling
  const created = createSignaling(server)
  signaling = created
  created.on('status', (status) => {
    for (const tab of tabs) post(tab, { op: 'status', status })
  })
  created.on('error', (err) => {
    for (const tab of tabs) post(tab, { op: 'error', message: err.message })
  })
  return created
}

/** The shared client closes itself when its last membership leaves: stop handing it out then. */
function release(instance: Signaling) {
  const inUse = pendingJoins > 0 || [...tabs].some((tab) => tab.peers.size > 0)
  if (!inUse && signaling === instance) signaling = undefined
}

/** Everything a tab had joined leaves: the tab closed, crashed or navigated away. */
function forget(tab: Tab) {
  if (!tabs.delete(tab)) return
  const current = signaling
  for (const peer of tab.peers) current?.leave(peer)
  tab.peers.clear()
  if (current) release(current)
  tab.port.close()
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
        if (signaling) post(tab, { op: 'status', status: signaling.status })
        // The tab holds this lock for its whole life; it is granted to us when the tab is gone, which
        // is the only reliable way to learn that (ports send no close event).
        void navigator.locks?.request(request.lock, () => forget(tab))
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
        pendingJoins++
        current
          .join(request.room, request.meta, handlers)
          .catch((err: Error & { code?: string; status?: number }) => {
            post(tab, { op: 'join-failed', id: request.id, code: err.code ?? 'ERROR', message: err.message, status: err.status ?? 0 })
          })
          .finally(() => {
            pendingJoins--
            // The tab went away while its join was in flight.
            if (!tabs.has(tab)) for (const peer of tab.peers) current.leave(peer)
            release(current)
          })
        return
      }
      case 'signal':
        if (tab.peers.has(request.from)) signaling?.signal(request.from, request.to, request.data)
        return
      case 'leave':
        if (tab.peers.delete(request.peer) && signaling) {
          const current = signaling
          current.leave(request.peer)
          release(current)
        }
        return
      case 'bye':
        return forget(tab)
    }
  }
  tab.port.start()
}
