import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { nanoid } from 'nanoid'
import type { ElementHandle, Page } from 'puppeteer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createIdentity } from '../../client/lib/identity'
import type { ChatMessage, HistoryEntry } from '../../client/lib/peer-protocol'
import {
  closeAll,
  download,
  launchPeople,
  messages,
  type Person,
  say,
  setName,
  WIRE,
  type WireText,
  waitForConnected,
  waitForMessage,
  waitForPeopleCount,
} from '../browsers'
import { roomLink, startServer, type TestServer } from '../helpers'

// What people want from a chat, in four separate Chromium processes reused by every test (each test
// uses a fresh room): history for late joiners, signed so nobody can rewrite it, direct messages,
// typing, receipts, files, profiles and the unread count.
let server: TestServer
let people: Person[] = []
const NAMES = ['Ana', 'Ben', 'Cleo', 'Dev']
const POLL = { polling: 50, timeout: 20_000 }
const files = mkdtempSync(join(tmpdir(), 'parley-files-'))

beforeAll(async () => {
  // Four people on one address joining many rooms: a join allowance to match.
  ;[server, people] = await Promise.all([startServer({ iceServers: [], joinBurst: 1000 }), launchPeople(4)])
  await Promise.all(
    people.map(async (person, i) => {
      await person.page.goto(server.url)
      await setName(person.page, NAMES[i]!)
    }),
  )
})
afterAll(async () => {
  await closeAll(people)
  await server?.close()
  rmSync(files, { recursive: true, force: true })
})

const roomOf = (link: string) => new URL(link).pathname.split('/').pop()!

async function enter(group: Person[], url: string) {
  await Promise.all(group.map((p) => p.page.goto(url)))
  await Promise.all(group.map((p) => waitForConnected(p.page, group.length - 1)))
}

async function online(page: Page) {
  await page.waitForFunction(() => window.parley?.status === 'online', POLL)
}

/** Waits until People on `page` shows `name` for the peer `id`. */
async function namedIn(page: Page, id: string, name: string) {
  await page.waitForFunction(
    (i, n) => document.querySelector(`ul[aria-label="People"] li[data-peer="${i}"] .person-name`)?.textContent === n,
    POLL,
    id,
    name,
  )
}

/** The log's rename notices ("Ben is now Benedict") on `page`, oldest first. */
function renameNotices(page: Page): Promise<Array<string | null>> {
  return page.$$eval('[role="log"] .notice', (notices) => notices.map((n) => n.textContent).filter((t) => t?.includes(' is now ')))
}

/** The Messages log's chat lines with their ids, oldest first. */
async function lines(page: Page): Promise<Array<{ id: string; who: string; text: string; private: string | null }>> {
  return page.$$eval('[role="log"][aria-label="Messages"] .message:not(.file)', (entries) =>
    entries.map((e) => {
      const marker = e.querySelector<HTMLElement>('.private')
      return {
        id: e.getAttribute('data-id') ?? '',
        who: e.querySelector('.who')?.textContent ?? '',
        text: e.querySelector('.text')?.textContent ?? '',
        private: marker && !marker.hidden ? marker.textContent : null,
      }
    }),
  )
}

/**
 * Sends a line and waits until everyone it was sent to confirmed it. Then every channel of this page
 * has carried the other side's hello, so messages sent "to whoever is connected now" (typing, files)
 * reach them all.
 */
async function sayDelivered(page: Page, text: string) {
  await say(page, text)
  await page
    .waitForFunction(
      (t) =>
        [...document.querySelectorAll<HTMLElement>('[role="log"] .message.mine')].some(
          (e) =>
            e.querySelector('.text')?.textContent === t &&
            e.dataset.recipients !== undefined &&
            e.dataset.delivered === e.dataset.recipients,
        ),
      POLL,
      text,
    )
    .catch(async (err: Error) => {
      // What the page knew when it gave up: who the line was for, who confirmed it, and each link's state.
      const state = await page.evaluate(() => ({
        lines: [...document.querySelectorAll<HTMLElement>('[role="log"] .message.mine')].map((e) => ({ ...e.dataset })),
        peers: window.parley?.peers.map((p) => ({ id: p.id, state: p.state })),
        stats: window.parley?.stats(),
      }))
      throw new Error(`${err.message}; the page has ${JSON.stringify(state)}`)
    })
}

