import { nanoid } from 'nanoid'
import { cryptoAvailable, newRoomSecret } from '../lib/crypto'
import { cleanName } from '../lib/peer-protocol'
import { $ } from './dom'
import { parseRoomLink, roomUrl } from './links'
import { chosenName, guestName, loadRecent, saveName } from './prefs'
import { bindThemeSelect } from './theme'

const ROOM_ID_CHARS = 12

const when = (time: number) =>
  new Date(time).toDateString() === new Date().toDateString()
    ? `today ${new Date(time).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}`
    : new Date(time).toLocaleDateString([], {
        day: 'numeric',
        month: 'short',
        ...(Date.now() - time > 300 * 86_400_000 ? { year: 'numeric' } : {}),
      })

export function showLanding(): void {
  $('landing').hidden = false
  const name = $<HTMLInputElement>('landing-name')
  const roomName = $<HTMLInputElement>('landing-room-name')
  name.value = chosenName()
  name.placeholder = guestName()
  // Saved as typed: a field left empty keeps the guest name.
  name.addEventListener('input', () => saveName(cleanName(name.value)))
  bindThemeSelect($<HTMLSelectElement>('landing-theme'))

  // Without WebCrypto nothing can be sealed: say so before anything is created.
  if (!cryptoAvailable()) {
    $('insecure').hidden = false
    $<HTMLButtonElement>('create').disabled = true
    $<HTMLButtonElement>('join').disabled = true
  }

  $('create-form').addEventListener('submit', (event) => {
    event.preventDefault()
    if (!cryptoAvailable()) return
    location.assign(roomUrl(location.origin, nanoid(ROOM_ID_CHARS), newRoomSecret(), roomName.value))
  })

  const joinLink = $<HTMLInputElement>('join-link')
  $('join-form').addEventListener('submit', (event) => {
    event.preventDefault()
    const link = parseRoomLink(joinLink.value, location.origin)
    $('join-error').textContent = link ? '' : 'That is not a room link of this server. It looks like …/r/abc123#…'
    if (link) {
      location.assign(link)
    }
  })

  const recent = loadRecent()
  $('recent-section').hidden = recent.length === 0
  $('recent').replaceChildren(
    ...recent.map((room) => {
      const item = document.createElement('li')
      const link = document.createElement('a')
      link.href = room.link
      const title = document.createElement('span')
      title.textContent = room.title || `Room ${room.id}`
      const time = document.createElement('span')
      time.className = 'when'
      time.textContent = when(room.time)
      link.append(title, time)
      item.append(link)
      return item
    }),
  )
  name.focus()
}
