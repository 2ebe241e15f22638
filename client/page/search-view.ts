const MAX_RESULTS = 30
const SNIPPET_CHARS = 70
// Results follow the log (new lines, edits, deletions) at most this often.
const REFRESH_MS = 300

/**
 * What the eye sees of a message: its text without format.ts's hidden markers. Not innerText: for an
 * entry held back from the page (log-feed.ts), which is not rendered, that is the whole textContent.
 */
function shownText(element: Element | null): string {
  if (!element) return ''
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT, {
    acceptNode: (node) => (node instanceof Element && node.classList.contains('md') ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
  })
  let text = ''
  for (let node = walker.nextNode(); node; node = walker.nextNode()) if (node.nodeType === Node.TEXT_NODE) text += node.nodeValue
  return text
}

/**
 * Search in the room's messages this browser holds (what the log shows: this visit's and the stored
 * history, edits applied, deleted ones left out), newest first, kept up to date as the log changes; a
 * result jumps to its message.
 */
export function createSearchView(options: {
  log: HTMLElement
  input: HTMLInputElement
  results: HTMLElement
  /** Says how many were found, to those who do not see the list. */
  found: HTMLElement
  jump(id: string): void
}) {
  const { input, results, found } = options
  // Said again only when it changes: a refresh that finds the same must not repeat it.
  const say = (text: string) => {
    if (found.textContent !== text) found.textContent = text
  }

  function run() {
    const query = input.value.trim().toLowerCase()
    results.replaceChildren()
    if (!query) return say('')
    const entries = [...options.log.querySelectorAll<HTMLElement>('.message[data-id]:not(.deleted,[hidden])')].reverse()
    for (const entry of entries) {
      const text = shownText(entry.querySelector('.text'))
      const at = text.toLowerCase().indexOf(query)
      if (at === -1) continue
      const start = at > SNIPPET_CHARS - 20 ? at - 20 : 0
      const item = document.createElement('li')
      const result = document.createElement('button')
      result.type = 'button'
      result.textContent = `${entry.querySelector('.who')?.textContent}: ${start > 0 ? '…' : ''}${text.slice(start, start + SNIPPET_CHARS)}`
      result.addEventListener('click', () => options.jump(entry.dataset.id!))
      item.append(result)
      results.append(item)
      if (results.childElementCount >= MAX_RESULTS) break
    }
    const count = results.childElementCount
    say(`${count || 'No'} message${count === 1 ? '' : 's'} found`)
    if (!count) {
      const none = document.createElement('li')
      none.className = 'hint'
      none.textContent = 'No messages found.'
      results.append(none)
    }
  }
  input.addEventListener('input', run)
  // Typed before this view was loaded (later.ts).
  if (input.value) run()

  // Rebuilding the results under a keyboard user's focus would lose their place: that waits until they leave.
  let later: ReturnType<typeof setTimeout> | undefined
  let stale = false
  const refresh = () => {
    later = undefined
    stale = results.contains(document.activeElement)
    if (!stale) run()
  }
  new MutationObserver(() => {
    if (input.value.trim() && !later) later = setTimeout(refresh, REFRESH_MS)
  }).observe(options.log, { childList: true, subtree: true })
  results.addEventListener('focusout', (event) => {
    if (stale && !results.contains(event.relatedTarget as Node | null)) refresh()
  })
}
