import { before } from './history'
import { type ChatMessage, MAX_REACTIONS_PER_PERSON } from './peer-protocol'
import type { Annotation } from './types'

/** A signed event and the key its signature was checked against. */
export interface Signed {
  message: ChatMessage
  key: string
}

/** Edits and deletes count only from the target's author with the target's key. */
const byAuthor = (target: Signed, event: Signed) => event.message.from === target.message.from && event.key === target.key

/**
 * The state of `target` given every event about it, in any order: a pure function of the set, so
 * everyone holding the same events shows the same thing. Without the target (not here yet, or erased),
 * nothing about it can be checked, so nothing is applied.
 */
export function annotate(target: Signed | undefined, events: Iterable<Signed>, id = target?.message.id ?? ''): Annotation {
  const state: Annotation = { id, edited: false, deleted: false, reactions: [] }
  if (!target) return state
  const sorted = [...events].filter((e) => e.message.re?.id === id).sort((a, b) => (before(a.message, b.message) ? -1 : 1))
  // (emoji, reactor) → the deciding event's place in the room's order, when it turns the reaction on.
  const latest = new Map<string, number | null>()
  for (const [rank, event] of sorted.entries()) {
    const re = event.message.re!
    if (re.act === 'delete' && byAuthor(target, event)) state.deleted = true
    else if (re.act === 'edit' && byAuthor(target, event)) {
      state.edited = true
      state.text = event.message.text
    } else if (re.act === 'react') {
      const pair = JSON.stringify([re.emoji, event.message.from])
      latest.delete(pair)
      latest.set(pair, re.on ? rank : null)
    }
  }
  if (state.deleted) return { id, edited: false, deleted: true, reactions: [] }
  const who = new Map<string, string[]>()
  const counted = new Map<string, number>()
  // In the order the reactions were turned on, so a person's first ones count when they have too many.
  const on = [...latest].filter((pair): pair is [string, number] => pair[1] !== null).sort((a, b) => a[1] - b[1])
  for (const [pair] of on) {
    const [emoji, from] = JSON.parse(pair) as [string, string]
    const n = counted.get(from) ?? 0
    if (n >= MAX_REACTIONS_PER_PERSON) continue
    counted.set(from, n + 1)
    who.set(emoji, [...(who.get(emoji) ?? []), from])
  }
  state.reactions = [...who.keys()].sort().map((emoji) => ({ emoji, from: who.get(emoji)!.sort() }))
  return state
}

/** Events that change another message rather than say something (replies are chat lines). */
export const isAnnotation = (message: ChatMessage) => message.re !== undefined && message.re.act !== 'reply'

/**
 * The room's events about earlier messages, gathered as they come in any order. Targets are remembered
 * (author and key) even after a deletion erased them from the log, so a late event still finds them.
 */
export function createAnnotations() {
  const targets = new Map<string, Signed>()
  const about = new Map<string, Signed[]>()
  return {
    /** Adds a message or an event; returns the state of the message it changes, if that may have changed. */
    add(entry: Signed): Annotation | undefined {
      const { message } = entry
      if (!isAnnotation(message)) {
        if (targets.has(message.id)) return undefined
        targets.set(message.id, entry)
        return about.has(message.id) ? annotate(entry, about.get(message.id)!) : undefined
      }
      const id = message.re!.id
      const events = about.get(id) ?? []
      if (events.some((e) => e.message.id === message.id)) return undefined
      events.push(entry)
      about.set(id, events)
      return targets.has(id) ? annotate(targets.get(id), events) : undefined
    },

    state: (id: string): Annotation => annotate(targets.get(id), about.get(id) ?? [], id),

    /** Messages and events taken back (see RoomLog.announce): the new state of each message they changed. */
    drop(ids: string[]): Annotation[] {
      const gone = new Set(ids)
      for (const id of ids) targets.delete(id)
      const changed: Annotation[] = []
      for (const [id, events] of about) {
        const kept = events.filter((e) => !gone.has(e.message.id))
        if (kept.length === events.length) continue
        about.set(id, kept)
        if (targets.has(id)) changed.push(annotate(targets.get(id), kept))
      }
      return changed
    },

    /** A message seen here (not an event), with the key that signed it. */
    target: (id: string) => targets.get(id),
  }
}
