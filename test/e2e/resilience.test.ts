import type { Page } from 'puppeteer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  closeAll,
  INSTRUMENT,
  launchPeople,
  messages,
  type Person,
  peopleList,
  say,
  setName,
  setOffline,
  waitForConnected,
  waitForJoined,
  waitForMessage,
  waitForPeopleCount,
} from '../browsers'
import { pollUntil, roomLink, type ServerProcess, spawnServer } from '../helpers'
import { holdJoinAnswers, startRecordingProxy } from '../proxy'

// Faults injected for real against the built server in its own process, with separate Chromium
// processes. Each test prints how long recovery took (figures for the closing note, not assertions).
const PEOPLE = 6
// The servers here keep a dropped stream's peers this long (--grace-ms).
const GRACE_MS = 10_000
let server: ServerProcess
let people: Person[] = []

beforeAll(async () => {
  ;[server, people] = await Promise.all([spawnServer(['--grace-ms', String(GRACE_MS)]), launchPeople(PEOPLE)])
  await Promise.all(people.map((p) => p.page.evaluateOnNewDocument(INSTRUMENT)))
  await Promise.all(people.map((p, i) => p.page.goto(server.url).then(() => setName(p.page, `P${i}`))))
})
afterAll(async () => {
  await closeAll(people)
  await server?.stop('SIGKILL')
})

const name = (page: Page) => `P${people.findIndex((p) => p.page === page)}`
const since = (start: number) => `${((Date.now() - start) / 1000).toFixed(2)} s`
const report = (what: string, took: string) => console.log(`[recovery] ${what}: ${took}`)

async function enter(group: Person[], url: string) {
  await Promise.all(group.map((p) => p.page.goto(url)))
  await Promise.all(group.map((p) => waitForConnected(p.page, group.length - 1)))
}

/** A chat line and who was in the room to receive it. */
interface Line {
  from: Page
  text: string
  to: Page[]
}

async function chat(log: Line[], from: Page, text: string, present: Person[]) {
  await say(from, text)
  log.push({ from, text, to: present.map((p) => p.page).filter((p) => p !== from) })
}

async function allReceive(log: Line[], timeout = 30_000) {
  await Promise.all(log.flatMap((line) => line.to.map((page) => waitForMessage(page, line.text, timeout))))
}

/**
 * Everyone got every line exactly once, in the sender's order (and their own once): those who were
 * there live, those who came later through the room's history.
 */
async function expectExactlyOnce(log: Line[], group: Person[]) {
  for (const { page } of group) {
    const seen = await messages(page)
    for (const sender of new Set(log.map((l) => l.from))) {
      const expected = log.filter((l) => l.from === sender).map((l) => l.text)
      const got = seen.filter((m) => (sender === page ? m.mine : !m.mine && m.who === name(sender))).map((m) => m.text)
      expect(got, `${name(page)} from ${name(sender)}`).toEqual(expected)
    }
  }
}

const bannerHidden = (page: Page, timeout = 30_000) =>
  page.waitForFunction(() => (document.getElementById('banner') as HTMLElement).hidden, { polling: 50, timeout })
const bannerShown = (page: Page, timeout = 30_000) =>
  page.waitForFunction(() => !(document.getElementById('banner') as HTMLElement).hidden, { polling: 50, timeout })

