import type { Page } from 'puppeteer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { axeFaults, closeAll, launchPeople, type Person, say, setName, WIRE, waitForConnected, waitForMessage } from '../browsers'
import { roomLink, startServer, type TestServer } from '../helpers'

// Three separate Chromium processes: Ana and Ben talk, Cleo comes late.
let server: TestServer
let people: Person[] = []
const NAMES = ['Ana', 'Ben', 'Cleo']

beforeAll(async () => {
  ;[server, people] = await Promise.all([startServer({ iceServers: [] }), launchPeople(3)])
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
})

/** Focuses the message whose text is `text` (as arrow keys would), which brings its actions. */
async function focusMessage(page: Page, text: string) {
  await page.bringToFront()
  const found = await page.evaluate((t) => {
    const entry = [...document.querySelectorAll<HTMLElement>('[role="log"] .message')].find(
      (e) => e.querySelector('.text')?.textContent === t,
    )
    entry?.focus()
    return Boolean(entry)
  }, text)
  expect(found, `message "${text}"`).toBe(true)
}

const act = (page: Page, action: string) => page.click(`#actions [data-act="${action}"]`)

/** What the log shows of one message: its text, its marks, reactions (emoji, count, who) and quote. */
function shown(page: Page, text: string) {
  return page.evaluate((t) => {
    const entry = [...document.querySelectorAll<HTMLElement>('[role="log"] .message')].find(
      (e) => e.querySelector('.text')?.textContent === t,
    )
    if (!entry) return null
    return {
      edited: Boolean(entry.querySelector('.edited')),
      deleted: entry.classList.contains('deleted'),
      quote: entry.querySelector('.quote')?.textContent ?? null,
      reactions: [...entry.querySelectorAll('.reactions button')].map(
        (b) => `${b.textContent} ${b.getAttribute('aria-label')!.split(': ')[1]}`,
      ),
    }
  }, text)
}

async function waitShown(page: Page, text: string, check: (s: Awaited<ReturnType<typeof shown>>) => boolean) {
  await page.waitForFunction(
    (t) => [...document.querySelectorAll('[role="log"] .message .text')].some((e) => e.textContent === t),
    { timeout: 15_000 },
    text,
  )
  await expect.poll(() => shown(page, text), { timeout: 15_000 }).toSatisfy(check)
}

const texts = (page: Page) => page.$$eval('[role="log"] .message .text', (e) => e.map((x) => x.textContent))

/** Everything this page's IndexedDB holds, as one string. */
const stored = (page: Page) =>
  page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open('parley')
      request.onsuccess = () => resolve(request.result)
      request.onerror = () => reject(request.error)
    })
    const all = await Promise.all(
      [...db.objectStoreNames].map(
        (name) =>
          new Promise<unknown>((resolve) => {
            const request = db.transaction(name).objectStore(name).getAll()
            request.onsuccess = () => resolve(request.result)
          }),
      ),
    )
    db.close()
    return JSON.stringify(all)
  })

