import { isColor, isObject } from './util'

/**
 * What travels over the WebRTC data channels between browsers, and what travels inside `signal`
 * payloads through the server. Everything from a peer is parsed here before anyone trusts it.
 */

export const MAX_WIRE_CHARS = 64 * 1024
export const MAX_TEXT_CHARS = 4_000
export const MAX_NAME_CHARS = 40
// Names are cut to 40 code points; an emoji is two UTF-16 units, so the wire allows twice that.
const NAME_UNITS = MAX_NAME_CHARS * 2
const MAX_ID_CHARS = 64
/** The range of a JavaScript Date: a time outside it cannot be shown (see history.ts for the window around now). */
export const MAX_TIME_MS = 8.64e15
export const MAX_FILE_NAME_CHARS = 255
/** A reaction is one emoji (a flag or a family is several code points, so units, not characters). */
export const MAX_EMOJI_UNITS = 32
/** Different emoji one person may have on one message at once (more would only bury the message). */
export const MAX_REACTIONS_PER_PERSON = 12

/**
 * One chat line. `seq` counts the sender's messages in this room session, from 1; `lamport` orders the
 * room's history the same way for everyone; `sig` is the sender's signature (see identity.ts).
 */
export interface ChatMessage {
  type: 'chat'
  id: string
  from: string
  name: string
  text: string
  time: number
  seq: number
  lamport: number
  /** A direct message: only this peer receives it. */
  to?: string
  /** An event about an earlier message `re.id` (see Reference); signed as well (see identity.ts). */
  re?: Reference
  sig?: string
}

/**
 * What a chat message says about an earlier one. A reply is a chat line of its own; an edit carries the
 * new text; a delete and a reaction carry empty text. Edits and deletes count only when signed by the
 * target's author (annotations.ts); a reaction is (reactor, emoji) on or off, the latest one counting.
 */
export type Reference = { act: 'reply' | 'edit' | 'delete'; id: string } | { act: 'react'; id: string; emoji: string; on: boolean }

/** First message on every new channel: who I am and where to resume my messages to you. */
export interface Hello {
  type: 'hello'
  name: string
  /** The highest `seq` I have received from you (0 if none): resend what follows. */
  have: number
  /** My session's public signing key (base64url, raw Ed25519, 32 bytes). */
  key?: string
  color?: string
}

/** Our hello on a new channel, from who we are (`have`: the highest seq of theirs we hold). */
export function helloFrom(self: { name: string; key?: string; color?: string }, have: number): Hello {
  return { type: 'hello', name: self.name, have, ...(self.key ? { key: self.key } : {}), ...(self.color ? { color: self.color } : {}) }
}

/** Name and colour changes (kept as type "name" on the wire). */
export interface NameChange {
  type: 'name'
  name: string
  color?: string
}

/** Keeps an idle channel provably alive; any message counts, this one is sent when there is no other. */
export interface Ping {
  type: 'ping'
}

/** "I am typing": repeated at most every few seconds while typing, forgotten a few seconds later. */
export interface Typing {
  type: 'typing'
}

/** Delivery receipts: these messages of yours reached me. */
export interface Ack {
  type: 'ack'
  ids: string[]
}

/** Part of the room's recent history, each message with its author's signing key. */
export interface HistoryMessage {
  type: 'history'
  entries: HistoryEntry[]
}

export interface HistoryEntry {
  message: ChatMessage
  key: string
}

/** A file follows as binary frames: 8 id characters, then up to CHUNK_BYTES of content. */
export interface FileOffer {
  type: 'file'
  id: string
  name: string
  size: number
  mime: string
  sha256: string
  to?: string
}

/** A file transfer stops: the sender gave up on it, or a recipient does not want the rest. */
export interface FileCancel {
  type: 'file-cancel'
  id: string
}

export type PeerMessage = ChatMessage | Hello | NameChange | Ping | Typing | Ack | HistoryMessage | FileOffer | FileCancel

