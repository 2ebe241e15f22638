import { isEmoji, type Room } from '../lib'
import { createAnnotationView } from './annotation-view'
import { $ } from './dom'
import type { Extras, UseExtras } from './later'
import type { Intent } from './message-actions'
import type { createMessageView } from './message-view'
import type { createPanel } from './panel'

/**
 * What acts on messages already said: replies, reactions, edits and deletions (the toolbar and the
 * annotations under each message), @mentions in the message box, and search in the side panel. All but
 * the annotations come with the page's extras (later.ts): until then no toolbar, so no intent.
 */
export function createConversationTools(
  log: ReturnType<typeof createMessageView>,
  panel: ReturnType<typeof createPanel>,
  current: () => Room | undefined,
  extras: UseExtras,
) {
  // Messages this page sent in this visit: only these carry this session's key, so only these can change.
  const own = new Set<string>()
  const box = $<HTMLTextAreaElement>('message')
  const names = () => [...(current()?.peers ?? []).map((p) => p.name), current()?.self.name ?? '']
  const notes = createAnnotationView({
    entry: log.entry,
    names,
    selfId: () => current()?.self.id ?? '',
    nameOf: (id) => current()?.peers.find((p) => p.id === id)?.name || 'someone',
    react: (id, emoji, on) => void current()?.react(id, emoji, on),
    jump: (id) => log.reveal(id),
  })
  let toolbar: ReturnType<Extras['createMessageActions']> | undefined
  extras(({ createMessageActions, createMentions, createSearchView }) => {
    toolbar = createMessageActions({
      log: $('messages'),
      bar: $('actions'),
      context: { bar: $('context-bar'), label: $('context-label'), exit: $('context-exit') },
      box,
      own: (entry) => own.has(entry.dataset.id ?? ''),
      react(id, emoji) {
        if (!isEmoji(emoji)) return false
        const room = current()
        const mine = room?.annotation(id).reactions.some((r) => r.emoji === emoji && r.from.includes(room.self.id))
        void room?.react(id, emoji, !mine)
        return true
      },
      remove: (id) => void current()?.remove(id),
    })
    createMentions({ box, list: $('mentions'), names: () => (current()?.peers ?? []).map((p) => p.name) })
    createSearchView({
      log: $('messages'),
      input: $<HTMLInputElement>('search'),
      results: $('results'),
      found: $('found'),
      jump(id) {
        panel.close()
        log.reveal(id)
      },
    })
  })
  const actions = {
    take: (): Intent => toolbar?.take(),
    get intent(): Intent {
      return toolbar?.intent
    },
  }
  /** Lines the room took back (someone else wrote them in their author's name): out of the log. */
  const retract = ({ ids }: { ids: string[] }) => {
    for (const id of ids) {
      log.remove(id)
      notes.removed(id)
    }
  }
  return { own, notes: { ...notes, retract }, actions }
}
