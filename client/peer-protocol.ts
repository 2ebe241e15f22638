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

/** One chat line. `seq` counts the sender's messages in this room session, from 1. */
export interface ChatMessage {
  type: 'chat'
  id: string
  from: string
  name: string
  text: string
  time: number
  seq: number
}

/** First message on every new channel: who I am and where to resume my messages to you. */
export interface Hello {
  type: 'hello'
  name: string
  /** The highest `seq` I have received from you (0 if none): resend what follows. */
  have: number
}

export interface NameChange {
  type: 'name'
  name: string
}

/** Keeps an idle channel provably alive; any message counts, this one is sent when there is no other. */
export interface Ping {
  type: 'ping'
}

export type PeerMessage = ChatMessage | Hello | NameChange | Ping

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

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const isShortText = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max

/** Names are shown to people: trimmed, single-line, bounded. */
export function cleanName(value: string): string {
  // eslint-disable-next-line no-control-regex
  const single = value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').trim()
  // Cut by code points so an emoji is never split, then trim what the cut exposed.
  return Array.from(single).slice(0, MAX_NAME_CHARS).join('').trim()
}

/** Chat text is shown as text; control characters other than newline and tab are dropped. */
export function cleanText(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g, '')
}

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
    case 'chat': {
      const { id, name, text, time, seq } = value
      if (value.from !== from || !isShortText(id, MAX_ID_CHARS) || id === '') return null
      if (!isShortText(name, NAME_UNITS) || !isShortText(text, MAX_TEXT_CHARS) || text.trim() === '') return null
      if (typeof time !== 'number' || !Number.isFinite(time) || !isCount(seq) || seq === 0) return null
      const clean = cleanText(text)
      if (clean.trim() === '') return null
      return { type: 'chat', id, from, name: cleanName(name), text: clean, time, seq }
    }
    case 'hello':
      if (!isShortText(value.name, NAME_UNITS) || !isCount(value.have)) return null
      return { type: 'hello', name: cleanName(value.name), have: value.have }
    case 'ping':
      return { type: 'ping' }
    case 'name':
      if (!isShortText(value.name, NAME_UNITS)) return null
      return { type: 'name', name: cleanName(value.name) }
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