/** Resolves once this page's IndexedDB holds at least `count` history entries of its room. */
async function waitForStored(page: Page, count: number) {
  await page.waitForFunction(
    async (n) => {
      // Never open (and so create) the database before the page itself has.
      if (!(await indexedDB.databases()).some((d) => d.name === 'parley')) return false
      return new Promise<boolean>((resolve) => {
        const open = indexedDB.open('parley')
        open.onerror = () => resolve(false)
        open.onsuccess = () => {
          const db = open.result
          const room = location.pathname.split('/').pop()!
          // Each page writes its own record of the room (client/page/idb-store.ts).
          const get = db
            .transaction('history', 'readonly')
            .objectStore('history')
            .getAll(IDBKeyRange.bound([room], [room, []]))
          get.onerror = () => {
            db.close()
            resolve(false)
          }
          get.onsuccess = () => {
            db.close()
            resolve(get.result.flat().length >= n)
          }
        }
      })
    },
    POLL,
    count,
  )
}

describe('history', () => {
  it('gives a newcomer the history merged from three people who each held part of it', async () => {
    const [ana, ben, cleo, dev] = people as [Person, Person, Person, Person]
    const room = roomLink(server.url)
    const parts = [ana, ben, cleo].map((p, i) => ({ person: p, name: NAMES[i]!, text: `${NAMES[i]}'s part ${nanoid(6)}` }))

    // Each alone in the room in turn: says one thing, and leaves with it in IndexedDB.
    for (const { person, text } of parts) {
      await person.page.goto(room)
      await online(person.page)
      await waitForPeopleCount(person.page, 0)
      await say(person.page, text)
      await waitForStored(person.page, 1)
      await person.page.goto('about:blank')
    }

    // The three come back, each bringing its part, and a newcomer joins them.
    const texts = parts.map((p) => p.text)
    const hasAll = (page: Page) =>
      page.waitForFunction(
        (want: string[]) => {
          const seen = [...document.querySelectorAll('[role="log"] .message .text')].map((e) => e.textContent)
          return want.every((t) => seen.includes(t))
        },
        POLL,
        texts,
      )
    await enter([ana, ben, cleo], room)
    await Promise.all([ana, ben, cleo].map((p) => hasAll(p.page)))
    await dev.page.goto(room)
    await Promise.all([ana, ben, cleo, dev].map((p) => waitForConnected(p.page, 3)))
    await hasAll(dev.page)

    const newcomer = (await lines(dev.page)).filter((l) => texts.includes(l.text))
    expect(newcomer.map((l) => l.text).sort()).toEqual([...texts].sort()) // each exactly once
    for (const { name, text } of parts) expect(newcomer.find((l) => l.text === text)!.who).toBe(name)
    // One order for everyone: the same as each of the three who held a part sees.
    for (const { person, text } of parts) {
      const theirs = (await lines(person.page)).filter((l) => texts.includes(l.text))
      expect(theirs.map((l) => l.id)).toEqual(newcomer.map((l) => l.id))
      expect(theirs.find((l) => l.text === text)!.who).toBe('You')
    }
  })
})

/** The hello the tapped page got from `name`: on which of its channels, with which key. */
function helloFrom(received: WireText[], name: string): { channel: number; key: string } {
  for (const { channel, data } of received) {
    const message = JSON.parse(data) as { type?: string; name?: string; key?: string }
    if (message.type === 'hello' && message.name === name && message.key) return { channel, key: message.key }
  }
  throw new Error(`no hello from ${name}`)
}

const forgedCount = (page: Page) => page.evaluate(() => window.parley!.stats().forged)

