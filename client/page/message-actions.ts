export const QUICK_EMOJI = ['👍', '❤️', '😂', '🎉', '😮']

/** A reply or an edit under way; `direct` when its message is a direct one (the reply goes to its other end). */
export type Intent = { act: 'reply' | 'edit'; id: string; direct: boolean } | undefined

/** Whether `event` in the log takes the actions bar to the message `entry`. */
function takesBar(event: Event, entry: HTMLElement, bar: HTMLElement): boolean {
  if (event.type === 'focusin') return true
  // The pointer does not take the bar from under the focus (moved, its focused button would lose it).
  if (event.type === 'mouseover') return !bar.contains(document.activeElement)
  // Tab from a message goes into its own bar, wherever the pointer last took the bar.
  return (event as KeyboardEvent).key === 'Tab' && !(event as KeyboardEvent).shiftKey && entry === event.target
}

function addQuickEmoji(row: Element) {
  for (const emoji of QUICK_EMOJI) {
    const quick = document.createElement('button')
    quick.type = 'button'
    quick.textContent = emoji
    quick.setAttribute('aria-label', `React with ${emoji}`)
    quick.dataset.emoji = emoji
    row.append(quick)
  }
}

/**
 * The actions on one message: one toolbar (Reply, React, Edit, Delete) that moves into the message
 * being pointed at or focused, so each message reads as "name, time: text" until then. Replying and
 * editing go through the composer, with a bar that says so and a way out.
 */
export function createMessageActions(options: {
  log: HTMLElement
  /** The toolbar (#actions in index.html). */
  bar: HTMLElement
  /** The composer's bar that says a reply or an edit is under way, its label and its way out. */
  context: { bar: HTMLElement; label: HTMLElement; exit: HTMLElement }
  /** Only this session's own messages can be changed (they carry its key). */
  own(entry: HTMLElement): boolean
  /** False when `emoji` is not one (typed in the picker's field). */
  react(id: string, emoji: string): boolean
  remove(id: string): void
  /** The composer's text box. */
  box: HTMLTextAreaElement
}) {
  const { log, box, bar, context } = options
  const picker = bar.querySelector<HTMLElement>('.picker')!
  const any = bar.querySelector<HTMLInputElement>('.any-emoji')!
  const button = (act: string) => bar.querySelector<HTMLButtonElement>(`[data-act="${act}"]`)!
  let current: HTMLElement | undefined
  let intent: Intent

  addQuickEmoji(picker.querySelector('.emojis')!)

  function openPicker(on: boolean) {
    // Hidden with the focus in it, the focus would fall to the page, and the bar (shown only to the focus or
    // the pointer) with it: it goes back to React.
    if (!on && picker.contains(document.activeElement)) button('react').focus()
    picker.hidden = !on
    button('react').setAttribute('aria-expanded', String(on))
  }

  function attach(entry: HTMLElement) {
    if (entry === current) return
    current = entry
    const who = entry.querySelector('.who')?.textContent ?? ''
    bar.setAttribute('aria-label', `Actions for the message from ${who}`)
    button('edit').hidden = button('delete').hidden = !options.own(entry)
    openPicker(false)
    bar.hidden = false
    entry.append(bar)
  }

  const target = (node: EventTarget | null) => {
    const entry = (node as Element | null)?.closest?.<HTMLElement>('.message')
    return entry && !entry.classList.contains('file') && !entry.classList.contains('deleted') && entry.dataset.id ? entry : undefined
  }
  for (const type of ['focusin', 'mouseover', 'keydown'] as const) {
    log.addEventListener(type, (event) => {
      const entry = target(event.target)
      if (entry && takesBar(event, entry, bar)) attach(entry)
    })
  }
  // A click on a message's buttons leaves focus where it was: moving it would unfold or fold the
  // message's header (see style.css) under the pointer between press and release.
  log.addEventListener('mousedown', (event) => {
    if ((event.target as Element).closest('button')) event.preventDefault()
  })
  // The log's arrow keys walk messages; inside the toolbar they belong to its buttons and field.
  bar.addEventListener('keydown', (event) => {
    event.stopPropagation()
    if (event.key === 'Escape') {
      openPicker(false)
      current?.focus()
    }
  })

  function setIntent(next: Intent, label = '') {
    intent = next
    context.bar.hidden = !next
    context.label.textContent = label
    if (!next) return
    box.focus()
  }

  bar.addEventListener('click', (event) => {
    const clicked = (event.target as Element).closest<HTMLButtonElement>('button')
    const id = current?.dataset.id
    if (!clicked || !id || !current) return
    // The text as sent (formatting markers included) to edit; as seen to quote.
    const text = current.querySelector('.text')?.textContent ?? ''
    // biome-ignore lint/performance/useDomNodeTextContent: innerText leaves out the hidden formatting markers (format.ts), which is the point
    const seen = current.querySelector<HTMLElement>('.text')?.innerText ?? text
    const who = current.querySelector('.who')?.textContent ?? ''
    const direct = current.classList.contains('direct')
    if (clicked.dataset.emoji) {
      options.react(id, clicked.dataset.emoji)
      openPicker(false)
      return
    }
    switch (clicked.dataset.act) {
      case 'reply':
        // What an edit under way put in the box is not the reply.
        if (intent?.act === 'edit') cancel()
        return setIntent({ act: 'reply', id, direct }, `Replying ${direct ? 'privately ' : ''}to ${who}: ${seen.slice(0, 60)}`)
      case 'edit':
        setIntent({ act: 'edit', id, direct }, 'Editing your message')
        box.value = text
        return box.dispatchEvent(new Event('input'))
      case 'delete':
        if (!confirm('Delete this message for everyone?')) return
        options.remove(id)
        // A deleted line has no actions: the focus goes back to it, and the bar waits for another line.
        current.focus()
        bar.hidden = true
        current = undefined
        return
      case 'react':
        openPicker(picker.hidden)
        // Into the picker from the keyboard only: a click leaves the focus (and so the bar) free to follow the pointer.
        if (!picker.hidden && event.detail === 0) picker.querySelector('button')!.focus()
        return
      case 'custom':
        if (!options.react(id, any.value.trim())) return void any.setAttribute('aria-invalid', 'true')
        any.removeAttribute('aria-invalid')
        any.value = ''
        openPicker(false)
    }
  })
  any.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter') return
    event.preventDefault()
    button('custom').click()
  })

  const cancel = () => {
    if (intent?.act === 'edit') box.value = ''
    box.dispatchEvent(new Event('input'))
    setIntent(undefined)
  }
  context.exit.addEventListener('click', () => {
    cancel()
    box.focus()
  })
  box.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape' || !intent) return
    event.preventDefault() // cancels the reply or edit, and nothing else (composer.ts)
    cancel()
  })

  return {
    /** What the next send means (a reply or an edit), taken once. */
    take(): Intent {
      const taken = intent
      if (taken) setIntent(undefined)
      return taken
    },
    get intent() {
      return intent
    },
  }
}
