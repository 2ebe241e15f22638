import type { FileTransfer } from '../lib'
import { setText, template } from './dom'
import type { createLogFeed } from './log-feed'
import { stamp } from './log-grouping'

const IMAGE = /^image\/(png|jpeg|gif|webp|avif)$/

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

/**
 * The file transfers' entries in the Messages log: one per transfer, updated in place as it progresses,
 * with an image preview and a Save link; owns the object URLs those use.
 */
export function createFileEntries(options: {
  feed: Pick<ReturnType<typeof createLogFeed>, 'place' | 'keepInView'>
  /** Fills in who sent an entry and to whom, as on chat lines. */
  attribute: (entry: HTMLElement, mine: boolean, from: string, to: string | undefined) => void
  /** Stops a transfer in progress (the entry's Cancel button). */
  cancel: (transfer: FileTransfer) => void
}) {
  const { feed } = options
  const files = new Map<string, HTMLElement>()
  const urls: string[] = []

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

  function create(transfer: FileTransfer, mine: boolean) {
    const entry = template('file-template')
    entry.dataset.file = transfer.id
    entry.dataset.name = transfer.name
    entry.classList.toggle('mine', mine)
    stamp(entry, mine ? 'self' : transfer.from, Date.now())
    options.attribute(entry, mine, transfer.from, transfer.to)
    entry.querySelector('.file-name')!.textContent = transfer.name
    entry.querySelector('progress')!.setAttribute('aria-label', `Transfer of ${transfer.name}`)
    if (mine && transfer.blob && IMAGE.test(transfer.mime)) preview(entry, transfer.blob, transfer.name)
    const cancel = entry.querySelector('.cancel')!
    cancel.setAttribute('aria-label', `Cancel ${transfer.name}`)
    cancel.addEventListener('click', () => options.cancel(transfer))
    return entry
  }

  return {
    /** Creates a transfer's entry the first time it is seen, then updates it in place. */
    show(transfer: FileTransfer): void {
      const key = `${transfer.from} ${transfer.id}`
      let entry = files.get(key)
      const mine = transfer.direction === 'out'
      if (!entry) {
        entry = create(transfer, mine)
        files.set(key, entry)
        feed.place(entry)
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

    /** An entry trimmed from the log: if it is a transfer's, later progress makes a new one. */
    forget(entry: HTMLElement): void {
      if (entry.dataset.file) files.delete(`${entry.dataset.from === 'self' ? '' : entry.dataset.from} ${entry.dataset.file}`)
    },

    close(): void {
      for (const url of urls) URL.revokeObjectURL(url)
    },
  }
}