describe('forged history', () => {
  it('is refused: a rewritten message, and messages of a present person under another key', async () => {
    // Mallory is the third browser (her name shows as Cleo); Dev is an honest person who stays.
    const [ana, ben, mallory, dev] = people as [Person, Person, Person, Person]
    const { identifier } = await mallory.page.evaluateOnNewDocument(WIRE)
    try {
      const room = roomLink(server.url)
      const roomId = roomOf(room)
      // Ben says something Mallory keeps, and leaves.
      await enter([ben, mallory], room)
      const genuine = `Ben really said ${nanoid(6)}`
      await say(ben.page, genuine)
      await waitForMessage(mallory.page, genuine)
      await ben.page.goto('about:blank')
      await waitForPeopleCount(mallory.page, 0)

      // What Mallory got from Ben: his line, as it came over the wire, and his key, from his hello.
      const heard = await mallory.page.evaluate(() => window.__wire.received())
      const original = heard.map((r) => JSON.parse(r.data) as ChatMessage).find((m) => m.type === 'chat' && m.text === genuine)!
      const benKey = helloFrom(heard, 'Ben').key
      const checker = await createIdentity(roomId)
      expect(await checker.verify(original, benKey)).toBe(true) // what Mallory starts from is genuine

      // Ana joins late; Mallory holds back the history her page would hand over, and sends a rewritten copy.
      await mallory.page.evaluate(() => window.__wire.hold('history'))
      await ana.page.goto(room)
      await Promise.all([ana, mallory].map((p) => waitForConnected(p.page, 1)))
      await mallory.page.waitForFunction(() => window.__wire.held().length > 0, POLL)
      const [held] = await mallory.page.evaluate(() => window.__wire.held())

      const rewritten = `Ben said I may have his password ${nanoid(6)}`
      const wire = (entries: HistoryEntry[]) => JSON.stringify({ type: 'history', entries })
      await mallory.page.evaluate(
        (channel, data) => window.__wire.send(channel, data),
        held!.channel,
        wire([{ message: { ...original, text: rewritten }, key: benKey }]),
      )
      await ana.page.waitForFunction(() => window.parley!.stats().forged >= 1, POLL)
      // The genuine entry still goes in after the forged copy of it was refused.
      await mallory.page.evaluate((channel, data) => window.__wire.send(channel, data), held!.channel, held!.data)
      await waitForMessage(ana.page, genuine)
      expect((await lines(ana.page)).find((l) => l.text === genuine)!.who).toBe('Ben')

      // Dev is here and has said hello to Ana (his key is known); Mallory makes up messages "from" him.
      await dev.page.goto(room)
      await Promise.all([ana, mallory, dev].map((p) => waitForConnected(p.page, 2)))
      const live = `Dev is here ${nanoid(6)}`
      await say(dev.page, live)
      await Promise.all([ana, mallory].map((p) => waitForMessage(p.page, live)))
      const received = await mallory.page.evaluate(() => window.__wire.received())
      const devId = await mallory.page.evaluate(() => window.parley!.peers.find((p) => p.name === 'Dev')!.id)
      const wrongKey = await createIdentity(roomId) // a key that is not Dev's (Mallory's own would do as well)
      const madeUp = (text: string): ChatMessage => ({
        type: 'chat',
        id: nanoid(),
        from: devId,
        name: 'Dev',
        text,
        time: Date.now(),
        seq: 7,
        lamport: 9,
      })
      const underOtherKey = madeUp(`Dev: send Mallory the files ${nanoid(6)}`)
      underOtherKey.sig = await wrongKey.sign(underOtherKey)
      const underHisKey = madeUp(`Dev: Mallory is in charge ${nanoid(6)}`)
      underHisKey.sig = await wrongKey.sign(underHisKey)
      await mallory.page.evaluate(
        (channel, data) => window.__wire.send(channel, data),
        helloFrom(received, 'Ana').channel,
        wire([
          { message: underOtherKey, key: wrongKey.key }, // validly signed, but not by Dev's key
          { message: underHisKey, key: helloFrom(received, 'Dev').key }, // Dev's key, someone else's signature
        ]),
      )
      await ana.page.waitForFunction(() => window.parley!.stats().forged >= 3, POLL)

      // A last genuine line from Mallory's page arrives after all of the above (one ordered channel).
      const after = `nothing else ${nanoid(6)}`
      await say(mallory.page, after)
      await waitForMessage(ana.page, after)
      const shown = (await messages(ana.page)).map((m) => m.text)
      for (const forged of [rewritten, underOtherKey.text, underHisKey.text]) expect(shown).not.toContain(forged)
      expect(await forgedCount(ana.page)).toBe(3)
    } finally {
      await mallory.page.removeScriptToEvaluateOnNewDocument(identifier)
    }
  })

  // Only the reader's own key may sign as the reader: a line forged in their name is refused too.
  it('is refused when it claims to come from the reader', async () => {
    const [ana, , mallory] = people as [Person, Person, Person]
    const { identifier } = await mallory.page.evaluateOnNewDocument(WIRE)
    try {
      const room = roomLink(server.url)
      await enter([ana, mallory], room)
      await sayDelivered(mallory.page, 'hello Ana')
      const anaId = await ana.page.evaluate(() => window.parley!.self.id)
      const malloryId = await ana.page.evaluate(() => window.parley!.peers[0]!.id)
      const received = await mallory.page.evaluate(() => window.__wire.received())
      const wrongKey = await createIdentity(roomOf(room))
      const inHerName: ChatMessage = {
        type: 'chat',
        id: nanoid(),
        from: anaId,
        name: 'Ana',
        text: `Ana: I owe Mallory 100 ${nanoid(6)}`,
        time: Date.now(),
        seq: 3,
        lamport: 5,
      }
      inHerName.sig = await wrongKey.sign(inHerName)
      // A second entry, refused for sure (Mallory is connected and her key is known), marks when Ana is done.
      const control: ChatMessage = { ...inHerName, id: nanoid(), from: malloryId, name: 'Mallory', text: `control ${nanoid(6)}` }
      control.sig = await wrongKey.sign(control)
      await mallory.page.evaluate(
        (channel, data) => window.__wire.send(channel, data),
        helloFrom(received, 'Ana').channel,
        JSON.stringify({
          type: 'history',
          entries: [
            { message: inHerName, key: wrongKey.key },
            { message: control, key: wrongKey.key },
          ],
        }),
      )
      await ana.page.waitForFunction(() => window.parley!.stats().forged >= 1, POLL)
      expect((await messages(ana.page)).map((m) => m.text)).not.toContain(inHerName.text)
      expect(await forgedCount(ana.page)).toBe(2)
    } finally {
      await mallory.page.removeScriptToEvaluateOnNewDocument(identifier)
    }
  })
})

