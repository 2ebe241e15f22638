import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nanoid } from 'nanoid'
import { join, randomRoom, roomLink, startServer, type TestServer } from '../helpers'
import { closeAll, launchPeople, say, setName, waitForConnected, waitForMessage, type Person } from '../browsers'
import { spawnTerminal, type Line, type Terminal } from '../terminal'

// The terminal client as a bot runs it (its own process, --json) in one room with Chromium pages.
let server: TestServer
let people: Person[] = []
const terminals: Terminal[] = []
const POLL = { polling: 50, timeout: 20_000 }

beforeAll(async () => {
  ;[server, people] = await Promise.all([startServer({ iceServers: [], joinBurst: 1000 }), launchPeople(2)])
  await Promise.all(
    people.map(async (person, i) => {
      await person.page.goto(server.url)
      await setName(person.page, ['Ana', 'Ben'][i]!)
    }),
  )
})
afterAll(async () => {
  await Promise.all(terminals.map((t) => t.kill()))
  await closeAll(people)
  await server?.close()
})

const terminal = (args: string[]) => {
  const t = spawnTerminal(args)
  terminals.push(t)
  return t
}
const message = (text: string) => (l: Line) => l.type === 'message' && l.text === text

/** The page's (private) marker of a message: null when it went to everyone. */
const privateMark = (page: Person['page'], text: string) =>
  page.$$eval(
    '[role="log"][aria-label="Messages"] .message',
    (entries, t) => {
      const entry = entries.find((e) => e.querySelector('.text')?.textContent === t)
      const marker = entry?.querySelector<HTMLElement>('.private')
      return marker && !marker.hidden ? marker.textContent : null
    },
    text,
  )

describe('the terminal client with Chromium pages', () => {
  it('chats both ways, with history in both directions and direct messages', async () => {
    const [ana, ben] = people as [Person, Person]
    const link = roomLink(server.url)
    const early = `said before the bot came ${nanoid(6)}`
    await ana.page.goto(link)
    await ana.page.waitForFunction(() => window.parley?.status === 'online', POLL)
    await say(ana.page, early)

    const bot = terminal([link, '--name', 'Bot', '--json'])
    const seen = await bot.next(message(early), 30_000, 'Ana’s earlier line')
    expect(seen).toMatchObject({ name: 'Ana', history: true })
    const anaId = (await bot.next((l) => l.type === 'peer-connected', 30_000, 'peer-connected')).id as string
    const botId = (await bot.next((l) => l.type === 'status' && l.status === 'online')).id as string
    await waitForConnected(ana.page, 1)

    const fromBot = `hello from the terminal ${nanoid(6)}`
    bot.send({ text: fromBot })
    await waitForMessage(ana.page, fromBot)
    const live = `live from Ana ${nanoid(6)}`
    await say(ana.page, live)
    expect(await bot.next(message(live))).toMatchObject({ from: anaId, name: 'Ana', history: false })
    expect(await bot.next(message(live))).not.toHaveProperty('to')

    // Ana → Bot privately, and Bot answers her by name.
    await ana.page.select('select[aria-label="Send to"]', botId)
    const secret = `just for the bot ${nanoid(6)}`
    await say(ana.page, secret)
    expect(await bot.next(message(secret))).toMatchObject({ from: anaId, to: botId, history: false })
    await ana.page.select('select[aria-label="Send to"]', '')
    const answer = `just for Ana ${nanoid(6)}`
    bot.send({ text: answer, to: 'Ana' })
    expect(await bot.next((l) => l.type === 'sent' && l.text === answer)).toMatchObject({ to: anaId })
    await waitForMessage(ana.page, answer)
    expect(await privateMark(ana.page, answer)).toBe('private')

    // Ana goes: only the terminal holds the room's history now, and Ben gets it from there.
    await ana.page.goto('about:blank')
    await bot.next((l) => l.type === 'peer-left' && l.id === anaId, 30_000, 'Ana leaving')
    await ben.page.goto(link)
    await Promise.all([waitForMessage(ben.page, fromBot, 30_000), waitForMessage(ben.page, early, 30_000), waitForMessage(ben.page, live, 30_000)])
    const benSees = await ben.page.$$eval('[role="log"][aria-label="Messages"] .message .text', (e) => e.map((x) => x.textContent))
    expect(benSees).not.toContain(secret)
    expect(benSees).not.toContain(answer)

    const started = Date.now()
    expect(await bot.end()).toBe(0)
    // Nothing (simple-peer's ICE timer, the stream) keeps the process past its goodbye.
    expect(Date.now() - started).toBeLessThan(3_000)
    expect(bot.lines.at(-1)).toEqual({ type: 'status', status: 'closed' })
    await ben.page.waitForFunction(() => window.parley?.peers.length === 0, POLL)
  })

  it('posts what it is given before the join completes, and waits for delivery before leaving', async () => {
    const [ana] = people as [Person]
    const link = roomLink(server.url)
    await ana.page.goto(link)
    await ana.page.waitForFunction(() => window.parley?.status === 'online', POLL)
    const text = `a one-shot post ${nanoid(6)}`
    const bot = terminal([link, '--name', 'CI', '--json'])
    bot.send({ text })
    expect(await bot.end()).toBe(0)
    await waitForMessage(ana.page, text)
  })
})

describe('terminal errors', () => {
  it('refuses a link without its secret with exit code 2', async () => {
    const bot = terminal([`${server.url}/r/${randomRoom()}`, '--json'])
    expect(await bot.exited).toBe(2)
    expect(bot.stderr()).toContain('not a room link')
  })

  it('exits 1 with the code when the room is full', async () => {
    const small = await startServer({ iceServers: [], maxPeersPerRoom: 2 })
    try {
      const room = randomRoom()
      await join(small.api, room)
      await join(small.api, room)
      const bot = terminal([`${small.url}/r/${room}#${nanoid(22)}`, '--json'])
      expect(await bot.exited).toBe(1)
      expect(bot.lines).toContainEqual(expect.objectContaining({ type: 'error', code: 'ROOM_FULL' }))
    } finally {
      await small.close()
    }
  })

  it('keeps trying, and says so, while the server cannot be reached', async () => {
    const gone = await startServer({ iceServers: [] })
    const link = roomLink(gone.url)
    await gone.close()
    const bot = terminal([link, '--json'])
    expect(await bot.next((l) => l.type === 'error')).toMatchObject({ code: 'UNREACHABLE' })
    expect(bot.child.exitCode).toBeNull()
    expect(await bot.end()).toBe(0)
  })
})
