import type { ChatView, FileTransfer, PeerView, Receipt } from '../lib'
import { formatText } from './format'
import { paint, paletteIndex } from './palette'
import { template } from './dom'

// The view follows new messages only while the reader is this close to the newest one.
const STICKY_SCROLL_PX = 80
// A hidden tab gets no animation frames: a timer flushes instead, and backs up a frame that never comes.
const FLUSH_FALLBACK_MS = 250
const IMAGE = /^image\/(png|jpeg|gif|webp|avif)$/

/**
 * Changes an element's text in place (one text node kept), so the log's live region, which announces
 * additions only, does not read receipts and progress out again with every change.
 */
function setText(element: Element, text: string) {
  if (element.firstChild instanceof Text && element.childNodes.length === 1) element.firstChild.data = text
  else element.replaceChildren(document.createTextNode(text))
}

// Made once, on first use (not while the page starts): toLocale*String builds a new formatter on
// every call, about a millisecond each, which every message paid twice.
let clockFormat: Intl.DateTimeFormat | undefined
let fullDateFormat: Intl.DateTimeFormat | undefined
const clock = (time: number) => (clockFormat ??= new Intl.DateTimeFormat([], { hour: '2-digit', minute: '2-digit' })).format(time)
const fullDate = (time: number) => (fullDateFormat ??= new Intl.DateTimeFormat([], { dateStyle: 'full', timeStyle: 'short' })).format(time)
const dayKey = (time: number) => new Date(time).toDateString()

