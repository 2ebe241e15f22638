import { createSharedSignaling } from '../worker/shared-signaling'
import { joinRoom, type PeerView, type Room, type RoomStatus } from '../lib'
import { SignalingError } from '../lib'
import { createAlerts } from './alerts'
import { createComposer } from './composer'
import { createIndexedDbStore } from './idb-store'
import { parseFragment } from './links'
import { createMessageView } from './message-view'
import { PALETTE } from './palette'
import { createPanel } from './panel'
import { createPeopleView } from './people-view'
import { loadColor, loadName, rememberRoom, saveColor } from './prefs'
import { qrDataUrl } from './qr'
import { registerShell } from './shell'
import { bindSettings } from './settings'
import { cannotJoin, fatal, showBanner, STATUS_BANNER, type Banner } from './states'
import { bindThemeSelect } from './theme'
import { $ } from './dom'

// People already in the room arrive in one burst soon after joining (their names unsealed first); only
// later arrivals are news. An empty room has no burst: then this long after joining.
const SETTLE_MS = 1_500
// The app shell is installed once everyone in the room is connected, or this long after the page
// started, whichever comes first (an empty room has nobody to connect to).
const SHELL_LATEST_MS = 5_000
// The invitation's QR code is drawn when the page is idle, or after this at the latest.
const QR_IDLE_MS = 2_000

/** The shared signaling worker's URL, set by the build (build.mjs). */
declare const __PARLEY_WORKER__: string

declare global {
  interface Window {
    /** The page's room, for debugging in the console (and for tests that count connections). */
    parley?: Room
  }
}

