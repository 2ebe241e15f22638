import { nanoid } from 'nanoid'
import type { CDPSession, Page } from 'puppeteer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { lamportCap } from '../../client/lib/history'
import { createIdentity } from '../../client/lib/identity'
import type { ChatMessage, FileOffer, HistoryEntry } from '../../client/lib/peer-protocol'
import type { Identity } from '../../client/lib/types'
import {
  closeAll,
  launchFirefox,
  launchPeople,
  type Person,
  setName,
  setOffline,
  storedTexts,
  WIRE,
  type WireText,
  waitForConnected,
  waitForJoined,
  waitForMessage,
} from '../browsers'
import { pollUntil, roomLink, startServer, type TestServer } from '../helpers'

// A participant with the link runs their own code: Mallory's page is driven to send crafted but validly
// signed messages on her channel to Ana, while Ana and Ben keep talking. Mallory's page holds back its
// own hello and sends one with a key this test holds, so everything she sends verifies.
// Bounds asserted generously (a shared 2-core machine); the figures are printed. A task (script, or the
// style and layout of a rendering update) over 400 ms is a freeze, not load: at a load average of 12–27
// none passed 170 ms here, while a log that laid out thousands of entries at once took 200–500 ms. The
// longest animation frame (tasks back to back before a paint) is printed, not asserted: load stretches it.
// The round trip waits for what of the attack is queued ahead of Ben's line (each message a task of its
// own): 1.0–1.5 s for the 10,000-message flood and the 3,000 file offers in whole-suite runs here, 2.5 s
// in one where every figure of the table was twice that, so its bound is a hang's, not a speed's.
const HEAP_BOUND_BYTES = 96 * 1024 * 1024
const ROUND_TRIP_BOUND_MS = 5_000
const LONGEST_TASK_BOUND_MS = 400
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
const POLL = { polling: 50, timeout: 30_000 }

let server: TestServer
let people: Person[] = []
let ana: Person, ben: Person, mallory: Person
let cdp: CDPSession
let key: Identity
let roomId = ''
let malloryId = ''
let channel = 0
let seq = 0
const figures: Array<Record<string, string | number>> = []

/**
 * The main-thread watcher in Ana's page: the longest task and the longest animation frame (script plus
 * style and layout before it paints) since the last reset.
 */
const LONG_TASKS = `(() => {
  window.__long = { task: 0, frame: 0 }
  const watch = (type, field) =>
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) window.__long[field] = Math.max(window.__long[field], entry.duration)
    }).observe({ type })
  watch('longtask', 'task')
  watch('long-animation-frame', 'frame')
})()`

declare global {
  interface Window {
    __long: { task: number; frame: number }
    __quiet?: { last: string; same: number }
  }
}

const helloFrom = (texts: WireText[], name: string) =>
  texts.find((t) => {
    const m = JSON.parse(t.data) as { type: string; name?: string }
    return m.type === 'hello' && m.name === name
  })!

beforeAll(async () => {
  ;[server, people] = await Promise.all([startServer({ iceServers: [] }), launchPeople(3)])
  ;[ana, ben, mallory] = people as [Person, Person, Person]
  await Promise.all(people.map((p) => p.page.goto(server.url)))
  await Promise.all(people.map((p, i) => setName(p.page, ['Ana', 'Ben', 'Mallory'][i]!)))
  const link = roomLink(server.url)
  roomId = new URL(link).pathname.split('/').pop()!
  key = await createIdentity(roomId)
  await Promise.all([ana, ben].map((p) => p.page.goto(link)))
  await Promise.all([ana, ben].map((p) => waitForConnected(p.page, 1)))
  await ana.page.evaluate(LONG_TASKS)
  cdp = await ana.page.createCDPSession()

  await mallory.page.evaluateOnNewDocument(WIRE)
  await mallory.page.evaluateOnNewDocument(() => window.__wire.hold('hello'))
  await mallory.page.goto(link)
  await Promise.all([ana, ben, mallory].map((p) => waitForConnected(p.page, 2)))
  await mallory.page.waitForFunction(() => window.__wire.received().some((t) => t.data.includes('"Ana"')), POLL)
  channel = helloFrom(await mallory.page.evaluate(() => window.__wire.received()), 'Ana').channel
  malloryId = await mallory.page.evaluate(() => window.parley!.self.id)
})

