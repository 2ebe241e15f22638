import { nanoid } from 'nanoid'
import { afterEach, expect, it } from 'vitest'
import type { MembershipEvent, MembershipHandlers, Signaling } from '../../client/lib/types'
import { createNodeSignaling } from '../../client/node/index'
import { pollUntil, postJson, randomRoom, startServer, type TestServer, within } from '../helpers'

// The signaling client renews its session's credentials before they expire, without anyone noticing.
// A TTL of 2 s: each credential lasts 1-2 s, and the client renews at 80% of what it was told.
const TTL_S = 2
const WAIT_MS = 10_000

let server: TestServer | undefined
const clients: Signaling[] = []
afterEach(async () => {
  for (const client of clients.splice(0)) client.close()
  await server?.close()
})

function member() {
  const heard: MembershipEvent[] = []
  let changed = () => {}
  const state = { lost: 0 }
  const handlers: MembershipHandlers = {
    joined: () => {},
    event: (event) => {
      heard.push(event)
      changed()
    },
    lost: () => state.lost++,
    unknown: () => {},
  }
  const hears = (data: string) =>
    within(
      new Promise<void>((resolve) => {
        changed = () => heard.some((e) => e.type === 'signal' && e.data === data) && resolve()
        changed()
      }),
      WAIT_MS,
      `the signal "${data}"`,
    )
  return { handlers, hears, state }
}

it('renews the token and stream key quietly: signals still flow after the first token expired', async () => {
  server = await startServer({ credentialTtlS: TTL_S, iceServers: [] })
  const [a, b] = [createNodeSignaling(server.api), createNodeSignaling(server.api)]
  clients.push(a, b)
  const room = randomRoom()
  const verifier = nanoid(43)
  const [ana, ben] = [member(), member()]
  const joinedA = await a.join(room, undefined, ana.handlers, { verifier })
  const joinedB = await b.join(room, undefined, ben.handlers, { verifier })
  b.signal(joinedB.peer, joinedA.peer, 'before')
  await ana.hears('before')

  // The token Ben joined with is now past its lifetime.
  await pollUntil(
    async () => (await postJson(`${server!.api}/renew`, {}, joinedB.token)).status === 401,
    WAIT_MS,
    'the first token to expire',
    100,
  )
  expect((await postJson(`${server.api}/renew`, {}, joinedB.token)).body).toMatchObject({ error: 'EXPIRED' })
  b.signal(joinedB.peer, joinedA.peer, 'after')
  a.signal(joinedA.peer, joinedB.peer, 'back')
  await Promise.all([ana.hears('after'), ben.hears('back')])
  // Ana's stream drops and comes back: it must open with the renewed key (the first one has expired).
  const signaling = a as Signaling & { networkChanged(online: boolean): void }
  signaling.networkChanged(false)
  signaling.networkChanged(true)
  b.signal(joinedB.peer, joinedA.peer, 'after the reconnect')
  await ana.hears('after the reconnect')
  expect([ana.state.lost, ben.state.lost]).toEqual([0, 0])
  expect(server.stats()).toMatchObject({ sessions: 2, peers: 2 })
})
