import type { ChatView, FileTransfer, PeerView, Receipt } from '../lib'
import { template } from './dom'
import { formatText } from './format'
import { createLogFeed, stamp } from './log-feed'
import { paint, paletteIndex } from './palette'

const IMAGE = /^image\/(png|jpeg|gif|webp|avif)$/

/**
 * Changes an element's text in place (one text node kept), so the log's live region, which announces
 * additions only, does not read receipts and progress out again with every change.
 */
function setText(element: Element, text: string) {
  if (element.firstChild instanceof Text && element.childNodes.length === 1) element.firstChild.data = text
  else element.replaceChildren(document.createTextNode(text))
}

/** 1536 → "1.5 KB"; sizes people read, not byte counts. */
export function humanSize(bytes: number): string {
  const units = ['bytes', 'KB', 'MB', 'GB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${bytes} bytes` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`
}

/** What a transfer's entry says once it ends, or how far along it is. */
function fileState(transfer: FileTransfer, mine: boolean, percent: number): string {
  if (transfer.state === 'cancelled') return 'cancelled'
  if (transfer.state === 'failed') return mine ? 'not received by everyone' : 'failed (damaged or interrupted)'
  if (transfer.state === 'done') return humanSize(transfer.size)
  return `${percent}% of ${humanSize(transfer.size)}`
}

function cancelButton(transfer: FileTransfer, cancel: (transfer: FileTransfer) => void) {
  const button = document.createElement('button')
  button.type = 'button'
  button.className = 'cancel'
  button.textContent = 'Cancel'
  button.setAttribute('aria-label', `Cancel ${transfer.name}`)
  button.addEventListener('click', () => cancel(transfer))
  return button
}

/**
 * The Messages log: chat lines in the room's order (history can arrive late and go before newer ones),
 * grouped by sender and minute under day separators (see log-feed.ts), notices, receipts and file
 * transfers. Peer-supplied text only ever goes in as text nodes.
 */
export function createMessageView(options: {
  log: HTMLElement
  typingLine: HTMLElement
  jump: HTMLButtonElement
  names: () => PeerView[]
  /** Stops a transfer in progress (the entry's Cancel button). */
  cancel: (transfer: FileTransfer) => void
}) {
  const { log, typingLine, names } = options
  const byId = new Map<string, HTMLElement>()
  const files = new Map<string, HTMLElement>()
  const feed = createLogFeed(log, options.jump, (entry) => {
    if (entry.dataset.id) byId.delete(entry.dataset.id)
    if (entry.dataset.file) files.delete(`${entry.dataset.from === 'self' ? '' : entry.dataset.from} ${entry.dataset.file}`)
  })
  const place = feed.place
  const urls: string[] = []

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
    entry.classList.toggle('direct', to !== undefined)
  }

  function preview(entry: HTMLElement, blob: Blob, name: string) {
    const url = URL.createObjectURL(blob)
    urls.push(url)
    const image = document.createElement('img')
    image.className = 'preview'
    image.alt = name
    image.src = url
    feed.keepInView(image)
    entry.append(image)
    return url
  }

  return {
    notice(text: string): void {
      const entry = document.createElement('div')
      entry.className = 'notice'
      entry.textContent = text
      stamp(entry, '', Date.now())
      place(entry)
    },

    message(message: ChatView): void {
      if (byId.has(message.id)) return
      const entry = template('message-template')
      entry.classList.toggle('mine', message.mine)
      entry.dataset.id = message.id
      entry.dataset.lamport = String(message.lamport)
      stamp(entry, message.mine ? 'self' : message.from, message.time)
      who(entry, message.mine, message.from, message.name)
      privately(entry, message.to, message.mine)
      entry.querySelector('.text')!.append(...formatText(message.text))
      entry.querySelector('.receipt')!.append(document.createTextNode(''))
      byId.set(message.id, entry)
      place(entry, message.before ? byId.get(message.before) : undefined)
    },

    receipt({ id, recipients, delivered }: Receipt): void {
      const entry = byId.get(id)
      const receipt = entry?.querySelector<HTMLElement>('.receipt')
      if (!entry || !receipt) return
      entry.dataset.delivered = String(delivered.length)
      entry.dataset.recipients = String(recipients.length)
      setText(receipt, delivered.length === recipients.length ? '✓ delivered' : `✓ ${delivered.length} of ${recipients.length}`)
      receipt.title = `Received by ${delivered.map(nameOf).join(', ')}`
    },

    typing(peers: PeerView[]): void {
      const who = peers.map((p) => p.name || 'Someone')
      typingLine.textContent =
        who.length === 0 ? '' : who.length === 1 ? `${who[0]} is typing…` : `${who.slice(0, -1).join(', ')} and ${who.at(-1)} are typing…`
    },

    /** A file transfer's entry; one this browser sends carries the file itself (its own preview). */
    file(transfer: FileTransfer): void {
      const key = `${transfer.from} ${transfer.id}`
      let entry = files.get(key)
      const mine = transfer.direction === 'out'
      if (!entry) {
        entry = template('file-template')
        entry.dataset.file = transfer.id
        entry.dataset.name = transfer.name
        entry.classList.toggle('mine', mine)
        stamp(entry, mine ? 'self' : transfer.from, Date.now())
        who(entry, mine, transfer.from, nameOf(transfer.from))
        privately(entry, transfer.to, mine)
        entry.querySelector('.file-name')!.textContent = transfer.name
        entry.querySelector('progress')!.setAttribute('aria-label', `Transfer of ${transfer.name}`)
        if (mine && transfer.blob && IMAGE.test(transfer.mime)) preview(entry, transfer.blob, transfer.name)
        entry.querySelector('.file-actions')!.append(cancelButton(transfer, options.cancel))
        files.set(key, entry)
        place(entry)
      }
      const progress = entry.querySelector('progress')!
      progress.value = Math.round((transfer.done / Math.max(1, transfer.total)) * 100)
      entry.dataset.state = transfer.state
      entry.dataset.done = String(transfer.done)
      const state = entry.querySelector('.file-state')!
      const finished = transfer.state !== 'sending' && transfer.state !== 'receiving'
      progress.hidden = finished
      if (finished) entry.querySelector('.cancel')?.remove()
      // The percentage is for the eye only: a screen reader hears the outcome, not every step.
      state.setAttribute('aria-hidden', String(!finished))
      setText(state, fileState(transfer, mine, progress.value))
      if (transfer.state === 'done' && transfer.blob && !mine && !entry.querySelector('a')) {
        const url = IMAGE.test(transfer.mime) ? preview(entry, transfer.blob, transfer.name) : URL.createObjectURL(transfer.blob)
        if (!urls.includes(url)) urls.push(url)
        const link = document.createElement('a')
        link.href = url
        link.download = transfer.name
        link.textContent = 'Save'
        entry.querySelector('.file-actions')!.append(link)
      }
    },

    entry: (id: string) => byId.get(id),

    /** Scrolls to message `id` and focuses it (a reply's quote, a search result); false if absent. */
    reveal(id: string): boolean {
      const entry = byId.get(id)
      if (!entry?.isConnected) return false
      entry.scrollIntoView({ block: 'center' })
      entry.focus()
      entry.classList.add('flash')
      entry.addEventListener('blur', () => entry.classList.remove('flash'), { once: true })
      return true
    },

    /** Someone's colour changed (or arrived after their first lines): their names take it. */
    repaint(person: PeerView): void {
      const index = paletteIndex(person)
      for (const label of log.querySelectorAll<HTMLElement>(`[data-from="${CSS.escape(person.id)}"] .who`)) paint(label, index)
    },

    /** Shows the newest entry (after sending: the reader wants to see what they sent). */
    follow: feed.follow,

    close(): void {
      feed.close()
      for (const url of urls) URL.revokeObjectURL(url)
    },
  }
}