afterAll(async () => {
  console.table(figures)
  await closeAll(people)
  await server?.close()
})

/** Sends raw texts on Mallory's channel to Ana, in one go. */
const send = (texts: string[]) =>
  mallory.page.evaluate(
    (c, all) => {
      for (const t of all) window.__wire.send(c, t)
    },
    channel,
    texts,
  )

async function signed(fields: Partial<ChatMessage>, by: Identity = key): Promise<ChatMessage> {
  const message: ChatMessage = {
    type: 'chat',
    id: nanoid(),
    from: malloryId,
    name: 'Mallory',
    text: `mallory ${nanoid(6)}`,
    time: Date.now(),
    seq: ++seq,
    lamport: 3,
    ...fields,
  }
  message.sig = await by.sign(message)
  return message
}

const shown = (page: Page) => page.$$eval('[role="log"] .message .text', (es) => es.map((e) => e.textContent ?? ''))

/**
 * Runs an attack, then has Ben say something to Ana while Ana is still taking the attack in (`started`
 * says when it has reached her): it must show within ROUND_TRIP_BOUND_MS. Call `settled` when the
 * attack is over: Ana's heap and longest main-thread task through it are recorded then.
 */
async function during(attack: string, act: () => Promise<unknown>, started: () => Promise<unknown> = async () => {}) {
  await ana.page.evaluate(() => Object.assign(window.__long, { task: 0, frame: 0 }))
  await act()
  await started()
  const text = `Ben during ${attack} ${nanoid(6)}`
  const start = Date.now()
  await ben.page.evaluate((t) => window.parley!.send(t), text)
  await ana.page.waitForFunction(
    (t) => [...document.querySelectorAll('[role="log"] .message .text')].some((e) => e.textContent === t),
    { polling: 'mutation', timeout: 30_000 },
    text,
  )
  const roundTrip = Date.now() - start
  figures.push({ attack, 'round trip ms': roundTrip })
  expect(roundTrip).toBeLessThan(ROUND_TRIP_BOUND_MS)
}

/** The attack is over: Ana's heap and her longest main-thread task since it began. */
async function settled() {
  await quiet()
  const { usedSize } = (await cdp.send('Runtime.getHeapUsage')) as { usedSize: number }
  const { task, frame } = await ana.page.evaluate(() => window.__long)
  Object.assign(figures.at(-1)!, {
    'heap MiB': +(usedSize / 2 ** 20).toFixed(1),
    'longest task ms': Math.round(task),
    'longest frame ms': Math.round(frame),
  })
  expect(usedSize).toBeLessThan(HEAP_BOUND_BYTES)
  expect(task).toBeLessThan(LONGEST_TASK_BOUND_MS)
  expect(ana.errors).toEqual([])
}

const stats = () => ana.page.evaluate(() => window.parley!.stats())

/** Ana's page has taken the attack in: its counters and log stayed the same through three polls. */
const quiet = () =>
  ana.page.waitForFunction(
    () => {
      const now = JSON.stringify(window.parley!.stats()) + document.querySelectorAll('[role="log"] > *').length
      window.__quiet ??= { last: '', same: 0 }
      const seen = window.__quiet
      seen.same = seen.last === now ? seen.same + 1 : 0
      seen.last = now
      return seen.same >= 3
    },
    { polling: 100, timeout: 30_000 },
  )

