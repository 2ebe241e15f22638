import { joinRoom, type PeerView, type Room, type RoomStatus } from '../lib'
import { cleanText } from '../lib/peer-protocol'
import { createSharedSignaling } from '../worker/shared-signaling'
import { createAlerts } from './alerts'
import { createComposer } from './composer'
import { createConversationTools } from './conversation-tools'
import { $ } from './dom'
import { createIndexedDbKeys, createIndexedDbStore } from './idb-store'
import { bindInvite } from './invite'
import { loadExtras, type UseExtras } from './later'
import { parseFragment } from './links'
import { createMessageView } from './message-view'
import { createModeration } from './moderation'
import { PALETTE } from './palette'
import { createPanel } from './panel'
import { createPeopleView } from './people-view'
import { loadColor, loadName, rememberRoom, saveColor } from './prefs'
import { createPresenceNotices } from './presence'
import { createReveal } from './reveal'
import { bindSettings } from './settings'
import { settleThenInstall } from './shell'
import { type Banner, cannotJoin, fatal, problem, STATUS_BANNER, showBanner } from './states'
import { bindThemeSelect } from './theme'

/** The shared signaling worker's URL, set by the build (build.mjs). */
declare const __PARLEY_WORKER__: string

/** Joining cannot work (a broken link, a refusal): no invitations, no "nobody is here yet". */
const hideWhatNeedsTheRoom = () => {
  for (const id of ['empty', 'alone', 'share', 'share-section']) $(id).hidden = true
  // Name, colour and alerts are this person's in a room; the theme stays.
  for (const setting of document.querySelectorAll<HTMLElement>('.needs-room')) setting.hidden = true
}

declare global {
  interface Window {
    /** The page's room, for debugging in the console (and for tests that count connections). */
    parley?: Room
  }
}

/** A colour from the palette from the start, so what others see is what this person sees. */
function ownColor(): string {
  const stored = loadColor()
  if (stored) return stored
  const color = PALETTE[Math.floor(Math.random() * PALETTE.length)]!.hex
  saveColor(color)
  return color
}

export function showRoom(roomId: string): void {
  const reveal = createReveal()
  const { secret, title: roomTitle } = parseFragment(location.hash)
  const problem = cannotJoin(secret)
  // One signaling connection per browser, shared by its tabs, where the browser allows it. Started
  // first: the worker's start-up is the longest step before the join can leave.
  const signaling = problem ? undefined : (createSharedSignaling(__PARLEY_WORKER__) ?? undefined)
  $('room-title').textContent = roomTitle || 'Room'
  $('room-id').textContent = roomId
  const panel = createPanel()
  const extras = loadExtras()
  bindThemeSelect($<HTMLSelectElement>('theme'))
  const moderation = createModeration(roomId)
  const log = createMessageView({
    log: $('messages'),
    typingLine: $('typing'),
    jump: $<HTMLButtonElement>('jump'),
    names: () => room?.peers ?? [],
    cancel: (transfer) => room?.cancelFile(transfer.id, transfer.direction === 'in' ? transfer.from : undefined),
    muted: moderation.muted,
  })
  let room: Room | undefined
  // The empty room says what to do next, until someone arrives or something is said.
  let said = false
  const spoke = () => {
    said = true
    $('empty').hidden = true
  }
  const countPeople = () => {
    const n = people.count()
    $('empty').hidden = said || n > 0 || room?.status !== 'online'
    $('people-count').textContent = n > 0 ? String(n) : ''
    // The name holds the visible count (what a voice-control user would say).
    $('panel-toggle').setAttribute('aria-label', n > 0 ? `People and settings, ${n} here` : 'People and settings')
  }
  const { own, notes, actions } = createConversationTools(log, panel, () => room, extras)
  const composer = createComposer({
    send(text, to) {
      const intent = actions.intent
      if (intent?.act === 'edit') {
        // Emptying a line would delete it without the question Delete asks: the edit stays open, and says why.
        if (!cleanText(text).trim()) {
          log.notice('An edit cannot be empty: delete the message instead, or cancel the edit to keep it.')
          return false
        }
        actions.take()
        void room?.edit(intent.id, text)
        return true
      }
      const message = room?.send(text, { ...(to === undefined ? {} : { to }), ...(intent ? { replyTo: intent.id } : {}) })
      if (!message) {
        // Their session went, and the reply with it: the new one has not seen the line. Kept in the box.
        if (intent?.direct && text.trim())
          log.notice('They left or reloaded, so a private reply cannot reach them: cancel the reply first.')
        return false
      }
      actions.take()
      own.add(message.id)
      log.message(message, () => notes.added(message, message.name))
      spoke()
      log.follow()
      return true
    },
    sendFiles(files, to) {
      for (const file of files) {
        room
          ?.sendFile(file, to === undefined ? undefined : { to })
          .catch((err: Error) => log.notice(`Could not send ${file.name}: ${err.message}`))
      }
      log.follow()
    },
    refused: (files, why) => log.notice(`Not sent: ${files.map((file) => file.name).join(', ')}. ${why}.`),
    // Writing about a direct message, whoever the composer writes to: nobody is told (it could be the wrong people).
    typing: (to) => actions.intent?.direct || room?.typing(to),
    onTalking(peer) {
      people.talking(peer?.id)
      if (peer) panel.close()
    },
  })
  const people = createPeopleView(
    $('people'),
    $('alone'),
    $('dm-hint'),
    (peer: PeerView) => {
      composer.talk(peer)
      composer.focus()
    },
    {
      mute: (peer) => {
        const { on, lines } = moderation.mute(peer.id)
        log.hide(lines, on)
        showUnblock()
      },
      block: (peer) => {
        if (room) moderation.block(room, peer.id)
        showUnblock()
      },
      muted: moderation.muted,
    },
    log.notice,
  )
  const unblock = $('unblock')
  const showUnblock = () => {
    const count = moderation.count()
    unblock.hidden = count === 0
    unblock.textContent = `Unmute and unblock everyone (${count})`
  }
  showUnblock()
  unblock.onclick = () => {
    moderation.clear()
    location.reload()
  }
  if (problem) {
    reveal.now()
    showBanner(problem)
    composer.enable(false)
    hideWhatNeedsTheRoom()
    return
  }
  const pageTitle = roomTitle ? `${roomTitle} · Parley` : `Parley · ${roomId}`
  document.title = pageTitle
  const color = ownColor()
  room = joinRoom({ room: roomId, secret, name: loadName(), color, signaling, store: createIndexedDbStore(), keys: createIndexedDbKeys() })
  window.parley = room
  moderation.block(room)
  reveal.whenJoined(room, { focus: () => composer.focus(), follow: () => log.follow() })
  wireRoom(
    room,
    { roomId, roomTitle, pageTitle, color, signaling },
    { log, composer, people, panel, moderation, notes, spoke, countPeople, extras },
  )
}

