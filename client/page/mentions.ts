const MAX_SUGGESTIONS = 5
// The word being typed right before the caret, if it starts with "@".
const TYPING_MENTION = /(^|\s)@([^\s@]*)$/u

/**
 * `@name` completion in the message box: the people whose names start with what follows the "@" are
 * offered as buttons; Tab (or a click) takes the first (or the one clicked).
 */
export function createMentions(options: { box: HTMLTextAreaElement; list: HTMLElement; names(): string[] }) {
  const { box, list } = options
  let offered: string[] = []

  function typed() {
    const match = TYPING_MENTION.exec(box.value.slice(0, box.selectionStart))
    return match ? { query: match[2]!, start: box.selectionStart - match[2]!.length - 1 } : undefined
  }

  function complete(name: string) {
    const at = typed()
    if (!at) return
    const insert = `@${name} `
    box.setRangeText(insert, at.start, box.selectionStart, 'end')
    box.dispatchEvent(new Event('input'))
    box.focus()
  }

  function offer() {
    const at = typed()
    const query = at?.query.toLowerCase() ?? ''
    offered = at ? [...new Set(options.names())].filter((n) => n?.toLowerCase().startsWith(query)).slice(0, MAX_SUGGESTIONS) : []
    list.hidden = offered.length === 0
    list.replaceChildren(
      ...offered.map((name) => {
        const button = document.createElement('button')
        button.type = 'button'
        button.textContent = `@${name}`
        button.setAttribute('aria-label', `Mention ${name}`)
        button.addEventListener('click', () => complete(name))
        return button
      }),
    )
  }

  box.addEventListener('input', offer)
  box.addEventListener('keydown', (event) => {
    if (event.key === 'Tab' && !event.shiftKey && offered.length > 0 && typed()) {
      event.preventDefault()
      complete(offered[0]!)
    } else if (event.key === 'Escape' && !list.hidden) {
      event.preventDefault() // closes the list, and nothing else (composer.ts)
      offered = []
      list.hidden = true
    }
  })
}