describe('a hostile peer with the link', () => {
  it('cannot put words in her own mouth through history before her hello: the entry waits for it', async () => {
    const other = await createIdentity(roomId)
    const forged = await signed({ text: `forged before hello ${nanoid(6)}`, lamport: 2 }, other)
    const genuine = await signed({ text: `genuine before hello ${nanoid(6)}`, lamport: 2 })
    const before = (await stats()).forged
    await during('forged history for a present peer', () =>
      send([
        JSON.stringify({
          type: 'history',
          entries: [
            { message: forged, key: other.key },
            { message: genuine, key: key.key },
          ],
        }),
        JSON.stringify({ type: 'hello', name: 'Mallory', have: 0, key: key.key }),
      ]),
    )
    await waitForMessage(ana.page, genuine.text)
    expect(await shown(ana.page)).not.toContain(forged.text)
    expect((await stats()).forged).toBe(before + 1)
    await settled()
  })

  it('has her first line checked before it is shown, and later ones shown at once, a bad one counted forged', async () => {
    // Anyone can name anyone's key in a hello: until a line of hers verifies under it, nothing of hers is
    // shown (the page keeps mute and block by that key). Once it has, only she writes on her channel, so a
    // later line is shown at once; its signature decides only whether it is handed on (history.ts, heard).
    const other = await createIdentity(roomId)
    const unproven = await signed({ text: `unproven ${nanoid(6)}`, lamport: 4 }, other)
    const proof = await signed({ text: `proof ${nanoid(6)}`, lamport: 5 })
    const later = await signed({ text: `later, badly signed ${nanoid(6)}`, lamport: 6 }, other)
    const before = (await stats()).forged
    await send([JSON.stringify(unproven)])
    await ana.page.waitForFunction((n) => window.parley!.stats().forged === n, POLL, before + 1)
    await send([JSON.stringify(proof)])
    await waitForMessage(ana.page, proof.text)
    expect(await shown(ana.page)).not.toContain(unproven.text)
    await send([JSON.stringify(later)])
    await waitForMessage(ana.page, later.text)
    await ana.page.waitForFunction((n) => window.parley!.stats().forged === n, POLL, before + 2)
  })

  it('gets no history back for a flood of hellos', async () => {
    const histories = async () =>
      (await mallory.page.evaluate(() => window.__wire.received())).filter(
        (t) => t.channel === channel && t.data.startsWith('{"type":"history"'),
      ).length
    const before = { histories: await histories(), overBudget: (await stats()).overBudget }
    const hello = JSON.stringify({ type: 'hello', name: 'Mallory', have: 0, key: key.key })
    await during('100 hellos', () => send(Array.from({ length: 100 }, () => hello)))
    await ana.page.waitForFunction((n) => window.parley!.stats().overBudget >= n, POLL, before.overBudget + 100)
    expect(await histories()).toBe(before.histories)
    await settled()
  })

  it('cannot mute the room with a huge Lamport time, nor crash it with an absurd time', async () => {
    const huge = await signed({ lamport: Number.MAX_SAFE_INTEGER })
    const absurd = await signed({ time: 1e300 })
    const farOff = await signed({ time: Date.now() + 10 * 86_400_000 })
    // At the cap it is taken, but cannot push Ana's clock past what Ben accepts from her.
    const atCap = await signed({ lamport: lamportCap(Date.now()) })
    await during('huge Lamport and absurd times', () => send([huge, absurd, farOff, atCap].map((m) => JSON.stringify(m))))
    await waitForMessage(ana.page, atCap.text)
    await ana.page.waitForFunction(() => window.parley!.stats().outOfRange >= 2, POLL)
    const texts = await shown(ana.page)
    for (const refused of [huge, absurd, farOff]) expect(texts).not.toContain(refused.text)
    // Ana's own next line still goes last, for her and for Ben.
    const last = `Ana after the attack ${nanoid(6)}`
    await ana.page.evaluate((t) => window.parley!.send(t), last)
    await waitForMessage(ben.page, last)
    expect((await shown(ben.page)).at(-1)).toBe(last)
    await settled()
  })

  it('is held to a budget: a flood of 10,000 messages is cut, and she shows as misbehaving', async () => {
    const flood = await Promise.all(
      Array.from({ length: 10_000 }, (_, i) => signed({ lamport: 10 + i, ...(i === 0 ? { text: 'the **earliest** line' } : {}) })),
    )
    const { overBudget: before } = await stats()
    const arriving = () => ana.page.waitForFunction((n) => window.parley!.stats().overBudget >= n, POLL, before + 1_000)
    await during('flood of 10,000 messages', () => send(flood.map((m) => JSON.stringify(m))), arriving)
    await ana.page.waitForFunction(
      (id) => document.querySelector(`ul[aria-label="People"] li[data-peer="${id}"]`)?.getAttribute('data-misbehaving') === 'true',
      POLL,
      malloryId,
    )
    // Most of the flood is dropped: 400 at once, then 100 a second, get through.
    await ana.page.waitForFunction((n) => window.parley!.stats().overBudget >= n, POLL, before + 5_000)
    // All of it has left Mallory's page (on a loaded machine its tail can lag behind a quiet spell at Ana's),
    // so the next attack does not meet a budget the flood is still emptying.
    await mallory.page.waitForFunction((c) => window.__wire.buffered(c) === 0, POLL, channel)
    await settled()
    // Her first line is held back from the page by now (only the newest lines are rendered); search finds
    // it as it is shown, without its formatting markers.
    expect(await ana.page.$$eval('.held .message', (held) => held.some((m) => m.textContent?.includes('the **earliest** line')))).toBe(true)
    await ana.page.type('#search', 'earliest line')
    expect(await ana.page.$$eval('#results button', (b) => b.map((x) => x.textContent))).toEqual(['Mallory: the earliest line'])
    await ana.page.$eval('#search', (input) => {
      ;(input as HTMLInputElement).value = ''
      input.dispatchEvent(new Event('input'))
    })
  })

  it('cannot grow the key map with 1,000 history authors', async () => {
    const authors = await Promise.all(Array.from({ length: 1_000 }, () => createIdentity(roomId)))
    const entries: HistoryEntry[] = await Promise.all(
      authors.map(async (author, i) => ({ message: await signed({ from: `author-${i}`, seq: 1, lamport: 20 }, author), key: author.key })),
    )
    const batches: string[] = []
    for (let i = 0; i < entries.length; i += 100) batches.push(JSON.stringify({ type: 'history', entries: entries.slice(i, i + 100) }))
    const { forged } = await stats()
    await during('1,000 history keys', () => send(batches))
    // Past 256 new authors (and past 1,000 entries on the channel) the rest is refused.
    await ana.page
      .waitForFunction((n) => window.parley!.stats().forged >= n, POLL, forged + 600)
      .catch(async (err) => {
        console.log(await stats(), forged)
        throw err
      })
    await settled()
  })

  it('cannot hold memory with 100 unfinished 64 MiB files, nor freeze the page with 3,000 file offers', async () => {
    const offer = (size: number, sha256: string): string =>
      JSON.stringify({
        type: 'file',
        id: nanoid(8),
        name: `big\u202Efdp.exe`,
        size,
        mime: 'application/octet-stream',
        sha256,
      } satisfies FileOffer)
    await during('100 unfinished 64 MiB files', () => send(Array.from({ length: 100 }, () => offer(64 * 1024 * 1024, 'a'.repeat(64)))))
    const names = await ana.page.$$eval('[role="log"] .file .file-name', (es) => es.map((e) => e.textContent))
    expect(names.length).toBeLessThanOrEqual(2)
    for (const name of names) expect(name).toBe('bigfdp.exe')
    await settled()
    await during('3,000 file offers', () => send(Array.from({ length: 3_000 }, () => offer(0, EMPTY_SHA256))))
    expect(await ana.page.$$eval('[role="log"] .message', (es) => es.length)).toBeLessThanOrEqual(2_000)
    await settled()
  })
})

