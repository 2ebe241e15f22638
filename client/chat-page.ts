import { cryptoAvailable, isRoomSecret } from './crypto'
import { cleanName } from './peer-protocol'
import { loadName, saveName } from './prefs'
import { createSharedSignaling } from './shared-signaling'
import { joinRoom, type ChatMessage, type PeerView, type Room, type RoomStatus } from './room'
import { SignalingError } from './signaling'

const STATE_LABEL: Record<PeerView['state'], string> = {
  connecting: 'connecting…',
  connected: 'connected',
  reconnecting: 'reconnecting…',
  failed: 'cannot connect',
}
const STATUS_BANNER: Record<RoomStatus, string | null> = {
  joining: 'Connecting…',
  online: null,
  reconnecting: 'Signaling server unreachable — reconnecting…',
  closed: 'You left the room.',
}
// Auto-scroll only when the reader is already near the newest message.
const STICKY_SCROLL_PX = 80

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T
const template = (id: string) => ($<HTMLTemplateElement>(id).content.firstElementChild as HTMLElement).cloneNode(true) as HTMLElement

/** A stable colour per peer id for avatars. */
const hue = (id: string) => [...id].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 360, 7)

/** The shared signaling worker's URL, set by the build (build.mjs). */
declare const __PARLEY_WORKER__: string

declare global {
  interface Window {
    /** The page's room, for debugging in the console (and for tests that count connections). */
    parley?: Room
  }
}

/** Why this page cannot join, or null when it can. */
function cannotJoin(secret: string): string | null {
  if (!cryptoAvailable()) return 'Parley needs a secure connection: open it over HTTPS (or on localhost).'
  if (!isRoomSecret(secret)) {
    return 'This link is incomplete: the part after # is its secret key. Ask for the full link, or create a new room.'
  }
  return null
}

export function showRoom(roomId: string): void {
  $('room').hidden = false
  const problem = cannotJoin(location.hash.slice(1))
  if (problem) {
    $('room-id').textContent = roomId
    const banner = $('banner')
    banner.textContent = problem
    banner.classList.add('error')
    banner.hidden = false
    $<HTMLButtonElement>('send').disabled = true
    $<HTMLInputElement>('message').disabled = true
    return
  }
  $('room-id').textContent = roomId
  document.title = `Parley · ${roomId}`
  const nameInput = $<HTMLInputElement>('name')
  const messageInput = $<HTMLInputElement>('message')
  const sendButton = $<HTMLButtonElement>('send')
  const log = $('messages')
  const people = $('people')
  const banner = $('banner')
  const rows = new Map<string, HTMLElement>()

  // One signaling connection per browser, shared by its tabs, where the browser allows it.
  const signaling = createSharedSignaling(__PARLEY_WORKER__) ?? undefined
  const room = joinRoom({ room: roomId, secret: location.hash.slice(1), name: loadName(), signaling })
  window.parley = room
  nameInput.value = room.self.name

  function append(entry: HTMLElement) {
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < STICKY_SCROLL_PX
    log.append(entry)
    if (atBottom) log.scrollTop = log.scrollHeight
  }

  function notice(text: string) {
    const entry = document.createElement('div')
    entry.className = 'notice'
    entry.textContent = text
    append(entry)
  }

  function showMessage(message: ChatMessage, mine: boolean) {
    const entry = template('message-template')
    entry.classList.toggle('mine', mine)
    entry.dataset.id = message.id
    entry.dataset.from = mine ? 'self' : message.from
    entry.querySelector('.who')!.textContent = mine ? 'You' : message.name || 'Someone'
    entry.querySelector('.text')!.textContent = message.text
    const when = entry.querySelector('time')!
    when.dateTime = new Date(message.time).toISOString()
    when.textContent = new Date(message.time).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    append(entry)
  }

  function render(peer: PeerView) {
    let row = rows.get(peer.id)
    if (!row) {
      row = template('person-template')
      row.dataset.peer = peer.id
      rows.set(peer.id, row)
      people.append(row)
    }
    const name = peer.name || 'Someone'
    const avatar = row.querySelector<HTMLElement>('.avatar')!
    avatar.textContent = name.slice(0, 1).toUpperCase()
    avatar.style.background = `hsl(${hue(peer.id)} 55% 45%)`
    row.querySelector('.person-name')!.textContent = name
    const state = row.querySelector<HTMLElement>('.state')!
    state.dataset.state = peer.state
    state.textContent = peer.unverified
      ? 'cannot verify'
      : peer.state === 'connected' && peer.route
        ? `connected · ${peer.route}`
        : STATE_LABEL[peer.state]
    state.title = peer.route === 'relayed' ? 'Through a TURN relay (still end-to-end encrypted)' : ''
    row.dataset.route = peer.route ?? ''
    const code = row.querySelector<HTMLElement>('.code')!
    code.hidden = !peer.code
    code.textContent = peer.code ? `code ${peer.code}` : ''
    code.title = `Read this code to ${name} another way (in person, on a call). If theirs shows the same, nobody is listening in between.`
    row.dataset.state = peer.state
    $('alone').hidden = rows.size > 0
  }

  function setBanner(status: RoomStatus) {
    const text = STATUS_BANNER[status]
    banner.hidden = text === null
    banner.textContent = text ?? ''
    banner.classList.toggle('error', status === 'closed')
  }

  setBanner(room.status)
  room.on('status', setBanner)
  room.on('peer-joined', (peer) => {
    render(peer)
    notice(`${peer.name || 'Someone'} joined`)
  })
  room.on('peer-connected', render)
  room.on('peer-updated', (peer) => {
    const before = rows.get(peer.id)?.dataset.state
    render(peer)
    if (peer.state === 'failed' && before !== 'failed' && !peer.unverified) {
      notice(`Cannot reach ${peer.name || 'someone'} — still trying`)
    }
  })
  room.on('peer-left', (peer) => {
    rows.get(peer.id)?.remove()
    rows.delete(peer.id)
    $('alone').hidden = rows.size > 0
    notice(`${peer.name || 'Someone'} left`)
  })
  room.on('message', (message) => showMessage(message, false))
  room.on('error', (err) => notice(err instanceof SignalingError ? err.message : `Problem: ${err.message}`))

  $('composer').addEventListener('submit', (event) => {
    event.preventDefault()
    const message = room.send(messageInput.value)
    if (!message) return // empty, or not joined yet: keep what was typed
    showMessage(message, true)
    messageInput.value = ''
  })

  nameInput.addEventListener('change', () => {
    const name = cleanName(nameInput.value)
    if (!name) return void (nameInput.value = room.self.name)
    room.setName(name)
    saveName(name)
    nameInput.value = name
  })

  $('copy').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(location.href)
      notice('Link copied — send it to the people you want to talk to.')
    } catch {
      notice(`Copy this link: ${location.href}`)
    }
  })

  // Leave explicitly when the page goes away, so others see it at once rather than after the grace
  // period, and let go of the shared worker (a back/forward-cached page would otherwise hold on to it).
  addEventListener('pagehide', () => {
    room.leave()
    signaling?.close()
  })
  // A page restored from the back/forward cache has left already: join again.
  addEventListener('pageshow', (event) => event.persisted && location.reload())
  sendButton.disabled = false
}
