import type { Annotation, ChatView } from '../lib'
import { formatText } from './format'

const SNIPPET_CHARS = 80
// After a name, a mention ends where letters and digits do.
const NAME_END = '(?![\\p{L}\\p{N}_])'

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** `@name` for any of `names` (longest first, so "@Ana Maria" beats "@Ana"), or null when none. */
export function mentionPattern(names: string[]): RegExp | null {
  const known = [...new Set(names.filter(Boolean))].sort((a, b) => b.length - a.length).map(escapeRegExp)
  return known.length === 0 ? null : new RegExp(`@(?:${known.join('|')})${NAME_END}`, 'giu')
}

/** Wraps mentions in the text's own text nodes (never inside code): the text itself is unchanged. */
function highlight(text: Element, pattern: RegExp | null) {
  if (!pattern) return
  const walker = document.createTreeWalker(text, NodeFilter.SHOW_TEXT)
  const nodes: Text[] = []
  while (walker.nextNode()) if (!walker.currentNode.parentElement?.closest('code, .md')) nodes.push(walker.currentNode as Text)
  for (const node of nodes) {
    const parts: Node[] = []
    let last = 0
    for (const match of node.data.matchAll(pattern)) {
      parts.push(document.createTextNode(node.data.slice(last, match.index)))
      const span = document.createElement('span')
      span.className = 'mention'
      span.textContent = match[0]
      parts.push(span)
      last = match.index + match[0].length
    }
    if (last === 0) continue
    parts.push(document.createTextNode(node.data.slice(last)))
    node.replaceWith(...parts)
  }
}

/**
 * What later events do to the Messages log: reply quotes that jump to their original, edited text,
 * "message deleted", reaction counts (who reacted on hover and focus) and highlighted mentions.
 */
export function createAnnotationView(options: {
  entry(id: string): HTMLElement | undefined
  /** Names that may be mentioned (everyone here, and this person). */
  names(): string[]
  selfId(): string
  nameOf(id: string): string
  react(id: string, emoji: string, on: boolean): void
  jump(id: string): void
}) {
  const replies = new Map<string, Set<HTMLElement>>()

  function snippet(id: string): string {
    const entry = options.entry(id)
    if (!entry) return 'Original message not available'
    if (entry.classList.contains('deleted')) return 'Original message deleted'
    // What the eye sees: formatting markers are in the text but not shown (innerText leaves them out).
    // biome-ignore lint/performance/useDomNodeTextContent: innerText leaves out the hidden formatting markers (format.ts), which is the point
    const text = entry.querySelector<HTMLElement>('.text')?.innerText ?? ''
    const cut = text.length > SNIPPET_CHARS ? `${text.slice(0, SNIPPET_CHARS)}…` : text
    return `Reply to ${entry.querySelector('.who')?.textContent}: ${cut}`
  }

  const requote = (id: string) => {
    for (const reply of replies.get(id) ?? []) reply.querySelector('.quote')!.textContent = snippet(id)
  }

  function setText(entry: HTMLElement, text: string) {
    const element = entry.querySelector('.text')!
    element.replaceChildren(...formatText(text))
    highlight(element, mentionPattern(options.names()))
  }

  function reactions(entry: HTMLElement, id: string, list: Annotation['reactions']) {
    entry.querySelector('.reactions')?.remove()
    if (list.length === 0) return
    const row = document.createElement('span')
    row.className = 'reactions'
    for (const { emoji, from } of list) {
      const button = document.createElement('button')
      const mine = from.includes(options.selfId())
      const others = from
        .filter((p) => p !== options.selfId())
        .map(options.nameOf)
        .sort((a, b) => a.localeCompare(b))
      const who = [...(mine ? ['you'] : []), ...others].join(', ')
      button.type = 'button'
      button.textContent = `${emoji} ${from.length}`
      button.dataset.emoji = emoji
      button.setAttribute('aria-pressed', String(mine))
      button.setAttribute('aria-label', `${emoji} ${from.length}: ${who}`)
      button.title = who
      button.addEventListener('click', () => options.react(id, emoji, !mine))
      row.append(button)
    }
    entry.querySelector('.receipt')!.before(row)
  }

  return {
    /** A message was just put in the log; true when it mentions this person. */
    added(message: ChatView, selfName: string): boolean {
      const entry = options.entry(message.id)
      if (!entry) return false
      const re = message.re
      if (re?.act === 'reply') {
        const quote = document.createElement('button')
        quote.type = 'button'
        quote.className = 'quote'
        quote.addEventListener('click', () => options.jump(re.id))
        entry.querySelector('.text')!.before(quote)
        replies.set(re.id, (replies.get(re.id) ?? new Set()).add(entry))
        quote.textContent = snippet(re.id)
      }
      requote(message.id)
      highlight(entry.querySelector('.text')!, mentionPattern(options.names()))
      const me = mentionPattern([selfName])
      const mentioned = !message.mine && me !== null && me.test(message.text)
      entry.classList.toggle('mentions-me', mentioned)
      return mentioned
    },

    /** Message `id` left the log: quotes of it say so, and, if it was a reply, it quotes nothing any more. */
    removed(id: string): void {
      for (const quoting of replies.values()) for (const entry of quoting) if (entry.dataset.id === id) quoting.delete(entry)
      requote(id)
    },

    annotate(state: Annotation): void {
      const entry = options.entry(state.id)
      if (!entry) return
      entry.classList.toggle('deleted', state.deleted)
      entry.querySelector('.edited')?.remove()
      if (state.deleted) setText(entry, 'message deleted')
      else if (state.text !== undefined) {
        setText(entry, state.text)
        const mark = document.createElement('span')
        mark.className = 'edited'
        mark.textContent = 'edited'
        entry.querySelector('.text')!.after(mark)
      }
      reactions(entry, state.id, state.reactions)
      requote(state.id)
    },
  }
}