describe('the person under attack', () => {
  it('can mute the misbehaving peer (her lines are hidden), then block her (she is gone and stays gone)', async () => {
    const row = `ul[aria-label="People"] li[data-peer="${malloryId}"]`
    await ana.page.evaluate((r) => document.querySelector<HTMLButtonElement>(`${r} button.mute`)!.click(), row)
    const muted = await signed({ lamport: 30, text: `muted ${nanoid(6)}` })
    await send([JSON.stringify(muted)])
    const marker = `Ben after the mute ${nanoid(6)}`
    await ben.page.evaluate((t) => window.parley!.send(t), marker)
    await waitForMessage(ana.page, marker)
    expect(await shown(ana.page)).not.toContain(muted.text)

    ana.page.once('dialog', (dialog) => void dialog.accept())
    await ana.page.evaluate((r) => document.querySelector<HTMLButtonElement>(`${r} button.block`)!.click(), row)
    await ana.page.waitForFunction((r) => !document.querySelector(r), POLL, row)
    const blocked = await ana.page.evaluate(() => localStorage.getItem(`parley:moderation:${location.pathname.split('/').pop()}`))
    // Listed by the key she signed with, not by this session's id.
    expect(JSON.parse(blocked!)).toMatchObject({ muted: [key.key], blocked: [key.key] })
    // Ben still talks to Ana, and Mallory's page loses her.
    const still = `Ben after the block ${nanoid(6)}`
    await ben.page.evaluate((t) => window.parley!.send(t), still)
    await waitForMessage(ana.page, still)
    // By name: her channel to Ben, which never gets her hello either, is made again every 15 s.
    await mallory.page.waitForFunction(() => !window.parley!.peers.some((p) => p.name === 'Ana' && p.state === 'connected'), POLL)
    expect(await ana.page.evaluate(() => window.parley!.peers.map((p) => p.name))).toEqual(['Ben'])
  })

  it('keeps her blocked when she reloads and comes back with a new session', async () => {
    // Her page holds back its own hello again (the hold is set for every document she loads).
    await mallory.page.reload()
    await mallory.page.waitForFunction(() => window.__wire.received().some((t) => t.data.includes('"Ana"')), POLL)
    channel = helloFrom(await mallory.page.evaluate(() => window.__wire.received()), 'Ana').channel
    malloryId = await mallory.page.evaluate(() => window.parley!.self.id)
    const back = await signed({ from: malloryId, lamport: 50, text: `back again ${nanoid(6)}` })
    await send([JSON.stringify({ type: 'hello', name: 'Mallory', have: 0, key: key.key }), JSON.stringify(back)])
    await mallory.page.waitForFunction(() => !window.parley!.peers.some((p) => p.name === 'Ana' && p.state === 'connected'), POLL)
    const marker = `Ben after her return ${nanoid(6)}`
    await ben.page.evaluate((t) => window.parley!.send(t), marker)
    await waitForMessage(ana.page, marker)
    expect(await shown(ana.page)).not.toContain(back.text)
    expect(await ana.page.evaluate(() => window.parley!.peers.map((p) => p.name))).toEqual(['Ben'])
  })
})