describe('direct messages', () => {
  it('reach only their recipient, marked private on both sides, and go nowhere once the recipient left', async () => {
    const [ana, ben, cleo] = people as [Person, Person, Person]
    await enter([ana, ben, cleo], roomLink(server.url))
    // Everyone else is a person to choose; choosing one writes to them privately until "Back to everyone".
    const choices = await ana.page.$$eval('ul[aria-label="People"] li[data-peer] button.person-open', (bs) =>
      bs.map((b) => ({ peer: b.closest('li')!.getAttribute('data-peer'), name: b.querySelector('.person-name')!.textContent ?? '' })),
    )
    expect(choices.map((c) => c.name).sort()).toEqual(['Ben', 'Cleo'])
    const secret = `just between us ${nanoid(6)}`
    await ana.page.click(`ul[aria-label="People"] li[data-peer="${choices.find((c) => c.name === 'Ben')!.peer}"] button.person-open`)
    const bar = () => ana.page.$eval('#private-bar', (bar) => ((bar as HTMLElement).hidden ? null : bar.textContent))
    expect(await bar()).toContain('Private message to Ben')
    // An Escape that closes the mention suggestions closes only them: the next Enter still goes to Ben alone.
    await ana.page.type('textarea[aria-label="Message"]', '@C')
    await ana.page.waitForSelector('#mentions button[aria-label="Mention Cleo"]', POLL)
    await ana.page.keyboard.press('Escape')
    expect(await ana.page.$eval('#mentions', (list) => (list as HTMLElement).hidden)).toBe(true)
    expect(await bar()).toContain('Private message to Ben')
    await ana.page.$eval('textarea[aria-label="Message"]', (box) => ((box as HTMLTextAreaElement).value = ''))
    await say(ana.page, secret)
    await waitForMessage(ben.page, secret)
    expect((await lines(ben.page)).find((l) => l.text === secret)).toMatchObject({ who: 'Ana', private: 'private' })

    // Ben reloads (a new session): what Ana meant for him goes nowhere, and not to everyone, until she chooses.
    await ben.page.reload()
    await ana.page.waitForFunction(
      () => document.getElementById('private-bar')!.textContent?.includes('Ben left or reloaded: choose again in People'),
      POLL,
    )
    await ana.page.type('textarea[aria-label="Message"]', 'meant for Ben')
    await ana.page.keyboard.press('Enter')
    expect(await ana.page.$eval('textarea[aria-label="Message"]', (box) => (box as HTMLTextAreaElement).value)).toBe('meant for Ben')
    // A file pasted meanwhile does not go either, and the page says so.
    await ana.page.$eval('textarea[aria-label="Message"]', (box) => {
      const clipboardData = new DataTransfer()
      clipboardData.items.add(new File(['for Ben'], 'plan.txt', { type: 'text/plain' }))
      box.dispatchEvent(new ClipboardEvent('paste', { clipboardData, bubbles: true, cancelable: true }))
    })
    await ana.page.waitForFunction(
      () =>
        [...document.querySelectorAll('[role="log"] .notice')].some(
          (n) => n.textContent === 'Not sent: plan.txt. Ben left or reloaded: choose again in People.',
        ),
      POLL,
    )
    await Promise.all([ana, ben, cleo].map((p) => waitForConnected(p.page, 2)))

    await ana.page.locator('::-p-aria(Back to everyone[role="button"])').click()
    expect(await ana.page.$eval('#private-bar', (bar) => (bar as HTMLElement).hidden)).toBe(true)
    await ana.page.$eval('textarea[aria-label="Message"]', (box) => ((box as HTMLTextAreaElement).value = ''))
    const everyone = `for everyone ${nanoid(6)}`
    await say(ana.page, everyone)
    await Promise.all([ben, cleo].map((p) => waitForMessage(p.page, everyone)))
    expect((await messages(cleo.page)).map((m) => m.text)).toEqual([everyone])
    expect((await lines(ben.page)).find((l) => l.text === everyone)!.private).toBeNull()
    const mine = await lines(ana.page)
    expect(mine.find((l) => l.text === secret)).toMatchObject({ who: 'You', private: 'private to Ben' })
    expect(mine.find((l) => l.text === everyone)!.private).toBeNull()
  })
})

