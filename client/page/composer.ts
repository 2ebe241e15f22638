import type { PeerView } from '../lib'
import { $ } from './dom'

/**
 * The message box and what surrounds it: a multi-line textarea (Enter sends, Shift+Enter starts a new
 * line; on a touch screen Enter starts one too, Ctrl+Enter sends), the private mode (writing to one
 * person, shown in a bar with a way back), and files from the picker, drag-and-drop or paste. It hands
 * text and files to `send`/`sendFiles`; they decide whether anything went.
 */
export function createComposer(options: {
  send(text: string, to: string | undefined): boolean
  sendFiles(files: File[], to: string | undefined): void
  /** Files that came while nothing can go (not in the room, or held), and why. */
  refused(files: File[], why: string): void
  typing(to: string | undefined): void
  /** Whom the composer writes to changed (undefined: everyone). */
  onTalking(peer: PeerView | undefined): void
}) {
  const form = $<HTMLFormElement>('composer')
  const box = $<HTMLTextAreaElement>('message')
  const send = $<HTMLButtonElement>('send')
  const attach = $<HTMLButtonElement>('attach')
  const fileInput = $<HTMLInputElement>('file')
  const bar = $('private-bar')
  const said = $('private-label')
  const chat = form.parentElement!
  let to: PeerView | undefined
  // The person written to left (or reloaded: a new session): nothing goes until another choice, so what
  // was meant for them never goes to everyone by surprise.
  let gone = false
  let enabled = true

  // Send and attach are off where nothing can go: not joined, or held.
  const arm = () => {
    send.disabled = attach.disabled = !enabled || gone
  }

  function grow() {
    box.style.height = 'auto'
    box.style.height = `${box.scrollHeight + 2}px`
  }

  function talk(peer: PeerView | undefined, left = false) {
    const name = peer?.name
    const label = peer
      ? left
        ? `${name || 'They'} left or reloaded: choose again in People`
        : `Private message to ${name || 'someone'}`
      : ''
    // A new choice, not an update of the same (their name, state or route): the panel closes on a choice.
    const chosen = peer?.id !== to?.id || left !== gone
    to = peer
    gone = left
    bar.hidden = !peer
    form.classList.toggle('is-private', Boolean(peer))
    // Said (a live region) when it changes, not at every update of the person.
    if (label !== said.textContent) said.textContent = label
    box.placeholder = peer ? (left ? '' : `Write to ${name || 'them'} privately…`) : 'Write a message…'
    arm()
    if (chosen) options.onTalking(left ? undefined : peer)
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault()
    if (!enabled || gone || !options.send(box.value, to?.id)) return // empty, not joined yet, or held: keep what was typed
    box.value = ''
    grow()
    box.focus()
  })
  box.addEventListener('keydown', (event) => {
    // On a touch screen (no Shift key to hold) Enter starts a new line, as in Signal or WhatsApp; Send,
    // or Ctrl+Enter on a keyboard attached to it, sends.
    const touch = matchMedia('(pointer: coarse)').matches && !event.ctrlKey && !event.metaKey
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && !touch) {
      event.preventDefault()
      form.requestSubmit()
    }
  })
  // After the box's own listeners: an Escape that closed something else (a suggestion list, a reply) ends
  // nothing more, or the next Enter would send to everyone what was meant for one person.
  form.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && to && !event.defaultPrevented) talk(undefined)
  })
  box.addEventListener('input', () => {
    grow()
    if (box.value && !gone) options.typing(to?.id)
  })
  $('private-exit').addEventListener('click', () => {
    talk(undefined)
    box.focus()
  })

  const sendFiles = (files: Iterable<File>) => {
    const list = [...files]
    if (list.length === 0) return
    // Dropped or pasted: said, not lost without a word (the picker's button is off then).
    if (enabled && !gone) options.sendFiles(list, to?.id)
    else options.refused(list, gone ? said.textContent! : 'You are not in the room')
  }
  attach.addEventListener('click', () => fileInput.click())
  fileInput.addEventListener('change', () => {
    sendFiles(fileInput.files ?? [])
    fileInput.value = ''
  })
  box.addEventListener('paste', (event) => {
    const pasted = [...(event.clipboardData?.files ?? [])]
    if (pasted.length === 0) return
    event.preventDefault()
    sendFiles(pasted)
  })
  chat.addEventListener('dragover', (event) => {
    if (!event.dataTransfer?.types.includes('Files')) return
    event.preventDefault()
    form.classList.add('dragging')
  })
  chat.addEventListener('dragleave', (event) => {
    if (!chat.contains(event.relatedTarget as Node | null)) form.classList.remove('dragging')
  })
  chat.addEventListener('drop', (event) => {
    if (!event.dataTransfer?.files.length) return
    event.preventDefault()
    form.classList.remove('dragging')
    sendFiles(event.dataTransfer.files)
  })

  return {
    /** Writes to `peer` privately (undefined: to everyone); `left`: they went, and nothing goes until another choice. */
    talk,
    /** The person written to privately, if any. */
    get to() {
      return to
    },
    /** Off where sending cannot work (the reason is in the banner); the typed text stays. */
    enable(on: boolean): void {
      enabled = on
      box.disabled = !on
      arm()
    },
    focus: () => box.focus(),
  }
}