/** The page's parts that the room's events update. */
interface RoomViews {
  log: ReturnType<typeof createMessageView>
  composer: ReturnType<typeof createComposer>
  people: ReturnType<typeof createPeopleView>
  panel: ReturnType<typeof createPanel>
  moderation: ReturnType<typeof createModeration>
  notes: ReturnType<typeof createConversationTools>['notes']
  /** Something was said: the empty room's hint goes. */
  spoke(): void
  /** Who is here changed, or the room's status did. */
  countPeople(): void
  extras: UseExtras
}

/** Wires the joined room's events to the page, until the page goes away. */
function wireRoom(
  room: Room,
  page: { roomId: string; roomTitle: string; pageTitle: string; color: string; signaling: { close(): void } | undefined },
  views: RoomViews,
): void {
  const { roomId, roomTitle, pageTitle, color, signaling } = page
  const { log, composer, people, panel, moderation, notes, spoke, countPeople, extras } = views

  const alerts = createAlerts({ title: pageTitle, notify: $<HTMLInputElement>('notify'), sound: $<HTMLInputElement>('sound') })
  let failure: Banner | null = null
  const presence = createPresenceNotices(log.notice, () => room.peers)

  function onStatus(status: RoomStatus) {
    if (status === 'closed' && failure) return
    if (status !== 'online') $('empty').hidden = true
    showBanner(STATUS_BANNER[status])
    composer.enable(status === 'online' || status === 'reconnecting')
    if (status === 'online') {
      rememberRoom({ id: roomId, link: location.href, title: roomTitle, time: Date.now() })
      presence.online()
      if (document.activeElement === document.body) composer.focus()
      countPeople()
    }
  }
  onStatus(room.status)
  room.on('status', onStatus)
  room.on('peer-joined', (peer) => {
    people.render(peer)
    log.repaint(peer)
    countPeople()
    presence.joined(peer)
  })
  room.on('peer-connected', people.render)
  const stopSettling = settleThenInstall(room)
  room.on('peer-updated', (peer) => {
    const before = people.stateOf(peer.id)
    people.render(peer)
    log.repaint(peer)
    // Also the one written to coming back in the same session (a re-claim after a server restart): its id is theirs.
    if (composer.to?.id === peer.id) composer.talk(peer)
    if (peer.state === 'failed' && before !== 'failed' && !peer.unverified) {
      log.notice(`Cannot reach ${peer.name || 'someone'}. Still trying.`)
    }
  })
  room.on('peer-left', (peer) => {
    people.remove(peer.id)
    countPeople()
    presence.left(peer)
    if (composer.to?.id === peer.id) composer.talk(peer, true)
  })
  room.on('message', (message) => {
    if (moderation.muted(message.from, message.key)) return
    spoke()
    log.message(message, (shown) => {
      const mentioned = notes.added(message, room.self.name)
      if (!shown || message.mine || message.before) return
      if (mentioned) alerts.mention(message.name, message.text)
      else alerts.message(message.name, message.text)
      if (message.to !== undefined) people.unread(message.from)
    })
  })
  room.on('annotation', notes.annotate)
  room.on('retracted', notes.retract)
  room.on('receipt', log.receipt)
  room.on('typing', ({ peers }) => log.typing(peers))
  room.on('file', (transfer) => {
    if (moderation.muted(transfer.from)) return
    log.file(transfer)
    spoke()
  })
  room.on('file-progress', (transfer) => moderation.muted(transfer.from) || log.file(transfer))
  room.on('failed', (err) => {
    // Said once, instead of "you left" when the room closes right after.
    failure = fatal(err)
    showBanner(failure)
    composer.enable(false)
    hideWhatNeedsTheRoom()
  })
  room.on('error', (err) => log.notice(problem(err)))
  bindSettings(room, color)
  bindInvite({ title: pageTitle, notice: log.notice, openPanel: panel.open, extras })

  // Hidden is the last moment a page is sure to run: a phone may discard it without pagehide.
  const onHidden = () => document.visibilityState === 'hidden' && room.flush()
  document.addEventListener('visibilitychange', onHidden)
  // Leave explicitly when the page goes away, so others see it at once rather than after the grace
  // period, and let go of the shared worker (a back/forward-cached page would otherwise hold on to it).
  addEventListener('pagehide', () => {
    document.removeEventListener('visibilitychange', onHidden)
    room.leave()
    signaling?.close()
    log.close()
    alerts.close()
    presence.close()
    people.close()
    stopSettling()
  })
  // A page restored from the back/forward cache has left already: join again.
  addEventListener('pageshow', (event) => event.persisted && location.reload())
}
