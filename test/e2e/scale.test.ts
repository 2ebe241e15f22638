import { nanoid } from 'nanoid'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { closeAll, launchPeople, type Person, say, waitForConnected, waitForMessage } from '../browsers'
import { pollUntil, randomRoom, type ServerProcess, spawnServer } from '../helpers'
import { type Service, startRedis } from '../services'

// Browsers on two different instances of the server, sharing rooms through Redis, chat as one room.
let redis: Service & { url: string }
let instances: ServerProcess[] = []
let people: Person[] = []

beforeAll(async () => {
  redis = await startRedis()
  ;[instances, people] = await Promise.all([Promise.all([0, 1].map(() => spawnServer(['--redis-url', redis.url]))), launchPeople(3)])
  for (const instance of instances) {
    await pollUntil(async () => (await fetch(`${instance.url}/readyz`)).status === 200, 10_000, 'instance ready')
  }
})
afterAll(async () => {
  await closeAll(people)
  await Promise.all(instances.map((i) => i.stop('SIGKILL')))
  await redis?.stop()
})

it('people on different instances of the server share one room', async () => {
  const room = randomRoom()
  const secret = nanoid(22)
  // Alternate instances: the room id and secret make the room, wherever the page came from.
  await Promise.all(people.map((p, i) => p.page.goto(`${instances[i % 2]!.url}/r/${room}#${secret}`)))
  await Promise.all(people.map((p) => waitForConnected(p.page, 2)))
  await say(people[0]!.page, 'from instance one')
  await say(people[1]!.page, 'from instance two')
  await Promise.all([waitForMessage(people[1]!.page, 'from instance one'), waitForMessage(people[2]!.page, 'from instance two')])
  const health = await Promise.all(instances.map(async (i) => (await fetch(`${i.url}/healthz`)).json()))
  // Streams are per instance; rooms and peers are shared.
  expect(health.map((h) => h.streams).sort()).toEqual([1, 2])
  await pollUntil(async () => (await (await fetch(`${instances[0]!.url}/healthz`)).json()).peers === 3, 5_000, 'shared peer count')
})
