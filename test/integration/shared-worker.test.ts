import { EventSource } from 'eventsource'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { SignalingClient } from '../../client/lib/signaling/client'
import type { Membership, MembershipHandlers, Signaling } from '../../client/lib/types'
import { createNodeSignaling } from '../../client/node/index'
import type { TabMessage, WorkerMessage } from '../../client/worker/protocol'
import { connectPeer, join, pollUntil, postJson, randomRoom, type SseClient, startServer, type TestServer, within } from '../helpers'
import { startRecordingProxy } from '../proxy'

// The tab side (shared-signaling.ts) and the shared worker (worker.ts) as they are, in Node, against a real
// server: a MessageChannel is the SharedWorker's port, Web Locks and sendBeacon are small fakes (a beacon
// is a text/plain POST, as the browser sends it). The grace period is long: a peer-left that arrives
// within a stream's 5 s wait can only be a leave's or a cancel's.
const GRACE_MS = 30_000
const WAIT_MS = 5_000

const servers: TestServer[] = []
const streams: SseClient[] = []
const closers: Array<() => unknown> = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
  for (const s of streams.splice(0)) s.close()
  await Promise.all(servers.splice(0).map((s) => s.close()))
  vi.unstubAllGlobals()
  vi.resetModules()
})

async function server() {
  const s = await startServer({ graceMs: GRACE_MS })
  servers.push(s)
  return s
}
async function peer(api: string, room: string) {
  const p = await connectPeer(api, room)
  streams.push(p.stream)
  return p
}

const quiet: MembershipHandlers = { joined: () => {}, event: () => {}, lost: () => {}, unknown: () => {} }
const peerId = (data: Record<string, unknown>) => (data.peer as { id: string }).id

/**
 * Web Locks as the tab and the worker use them: one holder per name, the next granted when it lets go.
 * A grant is a task of its own, as in the browser (the tab relies on it: holdTabLock's whenHeld).
 */
function fakeLocks() {
  const queues = new Map<string, Promise<unknown>>()
  const task = () => new Promise<void>((resolve) => setImmediate(resolve))
  return {
    request(name: string, granted: () => unknown) {
      const turn = (queues.get(name) ?? Promise.resolve()).then(task).then(granted)
      queues.set(
        name,
        turn.catch(() => {}),
      )
      return turn
    },
  }
}

/** Resolves with the first item `push`ed (or already there) that `match`es. */
function recorder<T>() {
  const items: T[] = []
  const waiters = new Set<() => void>()
  return {
    items,
    push(item: T) {
      items.push(item)
      for (const waiter of waiters) waiter()
    },
    next(match: (item: T) => boolean, what: string): Promise<T> {
      return within(
        new Promise<T>((resolve) => {
          const check = () => {
            const found = items.find(match)
            if (found === undefined) return
            waiters.delete(check)
            resolve(found)
          }
          waiters.add(check)
          check()
        }),
        WAIT_MS,
        what,
      )
    },
  }
}

/**
 * One tab using the shared worker, and the worker itself (a fresh module per test). `wedged`: the worker
 * never answers (the tab falls back to signaling on its own). `heard`: what the worker told the tab;
 * `asked`: what the tab told the worker; `beacons`: every beacon's body, once the server answered it.
 */