describe('conversations beyond chat lines', () => {
  it('replies, reactions, edits, deletions and mentions reach the others, a late joiner and a reload', async () => {
    const [ana, ben, cleo] = people as [Person, Person, Person]
    const link = roomLink(server.url)
    await Promise.all([ana, ben].map((p) => p.page.goto(link)))
    await Promise.all([ana, ben].map((p) => waitForConnected(p.page, 1)))

    await say(ana.page, 'hello there')
    await say(ana.page, 'secret plan')
    await waitForMessage(ben.page, 'secret plan')

    // A message's actions show while it is pointed at or focused, and not once neither is (they would
    // cover the next line).
    const actionsShown = (page: Page) => page.$eval('#actions', (bar) => getComputedStyle(bar).display !== 'none')
    await ben.page.hover('[role="log"] .message .text')
    expect(await actionsShown(ben.page)).toBe(true)
    await ben.page.mouse.move(0, 0)
    expect(await actionsShown(ben.page)).toBe(false)
    await focusMessage(ben.page, 'secret plan')
    expect(await actionsShown(ben.page)).toBe(true)
    // Pointing at another line takes the bar there; Tab from the focused line still goes into its own.
    await ben.page.hover('[role="log"] .message .text')
    await ben.page.keyboard.press('Tab')
    expect(await ben.page.evaluate(() => document.activeElement?.closest('.message')?.querySelector('.text')?.textContent)).toBe(
      'secret plan',
    )
    expect(await ben.page.evaluate(() => document.getElementById('actions')!.contains(document.activeElement))).toBe(true)
    await ben.page.focus('#message')
    await ben.page.mouse.move(0, 0)
    expect(await actionsShown(ben.page)).toBe(false)

    // Ben replies to Ana's first line; both see the quote, and it jumps to the original.
    await focusMessage(ben.page, 'hello there')
    await act(ben.page, 'reply')
    expect(await ben.page.$eval('#context-label', (e) => e.textContent)).toBe('Replying to Ana: hello there')
    expect(await axeFaults(ben.page), 'replying').toEqual([])
    await say(ben.page, 'general reply')
    await waitShown(ana.page, 'general reply', (s) => s?.quote === 'Reply to You: hello there')
    await ana.page.bringToFront()
    await ana.page.click('[role="log"] .message .quote')
    expect(await ana.page.evaluate(() => document.activeElement?.querySelector('.text')?.textContent)).toBe('hello there')

    // Reactions: a quick one and any emoji from Ben, Ana's toggled on and off again.
    await focusMessage(ben.page, 'hello there')
    await act(ben.page, 'react')
    await ben.page.click('#actions [aria-label="React with 👍"]')
    // Reacting by pointer leaves the focus out of the bar: it follows the pointer to the next line.
    expect(await ben.page.evaluate(() => document.getElementById('actions')!.contains(document.activeElement))).toBe(false)
    await focusMessage(ben.page, 'hello there')
    await act(ben.page, 'react')
    await ben.page.type('#actions .any-emoji', '🦄')
    await ben.page.keyboard.press('Enter')
    // The picker closes and the focus goes back to React, not to the page. Pointing at another line
    // meanwhile does not take the bar, and the focus with it, away.
    const other = await ben.page.evaluate(() => {
      const entry = [...document.querySelectorAll('[role="log"] .message')].find(
        (e) => e.querySelector('.text')?.textContent === 'secret plan',
      )!
      const { x, y, width, height } = entry.getBoundingClientRect()
      return { x: x + width / 2, y: y + height / 2 }
    })
    await ben.page.mouse.move(other.x, other.y)
    expect(await ben.page.evaluate(() => document.activeElement?.getAttribute('data-act'))).toBe('react')
    expect(await actionsShown(ben.page)).toBe(true)
    await waitShown(ana.page, 'hello there', (s) => s?.reactions.join() === '👍 1 Ben,🦄 1 Ben')
    await ana.page.click('[role="log"] .reactions button[data-emoji="👍"]')
    await waitShown(ben.page, 'hello there', (s) => s?.reactions.join() === '👍 2 you, Ana,🦄 1 you')
    await ana.page.click('[role="log"] .reactions button[data-emoji="👍"]')
    await waitShown(ben.page, 'hello there', (s) => s?.reactions.join() === '👍 1 you,🦄 1 you')
    await focusMessage(ben.page, 'hello there')
    await act(ben.page, 'react')
    expect(await axeFaults(ben.page), 'reactions and the open picker').toEqual([])

    // Only the author edits and deletes: Ben has no such buttons on Ana's lines, and the library refuses.
    await focusMessage(ben.page, 'hello there')
    expect(await ben.page.$eval('#actions [data-act="edit"]', (b) => (b as HTMLElement).hidden)).toBe(true)
    const forged = await ben.page.evaluate(() => {
      const id = [...document.querySelectorAll<HTMLElement>('[role="log"] .message')].find(
        (e) => e.querySelector('.text')?.textContent === 'hello there',
      )!.dataset.id!
      return Promise.all([window.parley!.edit(id, 'Ben wrote this'), window.parley!.remove(id)])
    })
    expect(forged).toEqual([false, false])

    await focusMessage(ana.page, 'hello there')
    await act(ana.page, 'edit')
    expect(await ana.page.$eval('#message', (b) => (b as HTMLTextAreaElement).value)).toBe('hello there')
    await say(ana.page, 'hello everyone')
    await waitShown(ben.page, 'hello everyone', (s) => s?.edited === true && s.reactions.length === 2)
    // Emptied, an edit is not sent: it stays open and the log says why; cancelling (Escape) keeps the line as it is.
    await focusMessage(ana.page, 'hello everyone')
    await act(ana.page, 'edit')
    await ana.page.locator('::-p-aria(Message[role="textbox"])').fill('   ')
    await ana.page.keyboard.press('Enter')
    expect(await ana.page.$eval('#context-label', (e) => (e.closest('[hidden]') ? null : e.textContent))).toBe('Editing your message')
    await ana.page.waitForFunction(
      (t) => [...document.querySelectorAll('[role="log"] .notice')].some((e) => e.textContent === t),
      { timeout: 5_000 },
      'An edit cannot be empty: delete the message instead, or cancel the edit to keep it.',
    )
    await ana.page.keyboard.press('Escape')
    expect(await ana.page.$eval('#context-bar', (e) => (e as HTMLElement).hidden)).toBe(true)
    expect(await shown(ana.page, 'hello everyone')).toMatchObject({ edited: true, deleted: false })
    await waitShown(ben.page, 'general reply', (s) => s?.quote === 'Reply to Ana: hello everyone')

    ana.page.once('dialog', (dialog) => void dialog.accept())
    await focusMessage(ana.page, 'secret plan')
    await act(ana.page, 'delete')
    // The deleted line keeps the focus and loses its actions.
    expect(await ana.page.evaluate(() => document.activeElement?.classList.contains('message'))).toBe(true)
    expect(await actionsShown(ana.page)).toBe(false)
    await waitShown(ben.page, 'message deleted', (s) => s?.deleted === true)
    expect(await texts(ben.page)).not.toContain('secret plan')
    // Ana's deleted line no longer says it was delivered (it was, before).
    const deleted = await ana.page.$eval('[role="log"] .message.deleted', (e) => ({
      text: e.querySelector('.text')?.textContent,
      receipt: e.querySelector('.receipt')?.textContent,
      shown: e.querySelector('.receipt')?.checkVisibility(),
    }))
    expect(deleted).toEqual({ text: 'message deleted', receipt: '✓ delivered', shown: false })

    // A mention notifies Ana even with notifications and sound off; a plain line does not.
    await ana.page.evaluate(() => {
      const seen: string[] = []
      Object.assign(window, { seen })
      // A stand-in for the browser's notifications, already permitted, and a hidden tab.
      window.Notification = class {
        static permission = 'granted'
        constructor(title: string) {
          seen.push(title)
        }
      } as unknown as typeof Notification
      Object.defineProperty(document, 'hidden', { get: () => true, configurable: true })
    })
    await say(ben.page, 'nothing for anyone')
    await ben.page.focus('#message')
    await ben.page.keyboard.type('@A')
    await ben.page.waitForSelector('#mentions button[aria-label="Mention Ana"]')
    expect(await axeFaults(ben.page), 'quote, edited, deleted, mention suggestions').toEqual([])
    await ben.page.keyboard.press('Tab')
    await ben.page.keyboard.type('look at this')
    await ben.page.keyboard.press('Enter')
    await waitForMessage(ana.page, '@Ana look at this')
    const mention = await ana.page.evaluate(() => {
      const entry = [...document.querySelectorAll<HTMLElement>('[role="log"] .message')].at(-1)!
      return {
        highlighted: entry.querySelector('.mention')?.textContent,
        me: entry.classList.contains('mentions-me'),
        seen: (window as unknown as { seen: string[] }).seen,
      }
    })
    expect(mention).toEqual({ highlighted: '@Ana', me: true, seen: ['Ben mentioned you'] })
    await ana.page.evaluate(() => delete (document as { hidden?: boolean }).hidden)

    // Cleo comes late: she gets the history with everything applied, and never the deleted text.
    await cleo.page.goto(link)
    await waitForConnected(cleo.page, 2)
    await waitShown(cleo.page, 'hello everyone', (s) => s?.edited === true && s.reactions.join() === '👍 1 Ben,🦄 1 Ben')
    await waitShown(cleo.page, 'general reply', (s) => s?.quote === 'Reply to Ana: hello everyone')
    expect(await texts(cleo.page)).not.toContain('secret plan')

    // Search in what Cleo's browser holds, and jump to it.
    await cleo.page.bringToFront()
    await cleo.page.type('#search', 'EVERYONE')
    const results = await cleo.page.$$eval('#results button', (b) => b.map((x) => x.textContent))
    expect(results).toEqual(['Ana: hello everyone'])
    await cleo.page.waitForFunction(() => document.getElementById('found')!.textContent === '1 message found', { timeout: 5_000 })
    expect(await axeFaults(cleo.page), 'search results').toEqual([])
    // The results follow what is said meanwhile.
    await say(ana.page, 'Dinner at 8, everyone')
    await cleo.page.waitForFunction(() => document.querySelectorAll('#results button').length === 2, { timeout: 10_000 })
    expect(await cleo.page.$$eval('#results button', (b) => b.map((x) => x.textContent))).toEqual([
      'Ana: Dinner at 8, everyone',
      'Ana: hello everyone',
    ])
    // Not said (the log says what came), and what was said goes rather than be read out of date.
    expect(await cleo.page.$eval('#found', (status) => status.textContent)).toBe('')
    await cleo.page.click('#results li:last-child button')
    expect(await cleo.page.evaluate(() => document.activeElement?.querySelector('.text')?.textContent)).toBe('hello everyone')

    // A reload keeps it all, and the deleted text is in nobody's stored history.
    await ben.page.reload()
    await waitShown(ben.page, 'hello everyone', (s) => s?.edited === true && s.reactions.length === 2)
    await waitShown(ben.page, 'general reply', (s) => s?.quote === 'Reply to Ana: hello everyone')
    await waitForConnected(ben.page, 2)
    // His line from before the reload carries the key he keeps for the room, but a change needs its session too.
    const earlier = await ben.page.evaluate(
      () =>
        [...document.querySelectorAll<HTMLElement>('[role="log"] .message.mine')].find((e) => e.textContent?.includes('general reply'))
          ?.dataset.id,
    )
    expect(earlier).toBeDefined()
    expect(await ben.page.evaluate((id) => window.parley!.edit(id!, 'changed after a reload'), earlier)).toBe(false)
    for (const person of people) {
      await person.page.waitForFunction(
        async () => {
          const request = indexedDB.open('parley')
          const db = await new Promise<IDBDatabase>((resolve) => (request.onsuccess = () => resolve(request.result)))
          const ok = db.objectStoreNames.length > 0
          db.close()
          return ok
        },
        { timeout: 15_000 },
      )
      await expect.poll(async () => (await stored(person.page)).includes('hello everyone'), { timeout: 10_000 }).toBe(true)
      expect(await stored(person.page)).not.toContain('secret plan')
    }
    expect([...ana.errors, ...ben.errors, ...cleo.errors]).toEqual([])
  })
})

