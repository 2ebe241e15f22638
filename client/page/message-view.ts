import type { ChatView, FileTransfer, PeerView, Receipt } from '../lib'
import { setText, template } from './dom'
import { createFileEntries } from './file-entries'
import { formatText } from './format'
import { createLogFeed } from './log-feed'
import { stamp } from './log-grouping'
import { paint, paletteIndex } from './palette'

interface MessageViewOptions {
  log: HTMLElement
  typingLine: HTMLElement
  jump: HTMLButtonElement
  names: () => PeerView[]
  /** Stops a transfer in progress (the entry's Cancel button). */
  cancel: (transfer: FileTransfer) => void
  /** Whether lines from `from` (signed with `key`) are hidden: checked again as each is built. */
  muted: (from: string, key?: string) => boolean
}

/**
 * The Messages log: chat lines in the room's order (history can arrive late and go before newer ones),
 * grouped by sender and minute under day separators (see log-feed.ts), notices, receipts and file
 * transfers. Peer-supplied text only ever goes in as text nodes.
 */
export function createMessageView(options: MessageViewOptions) {
  const { log, typingLine, names } = options
  const byId = new Map<string, HTMLElement>()
  // A message's entry is built in the frame that shows it, not while its event is dispatched: whoever
  // else listens (a reply going out) does not wait for the DOM. Anything that needs an entry, or places
  // another one (keeping the order), builds what waits first.
  const waiting = new Map<string, [ChatView, ((shown: boolean) => void) | undefined]>()
  const build = () => {
    const list = [...waiting.values()]
    waiting.clear()
    // Muted since it came (a flood's tail): built hidden, and not news.
    for (const [message, then] of list) then?.(!make(message).hidden)
  }
  const entryOf = (id: string) => {
    build()
    return byId.get(id)
  }
  const feed = createLogFeed(
    log,
    options.jump,
    (entry) => {
      if (entry.dataset.id) byId.delete(entry.dataset.id)
      files.forget(entry)
    },
    build,
  )
  const place = (entry: HTMLElement, before?: HTMLElement) => {
    build()
    feed.place(entry, before)
  }

  const peer = (id: string) => names().find((p) => p.id === id)
  const nameOf = (id: string) => peer(id)?.name || 'someone'

  function who(entry: HTMLElement, mine: boolean, from: string, name: string) {
    const label = entry.querySelector<HTMLElement>('.who')!
    label.textContent = mine ? 'You' : name || 'Someone'
    if (!mine) paint(label, paletteIndex(peer(from) ?? { id: from }))
  }

  function privately(entry: HTMLElement, to: string | undefined, mine: boolean) {
    const marker = entry.querySelector<HTMLElement>('.private')!
    marker.hidden = to === undefined
    marker.textContent = to === undefined ? '' : mine ? `private to ${nameOf(to)}` : 'private'
    if (mine && to !== undefined) entry.dataset.to = to
    entry.classList.toggle('direct', to !== undefined)
  }

  function make(message: ChatView) {
    const entry = template('message-template')
    entry.classList.toggle('mine', message.mine)
    entry.dataset.id = message.id
    entry.dataset.lamport = String(message.lamport)
    stamp(entry, message.mine ? 'self' : message.from, message.time)
    // Muting them hides their lines from earlier visits too (moderation.ts).
    if (message.key) entry.dataset.key = message.key
    entry.hidden = !message.mine && options.muted(message.from, message.key)
    who(entry, message.mine, message.from, message.name)
    privately(entry, message.to, message.mine)
    entry.querySelector('.text')!.append(...formatText(message.text))
    const receipt = entry.querySelector<HTMLElement>('.receipt')!
    // Not delivered before a reload: history never carries direct messages, so it never will be.
    receipt.append(document.createTextNode(message.undelivered ? 'not delivered: send it again' : ''))
    byId.set(message.id, entry)
    place(entry, message.before ? byId.get(message.before) : undefined)
    return entry
  }

  const files = createFileEntries({
    feed: { ...feed, place },
    attribute(entry, mine, from, to) {
      who(entry, mine, from, nameOf(from))
      // As on lines: muting their key hides the files of their earlier sessions too.
      const key = !mine && peer(from)?.key
      if (key) entry.dataset.key = key
      privately(entry, to, mine)
    },
    cancel: options.cancel,
  })

  return {
    notice(text: string): void {
      const entry = document.createElement('div')
      entry.className = 'notice'
      entry.textContent = text
      stamp(entry, '', Date.now())
      place(entry)
    },

    /** A chat line, built in the next frame (or when something needs it); `then` runs once it is built (hidden if muted meanwhile). */
    message(message: ChatView, then?: (shown: boolean) => void): void {
      if (byId.has(message.id) || waiting.has(message.id)) return
      waiting.set(message.id, [message, then])
      feed.wake()
    },

    /** Takes a line out of the log (the room took it back), once what waits to go before it has its place. */
    remove(id: string): void {
      const queued = waiting.get(id)
      if (queued) queued[1] = undefined // not news: no alert, no unread mark
      const entry = entryOf(id)
      byId.delete(id)
      if (entry?.contains(document.activeElement)) log.focus() // not to the page
      if (entry) feed.remove(entry)
    },

    receipt: (receipt: Receipt) => showReceipt(entryOf(receipt.id), receipt, nameOf),

    typing(peers: PeerView[]): void {
      typingLine.textContent = typingText(peers.map((p) => p.name || 'Someone'))
    },

    /** A file transfer's entry; one this browser sends carries the file itself (its own preview). */
    file: files.show,

    entry: entryOf,

    /** Hides the entries `selector` matches, or shows them again: in the log, held back or still to be placed. */
    hide(selector: string, on: boolean): void {
      // A file's key is its sender's hello's, which anyone can name: one still muted as themselves stays hidden.
      for (const entry of feed.find(selector)) entry.hidden = on || options.muted(entry.dataset.from!, entry.dataset.key)
    },

    /** Scrolls to message `id` and focuses it (a reply's quote, a search result); false if absent. */
    reveal: (id: string): boolean => reveal(entryOf(id), feed.show),

    /** Someone's colour or name changed (or arrived after lines from or to them): their lines take it. */
    repaint: (person: PeerView) => repaint(log, person),

    /** Shows the newest entry (after sending: the reader wants to see what they sent). */
    follow: feed.follow,

    close(): void {
      feed.close()
      files.close()
    },
  }
}