export const MAX_ACK_IDS = 64
export const MAX_FILE_BYTES = 64 * 1024 * 1024
export const FILE_ID_CHARS = 8

/**
 * The envelope of every signal between two browsers. `attempt` numbers the pair's connection attempts
 * (the initiator's count), so a late candidate from an abandoned attempt never reaches a newer one.
 * `restart` asks the initiator to start a new attempt; `refused` says the sender could not open ours.
 */
export type SignalEnvelope =
  | { attempt: number; signal: unknown }
  | { attempt: number; restart: true }
  /** "Your signals do not open for me": the other end learns it too (and what it hears from a tamperer won't open either). */
  | { attempt: number; refused: true }

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const isShortText = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max
// Control characters (C0, DEL, C1) and the Unicode line and paragraph separators: a name is one line.
const LINE_BREAKING = /[\p{Cc}\u2028\u2029]/gu
// Control characters except tab, newline and carriage return, which chat text may hold.
const CONTROL_BUT_BREAKS = /(?![\t\n\r])\p{Cc}/gu

/** Names are shown to people: trimmed, single-line, bounded. */
export function cleanName(value: string): string {
  const single = value.replace(LINE_BREAKING, ' ').trim()
  // Cut by code points so an emoji is never split, then trim what the cut exposed.
  return Array.from(single).slice(0, MAX_NAME_CHARS).join('').trim()
}

// Bidirectional overrides, embeddings, isolates and marks: in a file name they disguise the extension.
const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

/**
 * File names are shown as one line and read left to right as sent: "invoice\u202Efdp.exe" is "invoicefdp.exe".
 * A long one keeps its end, extension included (what opens it): MAX_FILE_NAME_CHARS units (the wire's bound,
 * what file systems allow), less a half emoji or white space the cut left at its start.
 */
export function cleanFileName(value: string): string {
  return (
    value
      .replace(BIDI_CONTROLS, '')
      .replace(LINE_BREAKING, ' ')
      .trim()
      .slice(-MAX_FILE_NAME_CHARS)
      .replace(/^\p{Cs}?\s*/u, '') || 'file'
  )
}

/** Chat text is shown as text; control characters other than newline and tab are dropped. */
export function cleanText(value: string): string {
  return value.replace(CONTROL_BUT_BREAKS, '')
}

const isId = (v: unknown): v is string => isShortText(v, MAX_ID_CHARS) && v !== ''
const isKey = (v: unknown): v is string => typeof v === 'string' && /^[A-Za-z0-9_-]{40,200}$/.test(v)

// An emoji: no spaces or controls, and at least one pictograph or flag letter.
const EMOJI = /^(?=.*[\p{Extended_Pictographic}\p{Regional_Indicator}])[^\s\p{Cc}]+$/u
export const isEmoji = (v: unknown): v is string => isShortText(v, MAX_EMOJI_UNITS) && EMOJI.test(v)

function parseReference(value: unknown): Reference | null {
  if (!isObject(value) || !isId(value.id)) return null
  const { act, id, emoji, on } = value
  if (act === 'reply' || act === 'edit' || act === 'delete') return { act, id }
  if (act !== 'react' || typeof on !== 'boolean' || !isEmoji(emoji)) return null
  return { act, id, emoji, on }
}