function dayLabel(time: number): string {
  const key = dayKey(time)
  if (key === dayKey(Date.now())) return 'Today'
  if (key === dayKey(Date.now() - 86_400_000)) return 'Yesterday'
  return new Date(time).toLocaleDateString([], { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' })
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

/**
 * The Messages log: chat lines in the room's order (history can arrive late and go before newer ones),
 * grouped by sender and minute under day separators, notices, receipts and file transfers. New entries
 * go in once per animation frame, and layout is read once per frame, never per entry. Peer-supplied
 * text only ever goes in as text nodes.
 */
export function createMessageView(options: {
  log: HTMLElement
  typingLine: HTMLElement
  jump: HTMLButtonElement
  names: () => PeerView[]
  /** Stops a transfer in progress (the entry's Cancel button). */
  cancel: (transfer: FileTransfer) => void
}) {
  const { log, typingLine, jump, names } = options
  const byId = new Map<string, HTMLElement>()
  const files = new Map<string, HTMLElement>()
  const urls: string[] = []
  let pending = document.createDocumentFragment()
  let frame = 0
  let fallback: ReturnType<typeof setTimeout> | undefined
  let stuck = true
  let unseen = 0

  const peer = (id: string) => names().find((p) => p.id === id)
  const nameOf = (id: string) => peer(id)?.name || 'someone'

  function toBottom() {
    log.scrollTop = log.scrollHeight
    unseen = 0
    jump.hidden = true
  }

  log.addEventListener('scroll', () => {
    stuck = log.scrollHeight - log.scrollTop - log.clientHeight < STICKY_SCROLL_PX
    if (stuck) {
      unseen = 0
      jump.hidden = true
    }
  })
  // From the log, arrows walk the entries one by one (each shows its full date while focused).
  log.addEventListener('keydown', (event) => {
    const entries = [...log.querySelectorAll<HTMLElement>('.message')]
    const at = entries.indexOf(document.activeElement as HTMLElement)
    const next = { ArrowUp: at === -1 ? entries.length - 1 : at - 1, ArrowDown: at + 1, Home: 0, End: entries.length - 1 }[event.key]
    if (next === undefined || !entries[next]) return
    event.preventDefault()
    entries[next].focus()
  })
  jump.addEventListener('click', () => {
    toBottom()
    log.focus()
  })

  /** Groups lines by sender and minute, and keeps one separator before each day's first entry. */
  function arrange() {
    let previous: HTMLElement | undefined
    let day = ''
    const kept = new Set<Element>()
    for (const entry of [...log.children] as HTMLElement[]) {
      if (entry.classList.contains('day')) continue
      const entryDay = entry.dataset.day!
      if (entryDay !== day) {
        day = entryDay
        previous = undefined
        let separator = entry.previousElementSibling as HTMLElement | null
        if (!separator?.classList.contains('day') || separator.dataset.day !== day) {
          separator = document.createElement('div')
          separator.className = 'day'
          separator.dataset.day = day
          separator.textContent = dayLabel(Number(entry.dataset.time))
          entry.before(separator)
        }
        kept.add(separator)
      }
      if (entry.classList.contains('notice')) {
        previous = undefined
        continue
      }
      const grouped =
        previous !== undefined &&
        !entry.classList.contains('file') &&
        !previous.classList.contains('file') &&
        previous.dataset.from === entry.dataset.from &&
        previous.dataset.minute === entry.dataset.minute &&
        previous.classList.contains('direct') === entry.classList.contains('direct')
      entry.classList.toggle('grouped', grouped)
      previous = entry
    }
    for (const separator of log.querySelectorAll('.day')) if (!kept.has(separator)) separator.remove()
  }

  function flush() {
    cancelAnimationFrame(frame)
    clearTimeout(fallback)
    frame = 0
    fallback = undefined
    const added = pending.querySelectorAll('.message').length
    log.append(pending)
    pending = document.createDocumentFragment()
    arrange()
    if (stuck) toBottom()
    else if (added > 0) {
      unseen += added
      jump.hidden = false
      jump.textContent = `${unseen} new message${unseen === 1 ? '' : 's'} ↓`
    }
  }

  function schedule() {
    if (fallback !== undefined) return
    fallback = setTimeout(flush, document.hidden ? 0 : FLUSH_FALLBACK_MS)
    if (!document.hidden) frame = requestAnimationFrame(flush)
  }

  function place(entry: HTMLElement, before?: HTMLElement) {
    if (before?.parentNode) before.parentNode.insertBefore(entry, before)
    else pending.append(entry)
    schedule()
  }

  function stamp(entry: HTMLElement, from: string, time: number) {
    if (!entry.classList.contains('notice')) entry.tabIndex = -1
    entry.dataset.from = from
    entry.dataset.time = String(time)
    entry.dataset.day = dayKey(time)
    entry.dataset.minute = String(Math.floor(time / 60_000))
    const when = entry.querySelector('time')
    if (when) {
      when.dateTime = new Date(time).toISOString()
      when.textContent = clock(time)
      when.title = fullDate(time)
    }
  }

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

  /** Keeps the newest line in view while an image that was added at the bottom loads. */
  function keepInView(image: HTMLImageElement) {
    image.addEventListener('load', () => stuck && toBottom(), { once: true })
  }

  function preview(entry: HTMLElement, blob: Blob, name: string) {
    const url = URL.createObjectURL(blob)
    urls.push(url)
    const image = document.createElement('img')
    image.className = 'preview'
    image.alt = name
    image.src = url
    keepInView(image)
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
        const cancel = document.createElement('button')
        cancel.type = 'button'
        cancel.className = 'cancel'
        cancel.textContent = 'Cancel'
        cancel.setAttribute('aria-label', `Cancel ${transfer.name}`)
        cancel.addEventListener('click', () => options.cancel(transfer))
        entry.querySelector('.file-actions')!.append(cancel)
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
      setText(
        state,
        transfer.state === 'cancelled'
          ? 'cancelled'
          : transfer.state === 'failed'
            ? mine ? 'not received by everyone' : 'failed (damaged or interrupted)'
            : transfer.state === 'done'
              ? humanSize(transfer.size)
              : `${progress.value}% of ${humanSize(transfer.size)}`,
      )
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

    /** Someone's colour changed (or arrived after their first lines): their names take it. */
    repaint(person: PeerView): void {
      const index = paletteIndex(person)
      for (const label of log.querySelectorAll<HTMLElement>(`[data-from="${CSS.escape(person.id)}"] .who`)) paint(label, index)
    },

    /** Shows the newest entry (after sending: the reader wants to see what they sent). */
    follow(): void {
      stuck = true
      schedule()
    },

    close(): void {
      cancelAnimationFrame(frame)
      clearTimeout(fallback)
      for (const url of urls) URL.revokeObjectURL(url)
    },
  }
}