/** Scrolls to `entry` and focuses it (a reply's quote, a search result); false if absent. */
function reveal(entry: HTMLElement | undefined, show: (count: number) => void): boolean {
  // Held back (see log-feed.ts): all of them come back first.
  if (entry?.parentElement?.hidden) show(1e4)
  if (!entry?.isConnected) return false
  entry.scrollIntoView({ block: 'center' })
  entry.focus()
  entry.classList.add('flash')
  entry.addEventListener('blur', () => entry.classList.remove('flash'), { once: true })
  return true
}

/** "Ana is typing…", "Ana, Ben and Cleo are typing…" */
function typingText(who: string[]): string {
  if (who.length < 2) return who.length === 0 ? '' : `${who[0]} is typing…`
  return `${who.slice(0, -1).join(', ')} and ${who.at(-1)} are typing…`
}

/** "✓ delivered", or to how many of how many so far, with who on hover. */
function showReceipt(entry: HTMLElement | undefined, { recipients, delivered }: Receipt, nameOf: (id: string) => string): void {
  const receipt = entry?.querySelector<HTMLElement>('.receipt')
  if (!entry || !receipt) return
  entry.dataset.delivered = String(delivered.length)
  entry.dataset.recipients = String(recipients.length)
  setText(receipt, delivered.length === recipients.length ? '✓ delivered' : `✓ ${delivered.length} of ${recipients.length}`)
  receipt.title = `Received by ${delivered.map(nameOf).join(', ')}`
}

function repaint(log: HTMLElement, person: PeerView): void {
  const index = paletteIndex(person)
  const id = CSS.escape(person.id)
  for (const label of log.querySelectorAll<HTMLElement>(`[data-from="${id}"] .who`)) paint(label, index)
  for (const marker of log.querySelectorAll(`[data-to="${id}"] .private`)) marker.textContent = `private to ${person.name || 'someone'}`
}