/**
 * Mallory passes `reader` history in Ben's name, signed with her own key, while Ben is away (gone past the
 * grace period, so nobody has heard his key); Ben comes back under his re-claimed id and says hello.
 */
async function forgedWhileAway(reader: Person) {
  // A server that lets an absent peer go quickly: Ben is gone from the room before the reader comes.
  const quick = await startServer({ iceServers: [], graceMs: 1_000 })
  const peersOn = async () => ((await (await fetch(`${quick.url}/healthz`)).json()) as { peers: number }).peers
  try {
    const link = roomLink(quick.url)
    const room = new URL(link).pathname.split('/').pop()!
    await ben.page.goto(link)
    await waitForJoined(ben.page)
    const benId = await ben.page.evaluate(() => window.parley!.self.id)
    await setOffline(ben.page, true)
    await pollUntil(async () => (await peersOn()) === 0, 15_000, 'Ben let go after the grace period')

    // The reader comes, and Mallory (her hello held, as above) passes her history in Ben's name, signed with a key
    // of her own: nobody here has heard Ben's, so the first one seen is taken.
    await Promise.all([reader.page.goto(link), mallory.page.goto(link)])
    await waitForConnected(reader.page, 1)
    // Names are kept per origin, and this server is another one: the reader's is the only channel Mallory has here.
    await mallory.page.waitForFunction(() => window.__wire.received().some((t) => t.data.startsWith('{"type":"hello"')), POLL)
    // Her hello is held here too, so the reader makes its channel to her again every 15 s: the newest
    // channel the reader said hello on is the one to send on.
    const toReader = async () =>
      (await mallory.page.evaluate(() => window.__wire.received())).filter((t) => t.data.startsWith('{"type":"hello"')).at(-1)!.channel
    const hers = await createIdentity(room)
    const historyOf = (...entries: ChatMessage[]) =>
      JSON.stringify({ type: 'history', entries: entries.map((message) => ({ message, key: hers.key })) })
    // A long line first, so that the reader can scroll up; the forged one then comes in below the view.
    const tall = await signed(
      { from: nanoid(), name: 'Zed', text: Array.from({ length: 60 }, (_, i) => `line ${i}`).join('\n'), lamport: 2 },
      hers,
    )
    await mallory.page.evaluate((c, t) => window.__wire.send(c, t), await toReader(), historyOf(tall))
    await waitForMessage(reader.page, tall.text)
    await reader.page.$eval('[role="log"]', (log) => log.scrollTo(0, 0))
    await reader.page.waitForFunction(() => document.querySelector('[role="log"]')!.scrollTop === 0, POLL)
    const forged = await signed({ from: benId, name: 'Ben', text: `forged in Ben's name ${nanoid(6)}`, lamport: 3 }, hers)
    await mallory.page.evaluate((c, t) => window.__wire.send(c, t), await toReader(), historyOf(forged))
    await waitForMessage(reader.page, forged.text)
    await reader.page.waitForFunction(() => document.getElementById('jump')!.textContent === '1 new message ↓', POLL)

    // Ben is back under the same id (his session re-claims it) and says hello with his own key.
    await setOffline(ben.page, false)
    await waitForConnected(reader.page, 2)
    expect(await ben.page.evaluate(() => window.parley!.self.id)).toBe(benId)
    await reader.page.waitForFunction(
      (t) => ![...document.querySelectorAll('[role="log"] .message .text')].some((e) => e.textContent === t),
      POLL,
      forged.text,
    )
    // It was the one new message below the view: none is left to jump to.
    await reader.page.waitForFunction(() => document.getElementById('jump')!.hidden, POLL)
    const real = `Ben, really ${nanoid(6)}`
    await ben.page.evaluate((t) => window.parley!.send(t), real)
    await waitForMessage(reader.page, real)
    expect(await shown(reader.page)).not.toContain(forged.text)
    expect(await reader.page.evaluate(() => window.parley!.stats().forged)).toBeGreaterThanOrEqual(1)
    // Nor kept: what the reader's browser stores of the room (the line was in it) is written again without it.
    await pollUntil(
      async () => {
        const kept = await storedTexts(reader.page, room)
        return kept.includes(real) && !kept.includes(forged.text)
      },
      15_000,
      'the stored history written again without the forged line',
    )
  } finally {
    await setOffline(ben.page, false)
    await Promise.all([...new Set([...people, reader])].map((p) => p.page.goto('about:blank')))
    await quick.close()
  }
}

describe('someone away', () => {
  it.each(['Chromium', 'Firefox'])(
    'has the lines she wrote in his name, with her own key, taken off the page and its store once he is back and says his (%s)',
    async (browser) => {
      const reader = browser === 'Chromium' ? ana : await launchFirefox()
      try {
        await forgedWhileAway(reader)
      } finally {
        if (reader !== ana) await closeAll([reader])
      }
    },
  )
})
