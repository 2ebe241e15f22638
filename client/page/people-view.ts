import type { PeerView } from '../lib'
import { template } from './dom'
import { paint, paletteIndex } from './palette'

const STATE_LABEL: Record<PeerView['state'], string> = {
  connecting: 'connecting…',
  connected: 'online',
  reconnecting: 'connection lost, reconnecting…',
  failed: 'cannot reach them',
}
// A peer renaming in a loop gets one rename notice in this long; renames in between are told as one at its end.
const RENAME_NOTICE_MS = 10_000

interface Row {
  row: HTMLElement
  peer: PeerView
  unread: number
  /** No rename notice for them before this time (epoch ms). */
  quiet: number
  /** Their name as the log last gave it ('' until they have one). */
  told: string
  /** The notice of renames made in the quiet time, due at its end. */
  later?: ReturnType<typeof setTimeout>
}

/**
 * The People list: who is here, how they are connected, their verification code, and unread private
 * messages. Choosing a person starts a private conversation with them. All DOM writes are text or attributes.
 */
export function createPeopleView(
  list: HTMLElement,
  alone: HTMLElement,
  hint: HTMLElement,
  onChoose: (peer: PeerView) => void,
  moderate: { mute(peer: PeerView): void; block(peer: PeerView): void; muted(id: string): boolean },
  notice: (text: string) => void,
) {
  const rows = new Map<string, Row>()
  let talkingTo: string | undefined

  function showUnread(id: string) {
    const item = rows.get(id)
    if (!item) return
    const badge = item.row.querySelector<HTMLElement>('.unread')!
    badge.hidden = item.unread === 0
    badge.textContent = item.unread === 0 ? '' : `${item.unread} unread`
  }

  /**
   * Mute (hide what they say; then Unmute) and Block (drop them) for everyone, as in any chat; a peer
   * past its budget is marked beside them. Blocking lasts for the room in this browser, so it asks first.
   */
  function moderation(row: HTMLElement, peer: PeerView, name: string) {
    row.dataset.misbehaving = String(peer.misbehaving === true)
    let box = row.querySelector<HTMLElement>('.moderation')
    if (!box) {
      box = template('moderation-template')
      for (const button of box.querySelectorAll('button')) {
        const act = button.className as 'mute' | 'block'
        button.addEventListener('click', () => {
          const current = rows.get(peer.id)?.peer ?? peer
          if (act === 'mute') {
            moderate.mute(current)
            return render(current)
          }
          if (!confirm(`Block ${current.name || 'them'}? You will not see or reach them in this room, in this browser, until you unblock.`))
            return
          moderate.block(current)
          button.disabled = true
        })
      }
      row.append(box)
    }
    // Their key may come after their row: asked at every render.
    box.querySelector('.mute')!.textContent = moderate.muted(peer.id) ? 'Unmute' : 'Mute'
    box.querySelector<HTMLElement>('.misbehaving')!.hidden = !peer.misbehaving
    for (const button of box.querySelectorAll('button')) button.setAttribute('aria-label', `${button.textContent} ${name}`)
  }

  /**
   * "Guest 653 is now Fiona" (the join notice keeps the old name), when a name the reader saw changes;
   * the first name their hello gives is not news, nor a muted person's. Renames in the quiet time after a
   * notice are told as one at its end ("Fionq is now Fiona"). People always shows the newest.
   */
  function renamed(item: Row) {
    const { name, id } = item.peer
    const wait = item.quiet - Date.now()
    clearTimeout(item.later)
    // A muted person's renames are not news, then or once unmuted.
    if (!item.told || moderate.muted(id)) item.told = name
    if (item.told === name) return
    if (wait > 0) {
      item.later = setTimeout(() => renamed(item), wait)
      return
    }
    notice(`${item.told} is now ${name}`)
    item.told = name
    item.quiet = Date.now() + RENAME_NOTICE_MS
  }

  function render(peer: PeerView): void {
    let item = rows.get(peer.id)
    if (!item) {
      const row = template('person-template')
      row.dataset.peer = peer.id
      item = { row, peer, unread: 0, quiet: 0, told: '' }
      rows.set(peer.id, item)
      list.append(row)
      row.querySelector('button')!.addEventListener('click', () => onChoose(rows.get(peer.id)!.peer))
    }
    item.peer = peer
    renamed(item)
    const { row } = item
    const name = peer.name || 'Someone'
    const avatar = row.querySelector<HTMLElement>('.avatar')!
    avatar.textContent = Array.from(name)[0]!.toUpperCase()
    paint(avatar, paletteIndex(peer))
    row.querySelector('.person-name')!.textContent = name
    row.querySelector('button')!.title = `Write to ${name} privately`
    const state = row.querySelector<HTMLElement>('.state')!
    state.dataset.state = peer.state
    state.textContent = peer.unverified
      ? 'cannot verify: wrong link?'
      : peer.state === 'connected' && peer.route === 'relayed'
        ? 'online (relayed)'
        : STATE_LABEL[peer.state]
    state.title = peer.route === 'relayed' ? 'Through a TURN relay (still end-to-end encrypted)' : ''
    row.dataset.route = peer.route ?? ''
    row.dataset.state = peer.state
    const code = row.querySelector<HTMLElement>('.code')!
    code.hidden = !peer.code
    code.textContent = peer.code ? `Code ${peer.code}` : ''
    moderation(row, peer, name)
    code.title = `Read this code to ${name} another way (in person, on a call). If theirs shows the same, nobody is listening in between.`
    alone.hidden = rows.size > 0
    hint.hidden = rows.size === 0
  }

  return {
    render,

    close(): void {
      for (const { later } of rows.values()) clearTimeout(later)
    },

    remove(id: string): void {
      const item = rows.get(id)
      if (!item) return
      clearTimeout(item.later)
      item.row.remove()
      rows.delete(id)
      alone.hidden = rows.size > 0
      hint.hidden = rows.size === 0
    },

    /** Marks whom the composer writes to privately (none: everyone); their unread count is read. */
    talking(id: string | undefined): void {
      if (talkingTo) rows.get(talkingTo)?.row.classList.remove('talking')
      talkingTo = id
      const item = id === undefined ? undefined : rows.get(id)
      if (!item) return
      item.row.classList.add('talking')
      item.unread = 0
      showUnread(item.peer.id)
    },

    /** A private message arrived from `id` while the composer was elsewhere. */
    unread(id: string): void {
      const item = rows.get(id)
      if (!item || talkingTo === id) return
      item.unread++
      showUnread(id)
    },

    stateOf: (id: string) => rows.get(id)?.row.dataset.state,
    count: () => rows.size,
  }
}