describe('faults', () => {
  it('1. the signaling server restarts while people chat', async () => {
    const group = people.slice(0, 3)
    const room = roomLink(server.url)
    await enter(group, room)
    const log: Line[] = []
    await chat(log, group[0]!.page, 'before the restart', group)

    const killed = Date.now()
    await server.stop('SIGKILL')
    await Promise.all(group.map((p) => bannerShown(p.page)))
    // The data channels never needed the server.
    await chat(log, group[1]!.page, 'while the server is down', group)
    await chat(log, group[2]!.page, 'also while down', group)
    await allReceive(log)

    server = await spawnServer(['--grace-ms', String(GRACE_MS), '--port', String(server.port)])
    const restarted = Date.now()
    await Promise.all(group.map((p) => bannerHidden(p.page, 40_000)))
    report('server restart: every client back online after the new server listened', since(restarted))
    report('server restart: outage as seen by clients (kill → all online)', since(killed))

    const newcomer = people[3]!
    await newcomer.page.goto(room)
    await Promise.all([...group, newcomer].map((p) => waitForConnected(p.page, 3)))
    await chat(log, newcomer.page, 'newcomer after the restart', [...group, newcomer])
    await chat(log, group[0]!.page, 'welcome back', [...group, newcomer])
    await allReceive(log)
    for (const p of [...group, newcomer]) {
      const list = await peopleList(p.page)
      expect(new Set(list).size, `${name(p.page)} sees no one twice`).toBe(list.length)
      expect(list).toHaveLength(3)
    }
    await expectExactlyOnce(log, [...group, newcomer])
  })

  it('1b. the server is stopped gracefully (SIGTERM) and started again', async () => {
    const group = people.slice(0, 2)
    await enter(group, roomLink(server.url))
    const log: Line[] = []
    const stopped = Date.now()
    expect(await server.stop('SIGTERM')).toBe(0)
    report('SIGTERM: the server exited (code 0) after', since(stopped))
    await Promise.all(group.map((p) => bannerShown(p.page)))
    await chat(log, group[0]!.page, 'while the server is stopped', group)
    server = await spawnServer(['--grace-ms', String(GRACE_MS), '--port', String(server.port)])
    const restarted = Date.now()
    await Promise.all(group.map((p) => bannerHidden(p.page, 40_000)))
    report('SIGTERM: clients back online after the restart', since(restarted))
    await chat(log, group[1]!.page, 'after the restart', group)
    await allReceive(log)
    await expectExactlyOnce(log, group)
    for (const p of group) expect(await peopleList(p.page)).toHaveLength(1)
  })

  it('2. a browser is killed without a goodbye', async () => {
    const [victim] = await launchPeople(1)
    try {
      const group = people.slice(0, 2)
      const room = roomLink(server.url)
      await enter([...group, victim!], room)
      const killed = Date.now()
      victim!.browser.process()!.kill('SIGKILL')
      await Promise.all(group.map((p) => waitForPeopleCount(p.page, 1, 15_000)))
      report('browser killed: the others show them gone', since(killed))
      expect(Date.now() - killed).toBeLessThan(15_000)
    } finally {
      await closeAll([victim!])
    }
  })

  it('3. one pair’s connection breaks while both stay in the room', async () => {
    const group = people.slice(0, 3)
    const [a, b, c] = group.map((p) => p.page) as [Page, Page, Page]
    const room = roomLink(server.url)
    await enter(group, room)
    const log: Line[] = []
    await chat(log, a, 'a before the break', group)

    // Close A's peer connection to B from inside A (identified by one of B's DTLS fingerprints).
    const fingerprints = await b.evaluate(() => window.__test.fingerprints())
    const broken = Date.now()
    expect(await a.evaluate((fps) => window.__test.close(fps), fingerprints)).toBe(true)
    await chat(log, a, 'a while the pair is down', group)
    await chat(log, b, 'b while the pair is down', group)
    await chat(log, c, 'c sees both', group)
    await allReceive(log)
    report('one pair broken: messages sent meanwhile delivered', since(broken))
    await Promise.all(group.map((p) => waitForConnected(p.page, 2)))
    report('one pair broken: the pair reconnected', since(broken))
    await chat(log, b, 'b after the pair is back', group)
    await allReceive(log)
    await expectExactlyOnce(log, group)
  })

  it('3b. a browser refuses a new connection (Chromium’s 500 per renderer): it says so once, chats on, and connects once it can', async () => {
    const group = people.slice(0, 2)
    const [a, b] = group.map((p) => p.page) as [Page, Page]
    const newcomer = people[2]!
    const room = roomLink(server.url)
    await enter(group, room)
    // Hold connections until Chromium refuses one, made with the unwrapped constructor so that only
    // `__held` keeps them (INSTRUMENT keeps every connection the page makes).
    const refusal = await b.evaluate(() => {
      const Native = RTCPeerConnection.prototype.constructor as typeof RTCPeerConnection
      const held: RTCPeerConnection[] = []
      ;(window as unknown as { __held: RTCPeerConnection[] }).__held = held
      for (;;) {
        try {
          held.push(new Native())
        } catch (err) {
          return String(err)
        }
      }
    })
    expect(refusal).toMatch(/Cannot create so many PeerConnections/)
    const notices = (p: Page) => p.$$eval('[role="log"] .notice', (n) => n.map((e) => e.textContent ?? ''))
    const refusedNotices = async (p: Page) => (await notices(p)).filter((n) => n.startsWith('Could not open a connection to someone'))

    await newcomer.page.goto(room)
    await waitForConnected(a, 2)
    await pollUntil(async () => (await refusedNotices(b)).length > 0, 30_000, 'the refusal said on the page')
    // The room goes on: no failure banner, the composer works, and the connection it has still carries chat.
    expect(await b.evaluate(() => (document.getElementById('banner') as HTMLElement).hidden)).toBe(true)
    const log: Line[] = []
    await chat(log, b, 'b at its limit', [people[0]!])
    await chat(log, newcomer.page, 'the newcomer, to those it reached', [people[0]!])
    await allReceive(log)

    const released = Date.now()
    await b.evaluate(() => {
      const held = (window as unknown as { __held: RTCPeerConnection[] }).__held
      for (const pc of held.splice(0)) pc.close()
    })
    // Chromium counts a closed connection until it is collected.
    const cdp = await b.createCDPSession()
    await cdp.send('HeapProfiler.collectGarbage')
    await cdp.detach()
    await Promise.all([a, b, newcomer.page].map((p) => waitForConnected(p, 2)))
    report('a refused connection: the pair connected once the browser allowed it', since(released))
    await chat(log, newcomer.page, 'the newcomer, to everyone', [...group, newcomer])
    await allReceive(log)
    // Said once, however many times the pair tried meanwhile.
    expect(await refusedNotices(b)).toEqual([
      expect.stringMatching(
        /^Could not open a connection to someone \(.*Cannot create so many PeerConnections\); trying again\. Closing other calls or tabs may help\.$/,
      ),
    ])
  })

  it('4. the event streams drop (proxy timeout), with signals in flight', async () => {
    const proxy = await startRecordingProxy(server.url)
    try {
      // The proxy is another origin: names live in its own localStorage.
      await Promise.all(people.slice(0, 4).map((p) => p.page.goto(proxy.url).then(() => setName(p.page, name(p.page)))))
      const group = people.slice(0, 3)
      const room = roomLink(proxy.url)
      await enter(group, room)
      const log: Line[] = []
      await chat(log, group[0]!.page, 'before the drops', group)
      const notices = async (p: Page) => p.$$eval('[role="log"] .notice', (n) => n.map((e) => e.textContent))
      const before = await Promise.all(group.map((p) => notices(p.page)))

      const newcomer = people[3]!
      const started = Date.now()
      const joining = newcomer.page.goto(room)
      // Cut every stream a few times while the newcomer's offers and answers are on their way.
      for (let i = 0; i < 4; i++) {
        proxy.cutStreams()
        await new Promise((r) => setTimeout(r, 150))
      }
      await joining
      await Promise.all([...group, newcomer].map((p) => waitForConnected(p.page, 3)))
      report('streams cut 4× during a join: everyone connected', since(started))
      await chat(log, newcomer.page, 'newcomer through the drops', [...group, newcomer])
      await chat(log, group[1]!.page, 'after the drops', [...group, newcomer])
      await allReceive(log)
      await expectExactlyOnce(log, [...group, newcomer])
      // No flapping presence: the three who were there saw only the newcomer arrive.
      const after = await Promise.all(group.map((p) => notices(p.page)))
      for (const [i, list] of after.entries()) {
        expect(list.slice(before[i]!.length).filter((n) => n?.endsWith(' left'))).toEqual([])
        expect(list.slice(before[i]!.length).filter((n) => n?.endsWith(' joined'))).toEqual(['P3 joined'])
      }
      expect(proxy.transcript()).toMatch(/> GET \/v1\/stream\?key=[^\n]+\n\{[^\n]*"last-event-id":"[^"]+"/)
    } finally {
      await proxy.close()
    }
  })

  it('5. a tab goes offline and slow, then comes back and catches up', async () => {
    const group = people.slice(0, 3)
    const [a, b, c] = group.map((p) => p.page) as [Page, Page, Page]
    const room = roomLink(server.url)
    await enter(group, room)
    const log: Line[] = []
    const cdp = await b.createCDPSession()
    const newcomer = people[3]!
    try {
      await setOffline(b, true)
      await cdp.send('Emulation.setCPUThrottlingRate', { rate: 8 })
      await bannerShown(b)
      await chat(log, a, 'while b is offline', group)
      // A newcomer needs the server to reach B: its signals wait for B's stream.
      await newcomer.page.goto(room)
      await Promise.all([a, c].map((p) => waitForConnected(p, 3)))
      await chat(log, newcomer.page, 'newcomer while b is offline', [...group, newcomer])
      await chat(log, c, 'c while b is offline', [...group, newcomer])
    } finally {
      await setOffline(b, false)
      await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 })
      await cdp.detach()
    }
    const back = Date.now()
    await bannerHidden(b)
    await waitForConnected(b, 3)
    report('offline tab back: connected to the newcomer', since(back))
    await allReceive(log)
    report('offline tab back: caught up on every message', since(back))
    await expectExactlyOnce(log, [...group, newcomer])
  })

  it('6. everyone joins at the same moment', async () => {
    const room = roomLink(server.url)
    const started = Date.now()
    await enter(people, room)
    report(`${PEOPLE} simultaneous joins: full mesh`, since(started))
    const log: Line[] = []
    for (const p of people) await chat(log, p.page, `hello from ${name(p.page)}`, people)
    await allReceive(log)
    await expectExactlyOnce(log, people)
    for (const p of people) expect(await p.page.evaluate(() => window.parley!.stats().connections)).toBe(PEOPLE - 1)
  })
})