async function openTab(api: string, { wedged = false } = {}) {
  const beacons = recorder<Record<string, unknown>>()
  const heard = recorder<WorkerMessage>()
  const asked = recorder<TabMessage>()
  const scope: { onconnect: ((event: { ports: MessagePort[] }) => void) | null } = { onconnect: null }
  vi.stubGlobal('self', scope)
  vi.stubGlobal('EventSource', EventSource)
  vi.stubGlobal('addEventListener', () => {})
  vi.stubGlobal('removeEventListener', () => {})
  vi.stubGlobal('navigator', {
    locks: fakeLocks(),
    sendBeacon(url: string, body: string) {
      const init = { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8' }, body }
      void fetch(url, init)
        .then(() => beacons.push(JSON.parse(body) as Record<string, unknown>))
        .catch(() => {})
      return true
    },
  })
  const ports: MessagePort[] = []
  vi.stubGlobal(
    'SharedWorker',
    class {
      readonly port: MessagePort
      constructor() {
        const channel = new MessageChannel()
        this.port = channel.port1
        ports.push(channel.port1, channel.port2)
        channel.port1.addEventListener('message', (event) => heard.push(event.data as WorkerMessage))
        channel.port2.addEventListener('message', (event) => asked.push(event.data as TabMessage))
        channel.port2.start()
        if (!wedged) scope.onconnect?.({ ports: [channel.port2] })
      }
    },
  )
  if (!wedged) await import('../../client/worker/worker')
  const { createSharedSignaling } = await import('../../client/worker/shared-signaling')
  const signaling = createSharedSignaling('worker.js', api) as Signaling
  expect(signaling).not.toBeNull()
  closers.push(() => {
    signaling.close()
    for (const port of ports) port.close()
  })
  return { signaling, beacons, heard, asked, workerPort: () => ports[1]! }
}

/**
 * A proxy in front of `url` that turns the next peer-joined on any stream into a `reset` once `resetNext()`
 * is called (its client re-claims its peers), and holds the POST /join that follows until `release()`.
 */
async function resettingProxy(url: string) {
  let armed = false
  let landed = () => {}
  const reclaimLanded = new Promise<void>((resolve) => (landed = resolve))
  let release = () => {}
  const released = new Promise<void>((resolve) => (release = resolve))
  const proxy = await startRecordingProxy(url, {
    rewriteEvent: (frame) => (armed && frame.event === 'peer-joined' ? [{ event: 'reset', data: '{"reason":"gap"}' }] : [frame]),
    holdRequest(path) {
      if (path !== '/v1/join' || !armed) return undefined
      armed = false
      landed()
      return released
    },
  })
  closers.push(async () => {
    release()
    await proxy.close()
  })
  return { proxy, resetNext: () => (armed = true), reclaimLanded, release }
}

/** The answer the proxy passed on to its `nth` POST /join (from 1): its error code, or 'OK'. */
async function joinAnswer(proxy: { transcript(): string }, nth: number) {
  const answers = () => [...proxy.transcript().matchAll(/^< \/v1\/join\n(.+)$/gm)].map((m) => JSON.parse(m[1]!) as { error?: string })
  await pollUntil(async () => answers().length >= nth, WAIT_MS, `the answer to join ${nth}`)
  return answers()[nth - 1]!.error ?? 'OK'
}

/**
 * A tab whose worker joined as `b` beside peer `a`, behind a proxy that resets the session when a third
 * joins: the worker's re-claim of `b` has reached the server, and waits there until `release()`.
 */
async function reclaiming() {
  const { url, api } = await server()
  const room = randomRoom()
  const a = await peer(api, room)
  const { proxy, resetNext, reclaimLanded, release } = await resettingProxy(url)
  const tab = await openTab(`${proxy.url}/v1`)
  const b = await tab.signaling.join(room, undefined, quiet)
  await a.stream.next('peer-joined', (d) => peerId(d) === b.peer)
  resetNext()
  await join(api, room)
  await reclaimLanded
  return { api, room, a, b, tab, proxy, release }
}

describe('the shared worker and its tab', () => {
  it("hears each re-claim's nonce: the tab's leave cancels the re-claim in flight, which then seats nobody", async () => {
    const { api, room, a, b, tab, proxy, release } = await reclaiming()
    const attempt = await tab.heard.next((m) => m.op === 'attempt', "the re-claim's nonce")
    tab.signaling.leave(b.peer)
    tab.signaling.close()
    expect((await a.stream.next('peer-left')).json).toEqual({ to: a.peer, peer: b.peer, reason: 'leave' })
    const beacon = await tab.beacons.next((body) => body.peer === b.peer, 'the leave beacon')
    expect(beacon).toEqual({ token: b.token, peer: b.peer, nonce: (attempt as { nonce: string }).nonce })
    release()
    expect(await joinAnswer(proxy, 2)).toBe('JOIN_CANCELLED')
    const later = await join(api, room)
    await a.stream.next('peer-joined', (d) => peerId(d) === later.peer)
    expect(a.stream.ofType('peer-joined').filter((d) => peerId(d) === b.peer)).toHaveLength(1)
  })

  it("forgets a re-claim's nonce once it is answered: the tab's later leave carries only its token", async () => {
    const { a, b, tab, proxy, release } = await reclaiming()
    await tab.heard.next((m) => m.op === 'attempt', "the re-claim's nonce")
    release()
    expect(await joinAnswer(proxy, 2)).toBe('OK')
    await tab.heard.next((m) => m.op === 'settled', 'the re-claim answered')
    tab.signaling.leave(b.peer)
    expect(await tab.beacons.next((body) => body.peer === b.peer, 'the leave beacon')).toEqual({ token: b.token, peer: b.peer })
    expect((await a.stream.next('peer-left', (d) => d.peer === b.peer)).json.reason).toBe('leave')
  })

  it('re-claims its other peers after one whose tab cancelled its re-claim', async () => {
    const { url, api } = await server()
    const [room, other] = [randomRoom(), randomRoom()]
    const { proxy, resetNext, reclaimLanded, release } = await resettingProxy(url)
    const tab = await openTab(`${proxy.url}/v1`)
    const b = await tab.signaling.join(room, undefined, quiet)
    const b2 = await tab.signaling.join(other, undefined, quiet)
    resetNext()
    await join(api, room)
    await reclaimLanded
    await tab.heard.next((m) => m.op === 'attempt', "the re-claim's nonce")
    tab.signaling.leave(b.peer)
    await tab.beacons.next((body) => body.peer === b.peer, 'the leave beacon')
    release()
    expect(await joinAnswer(proxy, 3)).toBe('JOIN_CANCELLED')
    const reclaims = () => [...proxy.transcript().matchAll(/^> POST \/v1\/join\n.*\n(.+)$/gm)].map((m) => JSON.parse(m[1]!).peer as string)
    await pollUntil(async () => reclaims().includes(b2.peer), WAIT_MS, "the other peer's re-claim")
  })

  it('drops a message of the wrong shape from the worker, and goes on', async () => {
    const { url, api } = await server()
    const room = randomRoom()
    const tab = await openTab(`${url}/v1`)
    const joined: Membership[] = []
    const first = await tab.signaling.join(room, undefined, { ...quiet, joined: (m) => joined.push(m) })
    // From the worker's side of the port: an answer to the join above (id 1) in shapes no worker sends.
    for (const junk of [
      { op: 'joined', id: 1, membership: null },
      { op: 'joined', id: 1, membership: { peer: 'x' } },
      { op: 'event', id: 1, event: { type: 'roster', peers: 'nobody' } },
      { op: 'attempt', id: 1, nonce: 7 },
      { op: 'status', status: 'sleepy' },
      null,
    ]) {
      tab.workerPort().postMessage(junk)
    }
    const second = await tab.signaling.join(room, undefined, { ...quiet, joined: (m) => joined.push(m) })
    expect(joined.map((m) => m.peer)).toEqual([first.peer, second.peer])
    expect(await postJson(`${api}/leave`, { token: second.token })).toMatchObject({ status: 204 })
  })

  it('falling back (the worker never answers), cancels the join it asked the worker for: that one seats nobody', async () => {
    const { api } = await server()
    const room = randomRoom()
    const tab = await openTab(api, { wedged: true })
    const joining = tab.signaling.join(room, undefined, quiet)
    const request = await tab.asked.next((m) => m.op === 'join', 'the join asked of the worker')
    const nonce = (request as { nonce: string }).nonce
    // The tab waits WORKER_ANSWER_MS (3 s) for the worker's first word.
    await tab.beacons.next((body) => body.nonce === nonce, 'the cancel of the unanswered join')
    const own = await joining
    expect(await postJson(`${api}/join`, { room, nonce })).toMatchObject({ status: 409, body: { error: 'JOIN_CANCELLED' } })
    const a = await peer(api, room)
    expect(a.peers.map((p) => p.id)).toEqual([own.peer])
  })
})

describe('the signaling client after a reset', () => {
  it('leaves a peer left while its re-claim was in flight, with the token taken before the re-claim', async () => {
    const { url, api } = await server()
    const room = randomRoom()
    const a = await peer(api, room)
    const { proxy, resetNext, reclaimLanded, release } = await resettingProxy(url)
    const client = createNodeSignaling(`${proxy.url}/v1`)
    closers.push(() => client.close())
    const b = await client.join(room, undefined, quiet)
    await a.stream.next('peer-joined', (d) => peerId(d) === b.peer)
    resetNext()
    const c = await join(api, room)
    await reclaimLanded
    // The session's last peer: the session ends and forgets its token.
    client.leave(b.peer)
    expect((await a.stream.next('peer-left')).json).toEqual({ to: a.peer, peer: b.peer, reason: 'leave' })
    release()
    // The re-claim seats it again; the client, whose session is gone, leaves it with the token it took before.
    await a.stream.next('peer-joined', (d) => peerId(d) === b.peer)
    expect((await a.stream.next('peer-left')).json).toEqual({ to: a.peer, peer: b.peer, reason: 'leave' })
    const later = await join(api, room)
    await a.stream.next('peer-joined', (d) => peerId(d) === later.peer)
    expect(a.stream.ofType('peer-left').map((d) => d.peer)).toEqual([b.peer, b.peer])
    expect(c.peer).not.toBe(b.peer)
  })
})

/** A join's options that make `peer` leave once the join's POST has gone with the session's token on it. */
const leavingAsItGoes = (client: SignalingClient, peer: string) => ({
  nonces: { first: 'n'.repeat(22), sent: () => queueMicrotask(() => client.leave(peer)), settled: () => {}, gone: () => false },
})

describe('the signaling client whose session’s last peer leaves while a join is under way', () => {
  // A tab navigating from one room to another: the worker forgets the old page's peer as the new page's
  // join is in flight. Ending the session then took the new peer's seat (or its stream) with it.
  it('keeps its session for that join: the new peer hears who joins after it, and leaving it ends the session', async () => {
    const { api, stats } = await server()
    const client = createNodeSignaling(api) as SignalingClient
    closers.push(() => client.close())
    const first = await client.join(randomRoom(), undefined, quiet)
    const room = randomRoom()
    const heard = recorder<string>()
    const handlers: MembershipHandlers = { ...quiet, event: (e) => e.type === 'peer-joined' && heard.push(e.peer.id) }
    const second = await client.join(room, undefined, handlers, leavingAsItGoes(client, first.peer))
    const later = await join(api, room)
    expect(later.peers).toEqual([{ id: second.peer }])
    await heard.next((id) => id === later.peer, 'the peer who came next')
    expect(client.status).toBe('online')
    client.leave(second.peer)
    await pollUntil(async () => stats().sessions === 1, WAIT_MS, 'only the later peer’s session left')
  })

  it('ends the session when that join fails: no session left open with nobody in it', async () => {
    const s = await startServer({ graceMs: GRACE_MS, maxPeersPerRoom: 1 })
    servers.push(s)
    const full = randomRoom()
    await join(s.api, full)
    const client = createNodeSignaling(s.api) as SignalingClient
    closers.push(() => client.close())
    const first = await client.join(randomRoom(), undefined, quiet)
    await pollUntil(async () => s.stats().streams === 1, WAIT_MS, 'the client’s stream open')
    await expect(client.join(full, undefined, quiet, leavingAsItGoes(client, first.peer))).rejects.toMatchObject({ code: 'ROOM_FULL' })
    await pollUntil(async () => s.stats().sessions === 1 && s.stats().streams === 0, WAIT_MS, 'the client’s session ended')
    expect(client.status).toBe('connecting')
  })
})