describe('a private conversation inside the room', () => {
  it('keeps a reply to a private message, and typing to one person, between the two; an edit left for a reply leaves its text; a reply to someone who reloaded is kept, not sent', async () => {
    const [ana, ben, cleo] = people as [Person, Person, Person]
    const link = roomLink(server.url)
    await cleo.page.evaluateOnNewDocument(WIRE)
    await Promise.all(people.map((p) => p.page.goto(link)))
    await Promise.all(people.map((p) => waitForConnected(p.page, 2)))
    const anaId = await ana.page.evaluate(() => window.parley!.self.id)

    // Ben writes to Ana privately: Ana sees him typing, Cleo hears nothing of it.
    await ben.page.bringToFront()
    await ben.page.click(`ul[aria-label="People"] li[data-peer="${anaId}"] button.person-open`)
    await ben.page.type('[aria-label="Message"]', 'psst')
    await ana.page.waitForFunction(() => document.getElementById('typing')!.textContent === 'Ben is typing…', { timeout: 15_000 })
    await ben.page.click('#send')
    await waitForMessage(ana.page, 'psst')

    // Ana replies from her everyone mode: the reply goes to Ben alone, and says so before it goes.
    await focusMessage(ana.page, 'psst')
    await act(ana.page, 'reply')
    expect(await ana.page.$eval('#context-label', (e) => e.textContent)).toBe('Replying privately to Ben: psst')
    await say(ana.page, 'got it')
    await waitShown(ben.page, 'got it', (s) => s?.quote?.includes('psst') === true)
    expect(await ana.page.$eval('[role="log"] .message.direct:last-of-type .text', (e) => e.textContent)).toBe('got it')
    // Said without typing (straight to the room): what Cleo heard from Ana before it is what her reply told.
    await ana.page.evaluate(() => window.parley!.send('for everyone'))
    await waitForMessage(cleo.page, 'for everyone')
    expect(await texts(cleo.page)).not.toContain('got it')
    // Neither Ben writing to Ana nor Ana replying to him privately told Cleo they were typing (on the
    // channel each one's hello came on).
    const heard = await cleo.page.evaluate(() => window.__wire.received())
    for (const name of ['Ben', 'Ana']) {
      const channel = heard.find((t) => t.data.includes('"type":"hello"') && t.data.includes(`"name":"${name}"`))!.channel
      expect(heard.filter((t) => t.channel === channel).map((t) => (JSON.parse(t.data) as { type: string }).type)).not.toContain('typing')
    }

    // An edit of her own line, then Reply on Ben's: the box no longer holds the line being edited.
    await say(ana.page, 'to edit')
    await focusMessage(ana.page, 'to edit')
    await act(ana.page, 'edit')
    expect(await ana.page.$eval('[aria-label="Message"]', (box) => (box as HTMLTextAreaElement).value)).toBe('to edit')
    // The pointer leaves the log first: left over the edited line, it would take the actions bar back
    // there as soon as the page moves under it, and Reply would go to that line.
    await ana.page.mouse.move(0, 0)
    await focusMessage(ana.page, 'psst')
    await act(ana.page, 'reply')
    expect(await ana.page.$eval('[aria-label="Message"]', (box) => (box as HTMLTextAreaElement).value)).toBe('')
    expect(await ana.page.$eval('#context-label', (e) => e.textContent)).toBe('Replying privately to Ben: psst')

    // Ben reloads (a new session, which never saw "psst"): the private reply would reach nobody, so it
    // is not sent; the box keeps it and the log says why.
    const benId = await ben.page.evaluate(() => window.parley!.self.id)
    await ben.page.reload()
    await ana.page.waitForFunction((id) => !window.parley!.peers.some((p) => p.id === id), { polling: 50 }, benId)
    await ana.page.type('[aria-label="Message"]', 'are you there')
    await ana.page.keyboard.press('Enter')
    await ana.page.waitForFunction(
      () =>
        [...document.querySelectorAll('[role="log"] .notice')].some((n) => n.textContent?.includes('a private reply cannot reach them')),
      { polling: 50, timeout: 5_000 },
    )
    expect(await ana.page.$eval('[aria-label="Message"]', (box) => (box as HTMLTextAreaElement).value)).toBe('are you there')
    expect(await texts(ana.page)).not.toContain('are you there')
    // An empty box sends nothing either, and is not blamed on them: of the next two Enters, only the
    // second (with text) says so again.
    await ana.page.$eval('[aria-label="Message"]', (box) => ((box as HTMLTextAreaElement).value = ''))
    await ana.page.keyboard.press('Enter')
    await ana.page.type('[aria-label="Message"]', 'still there?')
    await ana.page.keyboard.press('Enter')
    const said = () =>
      ana.page.$$eval('[role="log"] .notice', (all) => all.filter((n) => n.textContent?.includes('cannot reach them')).length)
    await expect.poll(said).toBeGreaterThanOrEqual(2)
    expect(await said()).toBe(2)
  })
})