describe('churn', () => {
  it('8. six people join and leave for half a minute: nothing leaks on either side', async () => {
    const room = roomLink(server.url)
    const [resident, ...others] = people as [Person, ...Person[]]
    await resident.page.goto(room)
    await waitForConnected(resident.page, 0)
    const probe = () =>
      resident.page.evaluate(() => ({
        openConnections: window.__test.openConnections(),
        timers: window.__test.timers(),
        remotes: window.parley!.peers.length,
      }))
    const baseline = await probe()
    // Any one join or leave that leaked would show; the length is for the races a random order finds.
    const started = Date.now()
    const until = started + Number(process.env.CHURN_MS ?? 30_000)
    let moves = 0
    const inRoom = new Set<Person>()
    while (Date.now() < until) {
      const person = others[Math.floor(Math.random() * others.length)]!
      if (inRoom.has(person)) {
        inRoom.delete(person)
        await person.page.goto('about:blank')
      } else {
        inRoom.add(person)
        await person.page.goto(room)
      }
      moves++
      await new Promise((r) => setTimeout(r, 200 + Math.random() * 800))
    }
    const churned = since(started)
    // Let the room settle with whoever is in it, then everyone leaves.
    await Promise.all([resident, ...inRoom].map((p) => waitForConnected(p.page, inRoom.size, 30_000)))
    await Promise.all([...inRoom].map((p) => p.page.goto('about:blank')))
    await waitForPeopleCount(resident.page, 0, 20_000)
    // simple-peer keeps a 5 s ICE timer after destroy(): wait for the page to be quiet.
    await pollUntil(
      async () => {
        const s = await probe()
        return s.openConnections === 0 && s.timers <= baseline.timers
      },
      15_000,
      'peer connections and timers released',
      200,
    )
    const end = await probe()
    report(`churn: ${moves} joins/leaves in ${churned}; resident's open connections after`, String(end.openConnections))
    expect(end.openConnections).toBe(0)
    expect(end.remotes).toBe(0)
    expect(end.timers).toBeLessThanOrEqual(baseline.timers)
    const left = Date.now()
    await resident.page.goto('about:blank')
    // The resident's goodbye is a beacon, which can land after about:blank has; a page whose renderer
    // crashed (test/README) says none, and its peers go when the grace period ends. A leak outlives that.
    let health: { rooms?: number; peers?: number } = {}
    await pollUntil(
      async () => {
        health = await (await fetch(`${server.url}/healthz`)).json()
        return health.rooms === 0 && health.peers === 0
      },
      GRACE_MS + 5_000,
      'the server holds no room and no peer',
      100,
    ).catch(() => {}) // the assertion below fails instead, showing what the server still held
    expect(health).toMatchObject({ rooms: 0, peers: 0 })
    report('churn: the server empty after the last one left', since(left))
  })

  it('9. a tab that goes away while its join is in flight leaves no ghost', async () => {
    // The server seats the newcomer, but its answer waits at the proxy: the page never learns its token.
    const { proxy, landed: joinLanded, release } = await holdJoinAnswers(server.url)
    const [resident, newcomer] = people as [Person, Person]
    const room = roomLink(server.url)
    // Every peer on the server (an earlier test may have left people in rooms of its own).
    const peers = async () => ((await (await fetch(`${server.url}/healthz`)).json()) as { peers: number }).peers
    try {
      await resident.page.goto(room)
      await waitForConnected(resident.page, 0)
      // The count must wait for the resident's own join.
      await waitForJoined(resident.page)
      const before = await peers()
      await newcomer.page.goto(room.replace(server.url, proxy.url))
      await joinLanded
      expect(await peers()).toBe(before + 1)
      const start = Date.now()
      await newcomer.page.goto('about:blank')
      // Gone well within the 10 s grace a peer that never opened its stream would otherwise keep.
      await pollUntil(async () => (await peers()) === before, 4_000, 'the newcomer seated for nobody is gone')
      report('a join cancelled by the page that went away: its peer gone after', since(start))
      await waitForPeopleCount(resident.page, 0, 4_000)
    } finally {
      release()
      await proxy.close()
      await resident.page.goto('about:blank')
    }
  })
})