export function showRoom(roomId: string): void {
  $('room').hidden = false
  const { secret, title: roomTitle } = parseFragment(location.hash)
  const problem = cannotJoin(secret)
  // One signaling connection per browser, shared by its tabs, where the browser allows it. Started
  // first: the worker's start-up is the longest step before the join can leave.
  const signaling = problem ? undefined : (createSharedSignaling(__PARLEY_WORKER__) ?? undefined)
  $('room-title').textContent = roomTitle || 'Room'
  $('room-id').textContent = roomId
  const panel = createPanel()
  bindThemeSelect($<HTMLSelectElement>('theme'))
  const log = createMessageView({
    log: $('messages'),
    typingLine: $('typing'),
    jump: $<HTMLButtonElement>('jump'),
    names: () => room?.peers ?? [],
    cancel: (transfer) => room?.cancelFile(transfer.id, transfer.direction === 'in' ? transfer.from : undefined),
  })
  let room: Room | undefined
  const composer = createComposer({
    send(text, to) {
      const message = room?.send(text, to === undefined ? undefined : { to })
      if (!message) return false
      log.message(message)
      spoke()
      log.follow()
      return true
    },
    sendFiles(files, to) {
      for (const file of files) {
        room?.sendFile(file, to === undefined ? undefined : { to }).catch((err: Error) => log.notice(`Could not send ${file.name}: ${err.message}`))
      }
      log.follow()
    },
    typing: () => room?.typing(),
    onTalking(peer) {
      people.talking(peer?.id)
      if (peer) panel.close()
    },
  })
  const people = createPeopleView($('people'), $('alone'), $('dm-hint'), (peer: PeerView) => {
    composer.talk(peer)
    composer.focus()
  })
  if (problem) {
    showBanner(problem)
    composer.enable(false)
    $('share').hidden = true
    return
  }
  const pageTitle = roomTitle ? `${roomTitle} · Parley` : `Parley · ${roomId}`
  document.title = pageTitle

  // A colour from the palette from the start, so what others see is what this person sees.
  let color = loadColor()
  if (!color) {
    color = PALETTE[Math.floor(Math.random() * PALETTE.length)]!.hex
    saveColor(color)
  }

  room = joinRoom({ room: roomId, secret, name: loadName(), color, signaling, store: createIndexedDbStore() })
  const joined = room
  window.parley = room

  const alerts = createAlerts({ title: pageTitle, notify: $<HTMLInputElement>('notify'), sound: $<HTMLInputElement>('sound') })
  let failure: Banner | null = null
  let settling = true
  let settleTimer: ReturnType<typeof setTimeout> | undefined

  // The empty room says what to do next, until someone arrives or something is said.
  let said = false
  const spoke = () => {
    said = true
    $('empty').hidden = true
  }
  const countPeople = () => {
    const n = people.count()
    $('empty').hidden = said || n > 0 || joined.status !== 'online'
    $('people-count').textContent = n > 0 ? String(n) : ''
    // The name holds the visible count (what a voice-control user would say).
    $('panel-toggle').setAttribute('aria-label', n > 0 ? `People and settings, ${n} here` : 'People and settings')
  }

  function onStatus(status: RoomStatus) {
    if (status === 'closed' && failure) return
    if (status !== 'online') $('empty').hidden = true
    showBanner(STATUS_BANNER[status])
    composer.enable(status === 'online' || status === 'reconnecting')
    if (status === 'online') {
      rememberRoom({ id: roomId, link: location.href, title: roomTitle, time: Date.now() })
      clearTimeout(settleTimer)
      settleTimer = setTimeout(() => (settling = false), SETTLE_MS)
      if (document.activeElement === document.body) composer.focus()
      countPeople()
    }
  }
  onStatus(room.status)
  room.on('status', onStatus)
  room.on('peer-joined', (peer) => {
    people.render(peer)
    countPeople()
    if (!settling) return log.notice(`${peer.name || 'Someone'} joined`)
    // The roster comes as one synchronous burst: whoever comes after it is news.
    clearTimeout(settleTimer)
    settleTimer = setTimeout(() => (settling = false), 0)
  })
  room.on('peer-connected', people.render)
  const shellTimer = setTimeout(registerShell, SHELL_LATEST_MS)
  room.on('peer-connected', () => joined.peers.every((p) => p.state === 'connected') && registerShell())
  room.on('peer-updated', (peer) => {
    const before = people.stateOf(peer.id)
    people.render(peer)
    log.repaint(peer)
    if (composer.to?.id === peer.id) composer.talk(peer)
    if (peer.state === 'failed' && before !== 'failed' && !peer.unverified) {
      log.notice(`Cannot reach ${peer.name || 'someone'}. Still trying.`)
    }
  })
  room.on('peer-left', (peer) => {
    people.remove(peer.id)
    countPeople()
    log.notice(`${peer.name || 'Someone'} left`)
    if (composer.to?.id === peer.id) {
      composer.talk(undefined)
      log.notice(`Back to writing to everyone: ${peer.name || 'they'} left.`)
    }
  })
  room.on('message', (message) => {
    log.message(message)
    spoke()
    if (message.mine || message.before) return
    alerts.message(message.name, message.text)
    if (message.to !== undefined) people.unread(message.from)
  })
  room.on('receipt', log.receipt)
  room.on('typing', ({ peers }) => log.typing(peers))
  room.on('file', (transfer) => {
    log.file(transfer)
    spoke()
  })
  room.on('file-progress', log.file)
  room.on('error', (err) => {
    if (joined.status === 'joining' || joined.status === 'closed') {
      // Joining failed for good (the room tears itself down): say why, once, instead of "you left".
      failure = fatal(err)
      showBanner(failure)
      composer.enable(false)
      // Nothing here can work now: no invitations, no "nobody is here yet".
      for (const id of ['empty', 'alone', 'share', 'share-section']) $(id).hidden = true
      return
    }
    log.notice(err instanceof SignalingError ? err.message : `Problem: ${err.message}`)
  })

  bindSettings(joined, color)

  const link = $<HTMLInputElement>('link')
  link.value = location.href
  // Drawing the code is a canvas and a PNG encoding: not while joining.
  const drawQr = () => ($<HTMLImageElement>('qr').src = qrDataUrl(location.href))
  if (typeof requestIdleCallback === 'function') requestIdleCallback(drawQr, { timeout: QR_IDLE_MS })
  else setTimeout(drawQr, QR_IDLE_MS)
  $('copy').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(location.href)
      log.notice('Link copied. Send it to the people you want to talk to.')
    } catch {
      link.select()
      log.notice('Copy the selected link under Invite.')
    }
  })
  const invite = async () => {
    if (navigator.share) {
      await navigator.share({ title: pageTitle, url: location.href }).catch(() => {})
      return
    }
    panel.open()
    link.focus()
    link.select()
  }
  $('share').addEventListener('click', invite)
  $('invite').addEventListener('click', invite)

  // Leave explicitly when the page goes away, so others see it at once rather than after the grace
  // period, and let go of the shared worker (a back/forward-cached page would otherwise hold on to it).
  addEventListener('pagehide', () => {
    joined.leave()
    signaling?.close()
    log.close()
    alerts.close()
    clearTimeout(settleTimer)
    clearTimeout(shellTimer)
  })
  // A page restored from the back/forward cache has left already: join again.
  addEventListener('pageshow', (event) => event.persisted && location.reload())
}
