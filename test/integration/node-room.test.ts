import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { nanoid } from 'nanoid'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type ChatView, createFileStore, joinRoom, type Room } from '../../client/node/index'
import { pollUntil, randomRoom, startServer, type TestServer, within } from '../helpers'

// The room library in Node (client/node): real server, real WebRTC (@roamhq/wrtc), no browser.
let server: TestServer
const rooms: Room[] = []
const dir = mkdtempSync(join(tmpdir(), 'parley-node-'))

beforeAll(async () => {
  server = await startServer({ iceServers: [] })
})
afterAll(async () => {
  for (const room of rooms) room.leave()
  await server?.close()
  rmSync(dir, { recursive: true, force: true })
})

const enter = (room: string, secret: string, name: string, store?: ReturnType<typeof createFileStore>) => {
  const joined = joinRoom({ room, secret, name, server: server.api, ...(store ? { store } : {}) })
  rooms.push(joined)
  return joined
}
const next = <T>(room: Room, type: 'message' | 'peer-connected' | 'peer-left', match: (v: T) => boolean = () => true) =>
  within(new Promise<T>((resolve) => room.on(type, (v) => match(v as T) && resolve(v as T))), 10_000, `${type} event`)

it('two Node peers connect and chat; a restart with a history file keeps the past', async () => {
  const room = randomRoom()
  const secret = nanoid(22)
  const file = join(dir, 'history.json')
  const ana = enter(room, secret, 'Ana', createFileStore(file))
  await within(new Promise((r) => ana.on('status', r)), 10_000, 'Ana online')
  const ben = enter(room, secret, 'Ben')
  await Promise.all([next(ana, 'peer-connected'), next(ben, 'peer-connected')])

  const text = `from Ben ${nanoid(6)}`
  const heard = next<ChatView>(ana, 'message', (m) => m.text === text)
  ben.send(text)
  expect(await heard).toMatchObject({ name: 'Ben', mine: false })
  expect((await heard).history).toBeUndefined()
  const dm = `to Ben only ${nanoid(6)}`
  const private_ = next<ChatView>(ben, 'message', (m) => m.text === dm)
  ana.send(dm, { to: ben.self.id })
  expect(await private_).toMatchObject({ to: ben.self.id, name: 'Ana' })

  // Ana leaves and comes back alone: her file has the room's past, checked again on load.
  const left = next(ben, 'peer-left')
  ana.leave()
  await left
  ben.leave()
  // Leaving writes the file once more, in the background: nothing announces when that is done.
  const saved = async () => (await createFileStore(file).load(room)).length === 2
  await pollUntil(saved, 10_000, 'the history file to hold both messages')
  const again = enter(room, secret, 'Ana', createFileStore(file))
  const restored = await within(
    new Promise<ChatView[]>((resolve) => {
      const seen: ChatView[] = []
      again.on('message', (m) => {
        seen.push(m)
        if (seen.length === 2) resolve(seen)
      })
    }),
    10_000,
    'history from the file',
  )
  expect(restored.map((m) => [m.text, m.history])).toEqual(
    expect.arrayContaining([
      [text, true],
      [dm, true],
    ]),
  )
})