describe('typing', () => {
  it('shows who is typing, and clears a few seconds after they stop', async () => {
    const [ana, ben] = people as [Person, Person]
    await enter([ana, ben], roomLink(server.url))
    // Ana has Ben's hello once his first line reached her (typing goes only to channels that said hello).
    // Not a line of her own: the Message box would announce typing, and the next comes 2 s later at most.
    await say(ben.page, 'hi Ana')
    await waitForMessage(ana.page, 'hi Ana')
    await ana.page.type('textarea[aria-label="Message"]', 'a long thought')
    await ben.page.waitForFunction(() => document.getElementById('typing')!.textContent === 'Ana is typing…', POLL)
    const shown = Date.now()
    await ben.page.waitForFunction(() => document.getElementById('typing')!.textContent === '', { polling: 50, timeout: 8_000 })
    expect(Date.now() - shown).toBeGreaterThan(2_000) // it waited for more typing before giving up
  })
})

describe('receipts', () => {
  it('come back from everyone a message was sent to', async () => {
    const [ana, ben, cleo] = people as [Person, Person, Person]
    await enter([ana, ben, cleo], roomLink(server.url))
    const text = `did you get this ${nanoid(6)}`
    await say(ana.page, text)
    await ana.page.waitForFunction(
      (t) => {
        const entry = [...document.querySelectorAll<HTMLElement>('[role="log"] .message.mine')].find(
          (e) => e.querySelector('.text')?.textContent === t,
        )
        return entry?.dataset.delivered === '2' && entry.dataset.recipients === '2'
      },
      POLL,
      text,
    )
    const receipt = await ana.page.$$eval('[role="log"] .message.mine .receipt', (rs) =>
      rs.map((r) => ({ text: r.textContent, hidden: (r as HTMLElement).hidden })),
    )
    expect(receipt).toEqual([{ text: '✓ delivered', hidden: false }])
  })
})

