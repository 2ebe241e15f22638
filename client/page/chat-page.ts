import { cryptoAvailable, isRoomSecret } from '../crypto'
import { createAlerts } from './alerts'
import { createIndexedDbStore } from './idb-store'
import { createMessageView } from './message-view'
import { cleanName } from '../peer-protocol'
import { createPeopleView } from './people-view'
import { loadColor, loadName, saveColor, saveName } from './prefs'
import { createSharedSignaling } from '../shared-signaling'
import { joinRoom, type Room, type RoomStatus } from '../room'
import { SignalingError } from '../signaling'
const STATUS_BANNER: Record<RoomStatus, string | null> = {
  joining: 'Connecting…',
  online: null,
  reconnecting: 'Signaling server unreachable — reconnecting…',
  closed: 'You left the room.',
}
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T

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
  const title = `Parley · ${roomId}`
  document.title = title
  const nameInput = $<HTMLInputElement>('name')
  const colorInput = $<HTMLInputElement>('color')
  const messageInput = $<HTMLInputElement>('message')
  const sendTo = $<HTMLSelectElement>('to')
  const fileInput = $<HTMLInputElement>('file')
  const banner = $('banner')

  // One signaling connection per browser, shared by its tabs, where the browser allows it.
  const signaling = createSharedSignaling(__PARLEY_WORKER__) ?? undefined
  const room = joinRoom({
    room: roomId,
    secret: location.hash.slice(1),
    name: loadName(),
    color: loadColor(),
    signaling,
    store: createIndexedDbStore(),
  })
  window.parley = room
  nameInput.value = room.self.name
  colorInput.value = room.self.color ?? '#3b5bdb'

  const people = createPeopleView($('people'), $('alone'), sendTo)
  const log = createMessageView($('messages'), $('typing'), () => room.peers)
  const alerts = createAlerts(title)

  function setBanner(status: RoomStatus) {
    const text = STATUS_BANNER[status]
    banner.hidden = text === null
    banner.textContent = text ?? ''
    banner.classList.toggle('error', status === 'closed')
  }

  setBanner(room.status)
  room.on('status', setBanner)
  room.on('peer-joined', (peer) => {
    people.render(peer)
    log.notice(`${peer.name || 'Someone'} joined`)
  })
  room.on('peer-connected', people.render)
  room.on('peer-updated', (peer) => {
    const before = people.stateOf(peer.id)
    people.render(peer)
    if (peer.state === 'failed' && before !== 'failed' && !peer.unverified) {
      log.notice(`Cannot reach ${peer.name || 'someone'} — still trying`)
    }
  })
  room.on('peer-left', (peer) => {
    people.remove(peer.id)
    log.notice(`${peer.name || 'Someone'} left`)
  })
  room.on('message', (message) => {
    log.message(message)
    if (!message.mine && !message.before) alerts.message(message.name, message.text)
  })
  room.on('receipt', log.receipt)
  room.on('typing', ({ peers }) => log.typing(peers))
  room.on('file', log.file)
  room.on('file-progress', log.file)
  room.on('error', (err) => log.notice(err instanceof SignalingError ? err.message : `Problem: ${err.message}`))

  $('composer').addEventListener('submit', (event) => {
    event.preventDefault()
    const message = room.send(messageInput.value, sendTo.value ? { to: sendTo.value } : undefined)
    if (!message) return // empty, or not joined yet: keep what was typed
    log.message(message)
    messageInput.value = ''
  })
  messageInput.addEventListener('input', () => messageInput.value && room.typing())

  $('attach').addEventListener('click', () => fileInput.click())
  fileInput.addEventListener('change', () => {
    const to = sendTo.value || undefined
    for (const file of fileInput.files ?? []) {
      room.sendFile(file, to ? { to } : undefined).catch((err: Error) => log.notice(`Could not send ${file.name}: ${err.message}`))
    }
    fileInput.value = ''
  })

  nameInput.addEventListener('change', () => {
    const name = cleanName(nameInput.value)
    if (!name) return void (nameInput.value = room.self.name)
    room.setName(name)
    saveName(name)
    nameInput.value = name
  })
  colorInput.addEventListener('change', () => {
    room.setColor(colorInput.value)
    saveColor(colorInput.value)
  })
  $('notify').addEventListener('click', () => void alerts.enable())

  $('copy').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(location.href)
      log.notice('Link copied — send it to the people you want to talk to.')
    } catch {
      log.notice(`Copy this link: ${location.href}`)
    }
  })

  // Leave explicitly when the page goes away, so others see it at once rather than after the grace
  // period, and let go of the shared worker (a back/forward-cached page would otherwise hold on to it).
  addEventListener('pagehide', () => {
    room.leave()
    signaling?.close()
    log.close()
  })
  // A page restored from the back/forward cache has left already: join again.
  addEventListener('pageshow', (event) => event.persisted && location.reload())
  $<HTMLButtonElement>('send').disabled = false
}
