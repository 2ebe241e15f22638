/** The terminal chat's lines: what it reads (typed, or JSON) and what it prints (text, or JSON). */
import type { PeerView } from '../lib'

/** What the terminal chat prints: with --json, exactly these objects, one a line. */
export type ChatOutput =
  | { type: 'message'; id: string; from: string; name: string; text: string; time: number; to?: string; history: boolean }
  | { type: 'sent'; id: string; text: string; time: number; to?: string }
  | { type: 'peer-joined' | 'peer-connected' | 'peer-left'; id: string; name: string }
  /** The six digits both ends see for this connection: equal codes mean nobody is in between. */
  | { type: 'peer-code'; id: string; name: string; code: string }
  | { type: 'status'; status: 'online' | 'reconnecting' | 'closed'; id?: string }
  | { type: 'error'; code: string; message: string }
  /** Messages printed earlier that someone else wrote in their author's name (see the room's `retracted`). */
  | { type: 'retracted'; ids: string[] }

/** One line typed (or one JSON object) asks for one of these. */
export type ChatInput =
  | { send: string; to?: string }
  | { command: 'quit' | 'who' | 'help' }
  | { command: 'name'; name: string }
  | { error: string }

export const HELP =
  'Type a message and press Enter. /dm <name> <text> sends to one person; /who lists people; /name <new> renames you; /quit leaves.'

/** Reads one input line: plain text and /commands, or with --json an object {"text", "to"?}. */
export function parseInput(line: string, json: boolean): ChatInput | null {
  if (json) {
    if (line.trim() === '') return null
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch {
      return { error: 'not JSON: send one object a line, like {"text": "hello"}' }
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return { error: 'expected an object like {"text": "hello"}' }
    const { text, to } = value as Record<string, unknown>
    if (typeof text !== 'string' || (to !== undefined && typeof to !== 'string'))
      return { error: '"text" must be a string, "to" (if any) a peer id or name' }
    return to === undefined ? { send: text } : { send: text, to }
  }
  if (line.trim() === '') return null
  if (!line.startsWith('/') || line.startsWith('//')) return { send: line.startsWith('//') ? line.slice(1) : line }
  const [, command = '', rest = ''] = /^\/(\S*)\s*([\s\S]*)$/.exec(line) ?? []
  switch (command) {
    case 'quit':
    case 'who':
    case 'help':
      return { command }
    case 'name':
      return rest.trim() ? { command: 'name', name: rest.trim() } : { error: 'usage: /name <new name>' }
    case 'dm': {
      // A name with spaces goes in quotes: /dm "Ana Lima" hello
      const match = /^(?:"([^"]+)"|(\S+))\s+([\s\S]+)$/.exec(rest)
      return match ? { send: match[3]!, to: match[1] ?? match[2]! } : { error: 'usage: /dm <name> <text>' }
    }
    default:
      return { error: `unknown command /${command}; ${HELP}` }
  }
}

/** Whom `to` means: a peer id, or else a name (case-insensitive) that only one person has. */
export function resolvePeer(peers: PeerView[], to: string): { id: string } | { error: string } {
  if (peers.some((p) => p.id === to)) return { id: to }
  const named = peers.filter((p) => p.name.toLowerCase() === to.toLowerCase())
  if (named.length === 1) return { id: named[0]!.id }
  return { error: named.length === 0 ? `nobody called ${to} is in the room` : `${named.length} people are called ${to}: use their id` }
}

export function formatText(out: ChatOutput, names: (id: string) => string): string {
  switch (out.type) {
    case 'message': {
      const lines = out.text.split('\n')
      const head = `${out.to ? '[DM] ' : ''}${out.name || 'Someone'}: `
      return [head + lines[0], ...lines.slice(1).map((l) => ' '.repeat(head.length) + l)].join('\n')
    }
    case 'sent':
      // Your own lines are on screen already, as typed; a direct one is confirmed with its recipient.
      return out.to ? `[DM to ${names(out.to)}] ${out.text}` : ''
    case 'peer-joined':
      return `* ${out.name || 'Someone'} joined`
    case 'peer-connected':
      return `* connected to ${out.name || 'someone'}`
    case 'peer-code':
      return `* code with ${out.name || 'someone'}: ${out.code} (they see the same, unless someone is in between)`
    case 'peer-left':
      return `* ${out.name || 'Someone'} left`
    case 'status':
      return out.status === 'online' ? '* in the room' : out.status === 'closed' ? '* left the room' : `* ${out.status}…`
    case 'error':
      return `! ${out.message}`
    case 'retracted':
      return `! ${out.ids.length} earlier message${out.ids.length === 1 ? ' was' : 's were'} not by who they said: disregard ${out.ids.length === 1 ? 'it' : 'them'}`
  }
}