/** A 1×1 PNG. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64')

describe('files', () => {
  it('reach everyone intact, with progress, and images show inline', async () => {
    const [ana, ...others] = people as [Person, Person, Person, Person]
    await enter(people, roomLink(server.url))
    await sayDelivered(ana.page, 'files coming')
    const big = randomBytes(5 * 1024 * 1024)
    const bigPath = join(files, 'random.bin')
    const pngPath = join(files, 'dot.png')
    writeFileSync(bigPath, big)
    writeFileSync(pngPath, PNG)
    // Every value each progress bar takes, as it takes it.
    await Promise.all(
      people.map((p) =>
        p.page.evaluate(() => {
          const seen: number[] = []
          Object.assign(window, { __progress: seen })
          new MutationObserver((records) => {
            for (const r of records) if (r.target instanceof HTMLProgressElement) seen.push(Number(r.oldValue ?? 0), r.target.value)
          }).observe(document.getElementById('messages')!, {
            subtree: true,
            attributes: true,
            attributeOldValue: true,
            attributeFilter: ['value'],
          })
        }),
      ),
    )
    const input = (await ana.page.$('#file')) as ElementHandle<HTMLInputElement>
    await input.uploadFile(bigPath, pngPath)

    const settled = (page: Page, name: string) =>
      page.waitForFunction(
        (n) =>
          [...document.querySelectorAll<HTMLElement>('[role="log"] .message.file')]
            .find((e) => e.querySelector('.file-name')?.textContent === n)
            ?.dataset.state?.match(/^(done|failed)$/),
        { polling: 50, timeout: 60_000 },
        name,
      )
    await Promise.all(people.flatMap((p) => [settled(p.page, 'random.bin'), settled(p.page, 'dot.png')]))

    const state = (page: Page, name: string) =>
      page.$$eval(
        '[role="log"] .message.file',
        (entries, n) => {
          const entry = entries.find((e) => e.querySelector('.file-name')?.textContent === n) as HTMLElement
          return {
            state: entry.dataset.state,
            progress: entry.querySelector('progress')!.value,
            link: entry.querySelector<HTMLAnchorElement>('a[download]')?.href,
          }
        },
        name,
      )
    expect(await state(ana.page, 'random.bin')).toEqual({ state: 'done', progress: 100, link: undefined })
    const sha256 = createHash('sha256').update(big).digest('hex')
    for (const { page } of others) {
      expect(await state(page, 'random.bin')).toMatchObject({ state: 'done', progress: 100, link: expect.stringMatching(/^blob:/) })
      const saved = await download(page, '[role="log"] .message.file[data-state="done"] a[download="random.bin"]')
      expect(createHash('sha256').update(saved).digest('hex')).toBe(sha256)
      const preview = await page.waitForFunction(() => {
        const image = document.querySelector<HTMLImageElement>('[role="log"] .message.file img.preview')
        return image?.complete && image.naturalWidth > 0 && { width: image.naturalWidth, alt: image.alt }
      }, POLL)
      expect(await preview.jsonValue()).toEqual({ width: 1, alt: 'dot.png' })
    }
    // Progress moved through the values in between, on the way to 100.
    for (const { page } of others) {
      const seen = await page.evaluate(() => (window as unknown as { __progress: number[] }).__progress)
      expect(seen.some((v) => v > 0 && v < 100)).toBe(true)
      expect(seen.at(-1)).toBe(100)
    }
  })
})

describe('profiles', () => {
  it('show a new colour and name to everyone, live and to newcomers', async () => {
    const [ana, ben, cleo] = people as [Person, Person, Person]
    const room = roomLink(server.url)
    await enter([ana, ben], room)
    const anaId = await ana.page.evaluate(() => window.parley!.self.id)
    const avatar = (page: Page) =>
      page.$eval(`ul[aria-label="People"] li[data-peer="${anaId}"]`, (row) => ({
        name: row.querySelector('.person-name')!.textContent,
        letter: row.querySelector('.avatar')!.textContent,
        background: getComputedStyle(row.querySelector('.avatar')!).backgroundColor,
      }))
    try {
      // Colours come from a palette; the one Ana picks is the one the others see.
      await ana.page.locator('::-p-aria(Orange[role="radio"])').click()
      await setName(ana.page, 'Zoe')
      await ben.page.waitForFunction(
        (id) => {
          const row = document.querySelector(`ul[aria-label="People"] li[data-peer="${id}"]`)
          return (
            row?.querySelector('.person-name')?.textContent === 'Zoe' &&
            getComputedStyle(row.querySelector('.avatar')!).backgroundColor === 'rgb(181, 71, 8)'
          )
        },
        POLL,
        anaId,
      )
      expect(await avatar(ben.page)).toEqual({ name: 'Zoe', letter: 'Z', background: 'rgb(181, 71, 8)' })
      await cleo.page.goto(room)
      await waitForConnected(cleo.page, 2)
      await namedIn(cleo.page, anaId, 'Zoe')
      expect(await avatar(cleo.page)).toEqual({ name: 'Zoe', letter: 'Z', background: 'rgb(181, 71, 8)' })
      // Kept for the next visit, not picked anew (nor written again).
      const spy = await ana.page.evaluateOnNewDocument(() => {
        const writes: string[] = []
        const setItem = Storage.prototype.setItem
        Storage.prototype.setItem = function (key: string, value: string) {
          writes.push(key)
          setItem.call(this, key, value)
        }
        Object.assign(window, { __writes: writes })
      })
      await ana.page.reload()
      await ana.page.removeScriptToEvaluateOnNewDocument(spy.identifier)
      await waitForConnected(ana.page, 2)
      expect(await ana.page.evaluate(() => (window as unknown as { __writes: string[] }).__writes)).not.toContain('parley:color')
      const checked = await ana.page.$$eval('[aria-label="Your colour"] [aria-checked="true"]', (s) =>
        s.map((e) => e.getAttribute('aria-label')),
      )
      expect(checked).toEqual(['Orange'])
      expect(await ana.page.evaluate(() => window.parley!.self.color)).toBe('#b54708')
    } finally {
      await setName(ana.page, 'Ana')
    }
  })
})

describe('mute', () => {
  it('hides what the muted person said (before a reload too) and says, from the keyboard, and Unmute shows it again', async () => {
    const [ana, ben] = people as [Person, Person]
    await enter([ana, ben], roomLink(server.url))
    // A line and a file of his previous session: muting his new one hides them too (same key).
    await sayDelivered(ben.page, 'before the reload')
    const notePath = join(files, 'note.txt')
    writeFileSync(notePath, 'from before the reload')
    await ((await ben.page.$('#file')) as ElementHandle<HTMLInputElement>).uploadFile(notePath)
    const file = '[role="log"] .message.file[data-state="done"]'
    await ana.page.waitForSelector(file, POLL)
    const fileShown = () => ana.page.$eval(file, (entry) => entry.checkVisibility())
    await ben.page.reload()
    await Promise.all([ana, ben].map((p) => waitForConnected(p.page, 1)))
    const benId = await ben.page.evaluate(() => window.parley!.self.id)
    await ana.page.waitForFunction((id) => document.querySelector(`ul[aria-label="People"] li[data-peer="${id}"]`), POLL, benId)
    const button = `ul[aria-label="People"] li[data-peer="${benId}"] button.mute`
    const shown = () =>
      ana.page.$$eval('[role="log"] .message .text', (texts) => texts.filter((t) => t.checkVisibility()).map((t) => t.textContent))
    const press = async (label: string) => {
      await ana.page.focus(button)
      await ana.page.keyboard.press('Enter')
      await ana.page.waitForFunction((b, l) => document.querySelector(b)?.getAttribute('aria-label') === l, POLL, button, label)
    }
    const listed = async () =>
      JSON.parse((await ana.page.evaluate(() => localStorage.getItem(`parley:moderation:${location.pathname.split('/').pop()}`))) ?? '{}')
    await sayDelivered(ben.page, 'before the mute')
    await sayDelivered(ana.page, 'Ana meanwhile')
    expect(await shown()).toEqual(['before the reload', 'before the mute', 'Ana meanwhile'])

    expect(await fileShown()).toBe(true)
    await press('Unmute Ben')
    expect(await shown()).toEqual(['Ana meanwhile'])
    expect(await fileShown()).toBe(false)
    // Kept by the key his line was signed with; what he says while muted is dropped (acknowledged all the same).
    expect((await listed()).muted).toEqual([await ben.page.evaluate(() => window.parley!.self.key)])
    await sayDelivered(ben.page, 'during the mute')
    expect((await lines(ana.page)).map((l) => l.text)).toEqual(['before the reload', 'before the mute', 'Ana meanwhile'])
    // Nor are his renames news while he is muted, nor once he is unmuted (People still shows his newest name).
    try {
      await setName(ben.page, 'Benedict')
      await namedIn(ana.page, benId, 'Benedict')
      await sayDelivered(ben.page, 'renamed while muted')
      expect(await renameNotices(ana.page)).toEqual([])

      await press('Mute Benedict')
      expect(await shown()).toEqual(['before the reload', 'before the mute', 'Ana meanwhile'])
      expect((await listed()).muted).toEqual([])
      await sayDelivered(ben.page, 'after the unmute')
      await waitForMessage(ana.page, 'after the unmute')
      expect(await shown()).toEqual(['before the reload', 'before the mute', 'Ana meanwhile', 'after the unmute'])
      expect(await renameNotices(ana.page)).toEqual([])
      expect(await fileShown()).toBe(true)
    } finally {
      await setName(ben.page, 'Ben')
    }
    expect(await ana.page.$eval('#unblock', (b) => (b as HTMLElement).hidden)).toBe(true)

    // A line that came just before the mute and is not on screen yet (a flood's tail) hides all the same,
    // and once unmuted it shows as any line would (its mention marked).
    // Presses Mute in the very task Ana's page receives the line `text` (before the page has built it).
    const muteAt = (text: string) =>
      ana.page.evaluate(
        (b, t) => {
          const off = window.parley!.on('message', (message) => {
            if (message.text !== t) return
            off()
            document.querySelector<HTMLButtonElement>(b)!.click()
          })
        },
        button,
        text,
      )
    await muteAt('just before the mute, @Ana')
    await sayDelivered(ben.page, 'just before the mute, @Ana')
    await ana.page.waitForFunction((b) => document.querySelector(b)?.getAttribute('aria-label') === 'Unmute Ben', POLL, button)
    await ana.page.waitForFunction(
      () => [...document.querySelectorAll('[role="log"] .message .text')].some((t) => t.textContent === 'just before the mute, @Ana'),
      POLL,
    )
    expect(await shown()).toEqual(['Ana meanwhile'])
    await press('Mute Ben')
    expect(await shown()).toContain('just before the mute, @Ana')
    expect(await ana.page.$$eval('[role="log"] .message.mentions-me .text', (texts) => texts.map((t) => t.textContent))).toEqual([
      'just before the mute, @Ana',
    ])

    // Muted at the last line of a burst: those already built but not yet placed (log-feed.ts places a few
    // each frame) hide too, and none is counted new.
    await muteAt('burst 299')
    await ben.page.evaluate(() => {
      for (let i = 0; i < 300; i++) void window.parley!.send(`burst ${i}`)
    })
    await ana.page.waitForFunction(
      () => [...document.querySelectorAll('[role="log"] .message .text')].filter((t) => t.textContent?.startsWith('burst ')).length === 300,
      POLL,
    )
    expect((await shown()).filter((text) => text?.startsWith('burst '))).toEqual([])
    expect(await ana.page.$eval('#jump', (jump) => (jump as HTMLElement).hidden)).toBe(true)
    await press('Mute Ben')
  })
})

describe('renames', () => {
  it('are told in the log, a rename loop as one notice when the quiet time after the first is over', async () => {
    const [ana, ben] = people as [Person, Person]
    await enter([ana, ben], roomLink(server.url))
    const benId = await ben.page.evaluate(() => window.parley!.self.id)
    try {
      await setName(ben.page, 'Ben2')
      await namedIn(ana.page, benId, 'Ben2')
      await ana.page.waitForFunction(
        () => [...document.querySelectorAll('[role="log"] .notice')].some((n) => n.textContent === 'Ben is now Ben2'),
        POLL,
      )
      // Twenty more in one burst (well inside the 10 s between notices, however busy the machine).
      await ben.page.evaluate(() => {
        for (let i = 3; i <= 22; i++) window.parley!.setName(`Ben${i}`)
      })
      await namedIn(ana.page, benId, 'Ben22')
      // Notices go in before a line that came after them.
      await say(ben.page, 'renamed enough')
      await waitForMessage(ana.page, 'renamed enough')
      expect((await renameNotices(ana.page))[0]).toBe('Ben is now Ben2')
      // The twenty are told as one once the 10 s after the first notice are over, and none in between.
      await ana.page.waitForFunction(
        () => [...document.querySelectorAll('[role="log"] .notice')].some((n) => n.textContent === 'Ben2 is now Ben22'),
        { polling: 100, timeout: 20_000 },
      )
      expect(await renameNotices(ana.page)).toEqual(['Ben is now Ben2', 'Ben2 is now Ben22'])
    } finally {
      await setName(ben.page, 'Ben')
    }
  })
})

describe('notifications', () => {
  it('count unread messages in the title while the tab is hidden', async () => {
    const [ana, ben] = people as [Person, Person]
    const room = roomLink(server.url)
    await enter([ana, ben], room)
    const title = `Parley · ${roomOf(room)}`
    expect(await ben.page.title()).toBe(title)
    const other = await ben.browser.newPage()
    try {
      await other.bringToFront()
      await ben.page.waitForFunction(() => document.hidden, POLL)
      await say(ana.page, 'one')
      await say(ana.page, 'two')
      await ben.page.waitForFunction((t) => document.title === `(2) ${t}`, POLL, title)
      // The tab's icon carries a badge meanwhile (drawn on a canvas: the CSP allows data: images).
      const icon = () => ben.page.$eval('link[rel="icon"]', (l) => l.getAttribute('href'))
      expect(await icon()).toMatch(/^data:image\/png;base64,/)
      await ben.page.bringToFront()
      await ben.page.waitForFunction((t) => document.title === t, POLL, title)
      expect(await icon()).toBe('/icon-192.png')
      expect((await messages(ben.page)).map((m) => m.text)).toEqual(['one', 'two'])
    } finally {
      await other.close()
    }
  })
})
