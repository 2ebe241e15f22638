import type { RoomStatus } from '../lib'
import { cryptoAvailable, isRoomSecret, SignalingError } from '../lib'
import { $ } from './dom'

/**
 * What the room page says about its state, in one banner: each message in plain words with what the
 * person can do next (a button), errors announced as alerts and the rest as status.
 */
export interface Banner {
  text: string
  error?: boolean
  action?: { label: string; run(): void }
}

export function showBanner(banner: Banner | null) {
  const element = $('banner')
  element.hidden = banner === null
  element.classList.toggle('error', Boolean(banner?.error))
  element.setAttribute('role', banner?.error ? 'alert' : 'status')
  $('banner-text').textContent = banner?.text ?? ''
  const button = $<HTMLButtonElement>('banner-action')
  button.hidden = !banner?.action
  button.textContent = banner?.action?.label ?? ''
  button.onclick = banner?.action ? () => banner.action!.run() : null
}

const newRoom = { label: 'Create a new room', run: () => location.assign('/') }
const retry = { label: 'Try again', run: () => location.reload() }

/** Why this page cannot join, or null when it can. */
export function cannotJoin(secret: string): Banner | null {
  if (!cryptoAvailable()) {
    return { text: 'Parley needs a secure connection: open this link over HTTPS (or on localhost).', error: true }
  }
  // Switched off (a hardened Firefox, Tor Browser, some extensions): nothing could connect.
  if (typeof RTCPeerConnection === 'undefined') {
    return { text: 'Parley connects people browser to browser with WebRTC, which this browser has turned off.', error: true }
  }
  if (!isRoomSecret(secret)) {
    return {
      text: 'This link is incomplete: the part after # is its secret key. Ask for the full link, or create a new room.',
      error: true,
      action: newRoom,
    }
  }
  return null
}

export const STATUS_BANNER: Record<RoomStatus, Banner | null> = {
  joining: { text: 'Connecting…' },
  online: null,
  reconnecting: { text: 'Cannot reach the Parley server. People already connected can still chat; trying again…' },
  closed: { text: 'You left the room.', action: { label: 'Join again', run: () => location.reload() } },
}

/** A problem the room goes on after, as the log says it. */
export function problem(err: Error): string {
  if (!(err instanceof SignalingError)) return `Problem: ${err.message}`
  // Chromium's limit is per renderer process, which tabs of one site can share.
  return err.code === 'CONNECTION_REFUSED' ? `${err.message} Closing other calls or tabs may help.` : err.message
}

/** What a failure to join means for the person, and what they can do about it. */
export function fatal(err: Error): Banner {
  const code = err instanceof SignalingError ? err.code : ''
  if (code === 'ROOM_FULL')
    return { text: 'This room is full. Try again when someone leaves, or create a new room.', error: true, action: newRoom }
  if (code === 'BAD_VERIFIER')
    return {
      text: 'This link’s key does not match this room. Ask for the link again, or create a new room.',
      error: true,
      action: newRoom,
    }
  if (code === 'TOO_MANY_SEATS')
    return { text: 'This browser holds all the places it may in this room. Close one of its tabs.', error: true, action: retry }
  if (code === 'RATE_LIMITED')
    return { text: 'Too many attempts from this network. Wait a minute, then try again.', error: true, action: retry }
  return { text: `Could not join the room (${err.message}).`, error: true, action: retry }
}