/** A chat message by `author` (the channel's peer, or anyone when relayed in a history). */
function parseChat(value: Record<string, unknown>, author: string | null): ChatMessage | null {
  const { id, from, name, text, time, seq, lamport, to, sig } = value
  const re = value.re === undefined ? undefined : parseReference(value.re)
  if (re === null) return null
  if (!isId(id) || !isId(from) || (author !== null && from !== author)) return null
  if (!isShortText(name, NAME_UNITS) || !isShortText(text, MAX_TEXT_CHARS)) return null
  if (typeof time !== 'number' || !(Math.abs(time) <= MAX_TIME_MS) || !isCount(seq) || seq === 0) return null
  if (lamport !== undefined && !isCount(lamport)) return null
  if ((to !== undefined && !isId(to)) || (sig !== undefined && !isShortText(sig, 200))) return null
  const clean = cleanText(text)
  // Deletes and reactions say nothing; everything else says something.
  const silent = re?.act === 'delete' || re?.act === 'react'
  if (silent ? clean !== '' : clean.trim() === '') return null
  const message: ChatMessage = { type: 'chat', id, from, name: cleanName(name), text: clean, time, seq, lamport: lamport ?? 0 }
  if (to !== undefined) message.to = to
  if (re) message.re = re
  if (sig !== undefined) message.sig = sig
  return message
}

const parseColor = (v: unknown) => (isColor(v) ? v.toLowerCase() : undefined)

/** Parses one data-channel message from `from`; null for anything malformed, oversized or forged. */
export function parsePeerMessage(raw: unknown, from: string): PeerMessage | null {
  if (typeof raw !== 'string' || raw.length > MAX_WIRE_CHARS) return null
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    return null
  }
  if (!isObject(value)) return null
  switch (value.type) {
    case 'chat':
      return parseChat(value, from)
    case 'hello': {
      if (!isShortText(value.name, NAME_UNITS) || !isCount(value.have)) return null
      if (value.key !== undefined && !isKey(value.key)) return null
      const hello: Hello = { type: 'hello', name: cleanName(value.name), have: value.have }
      if (value.key !== undefined) hello.key = value.key
      const color = parseColor(value.color)
      if (color) hello.color = color
      return hello
    }
    case 'ping':
      return { type: 'ping' }
    case 'typing':
      return { type: 'typing' }
    case 'name': {
      if (!isShortText(value.name, NAME_UNITS)) return null
      const change: NameChange = { type: 'name', name: cleanName(value.name) }
      const color = parseColor(value.color)
      if (color) change.color = color
      return change
    }
    case 'ack':
      return Array.isArray(value.ids) && value.ids.length <= MAX_ACK_IDS && value.ids.every(isId) ? { type: 'ack', ids: value.ids } : null
    case 'history': {
      if (!Array.isArray(value.entries)) return null
      const entries: HistoryEntry[] = []
      for (const entry of value.entries) {
        if (!isObject(entry) || !isObject(entry.message) || !isKey(entry.key)) return null
        const message = parseChat(entry.message, null)
        if (!message || message.to !== undefined || !message.sig) return null // direct messages are never shared
        entries.push({ message, key: entry.key })
      }
      return { type: 'history', entries }
    }
    case 'file': {
      const { id, name, size, mime, sha256, to } = value
      if (typeof id !== 'string' || id.length !== FILE_ID_CHARS || !/^[A-Za-z0-9_-]+$/.test(id)) return null
      if (
        !isShortText(name, MAX_FILE_NAME_CHARS) ||
        !isShortText(mime, 255) ||
        typeof sha256 !== 'string' ||
        !/^[0-9a-f]{64}$/.test(sha256)
      )
        return null
      if (!isCount(size) || size > MAX_FILE_BYTES || (to !== undefined && !isId(to))) return null
      const offer: FileOffer = { type: 'file', id, name: cleanFileName(name), size, mime, sha256 }
      if (to !== undefined) offer.to = to
      return offer
    }
    case 'file-cancel': {
      const { id } = value
      return typeof id === 'string' && id.length === FILE_ID_CHARS && /^[A-Za-z0-9_-]+$/.test(id) ? { type: 'file-cancel', id } : null
    }
    default:
      return null
  }
}

export function parseEnvelope(value: unknown): SignalEnvelope | null {
  if (!isObject(value) || !isCount(value.attempt)) return null
  if (value.restart === true) return { attempt: value.attempt, restart: true }
  if (value.refused === true) return { attempt: value.attempt, refused: true }
  return isObject(value.signal) ? { attempt: value.attempt, signal: value.signal } : null
}
