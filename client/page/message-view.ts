import type { ChatView, FileTransfer, PeerView, Receipt } from '../room'
import { colorOf } from './people-view'

// Auto-scroll only when the reader is already near the newest message.
const STICKY_SCROLL_PX = 80

const template = (id: string) =>
  ((document.getElementById(id) as HTMLTemplateElement).content.firstElementChild as HTMLElement).cloneNode(true) as HTMLElement

const clock = (time: number) => new Date(time).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })

/**
 * The Messages log: chat lines in the room's order (history can arrive late and go before newer ones),
 * notices, receipts and file transfers. Peer-supplied text only ever goes in as text.
 */
export function createMessageView(log: HTMLElement, typingLine: HTMLElement, names: () => PeerView[]) {
  const byId = new Map<string, HTMLElement>()
  const files = new Map<string, HTMLElement>()
  const urls: string[] = []

  function place(entry: HTMLElement, before?: HTMLElement) {
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < STICKY_SCROLL_PX
    if (before) log.insertBefore(entry, before)
    else log.append(entry)
    if (atBottom && !before) log.scrollTop = log.scrollHeight
  }

  const nameOf = (id: string) => names().find((p) => p.id === id)?.name || 'someone'

  return {
    notice(text: string): void {
      const entry = document.createElement('div')
      entry.className = 'notice'
      entry.textContent = text
      place(entry)
    },

    message(message: ChatView): void {
      if (byId.has(message.id)) return
      const entry = template('message-template')
      entry.classList.toggle('mine', message.mine)
      entry.dataset.id = message.id
      entry.dataset.from = message.mine ? 'self' : message.from
      entry.dataset.lamport = String(message.lamport)
      const who = entry.querySelector<HTMLElement>('.who')!
      who.textContent = message.mine ? 'You' : message.name || 'Someone'
      if (!message.mine) who.style.color = colorOf(names().find((p) => p.id === message.from) ?? { id: message.from })
      const marker = entry.querySelector<HTMLElement>('.private')!
      marker.hidden = message.to === undefined
      marker.textContent = message.to === undefined ? '' : message.mine ? `private to ${nameOf(message.to)}` : 'private'
      entry.classList.toggle('direct', message.to !== undefined)
      entry.querySelector('.text')!.textContent = message.text
      const when = entry.querySelector('time')!
      when.dateTime = new Date(message.time).toISOString()
      when.textContent = clock(message.time)
      byId.set(message.id, entry)
      place(entry, message.before ? byId.get(message.before) : undefined)
    },

    receipt({ id, recipients, delivered }: Receipt): void {
      const entry = byId.get(id)
      const receipt = entry?.querySelector<HTMLElement>('.receipt')
      if (!entry || !receipt) return
      entry.dataset.delivered = String(delivered.length)
      entry.dataset.recipients = String(recipients.length)
      receipt.hidden = false
      receipt.textContent = delivered.length === recipients.length ? '✓ delivered' : `✓ ${delivered.length}/${recipients.length}`
      receipt.title = `Received by ${delivered.map(nameOf).join(', ')}`
    },

    typing(peers: PeerView[]): void {
      const who = peers.map((p) => p.name || 'Someone')
      typingLine.textContent =
        who.length === 0 ? '' : who.length === 1 ? `${who[0]} is typing…` : `${who.slice(0, -1).join(', ')} and ${who.at(-1)} are typing…`
    },

    file(transfer: FileTransfer): void {
      const key = `${transfer.from} ${transfer.id}`
      let entry = files.get(key)
      if (!entry) {
        entry = template('file-template')
        entry.dataset.file = transfer.id
        entry.classList.toggle('mine', transfer.direction === 'out')
        entry.querySelector('.who')!.textContent = transfer.direction === 'out' ? 'You' : nameOf(transfer.from)
        const marker = entry.querySelector<HTMLElement>('.private')!
        marker.hidden = transfer.to === undefined
        marker.textContent = transfer.to === undefined ? '' : transfer.direction === 'out' ? `private to ${nameOf(transfer.to)}` : 'private'
        entry.querySelector('.file-name')!.textContent = transfer.name
        entry.querySelector('progress')!.setAttribute('aria-label', `Transfer of ${transfer.name}`)
        files.set(key, entry)
        place(entry)
      }
      const progress = entry.querySelector('progress')!
      progress.value = Math.round((transfer.done / Math.max(1, transfer.total)) * 100)
      entry.dataset.state = transfer.state
      entry.dataset.done = String(transfer.done)
      const state = entry.querySelector('.file-state')!
      state.textContent =
        transfer.state === 'failed'
          ? transfer.direction === 'in' ? 'failed (damaged or interrupted)' : 'failed for some people'
          : transfer.state === 'done'
            ? `${(transfer.size / 1024).toFixed(0)} KB`
            : `${progress.value}%`
      if (transfer.state === 'done' && transfer.blob && transfer.direction === 'in' && !entry.querySelector('a')) {
        const url = URL.createObjectURL(transfer.blob)
        urls.push(url)
        const link = document.createElement('a')
        link.href = url
        link.download = transfer.name
        link.textContent = 'Save'
        entry.querySelector('.file-actions')!.append(link)
        if (/^image\/(png|jpeg|gif|webp|avif)$/.test(transfer.mime)) {
          const image = document.createElement('img')
          image.className = 'preview'
          image.alt = transfer.name
          image.src = url
          entry.append(image)
        }
      }
    },

    close(): void {
      for (const url of urls) URL.revokeObjectURL(url)
    },
  }
}
