const MAX_RESULTS = 30
const SNIPPET_CHARS = 70
// Results follow the log (new lines, edits, deletions, mutes) at most this often.
const REFRESH_MS = 300
// How many were found is said once typing pauses, not at every key.
const SAY_MS = 500

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

/** The newest messages in `log` that hold `query`: each one's id and what its result says. */
function matches(log: HTMLElement, query: string): Array<[string, string]> {
  const found: Array<[string, string]> = []
  for (const entry of [...log.querySelectorAll<HTMLElement>('.message[data-id]:not(.deleted,[hidden])')].reverse()) {
    const text = shownText(entry.querySelector('.text'))
    const at = text.toLowerCase().indexOf(query)
    if (at === -1) continue
    const start = at > SNIPPET_CHARS - 20 ? at - 20 : 0
    found.push([
      entry.dataset.id!,
      `${entry.querySelector('.who')?.textContent}: ${start > 0 ? '…' : ''}${text.slice(start, start + SNIPPET_CHARS)}`,
    ])
    if (found.length === MAX_RESULTS) break
  }
  return found
}

/**
 * Search in the room's messages this browser holds (what the log shows: this visit's and the stored
 * history, edits applied, deleted and muted ones left out), newest first, kept up to date as the log
 * changes; a result jumps to its message.
 */
export function createSearchView(options: {
  log: HTMLElement
  input: HTMLInputElement
  results: HTMLElement
  /** Says how many were found (after typing), to those who do not see the list. */
  found: HTMLElement
  jump(id: string): void
}) {
  const { log, input, results, found } = options
  let shown = '' // the results on screen; the same found again leaves them (and a reader's place) alone
  let saying: ReturnType<typeof setTimeout> | undefined
  let count = '' // how many were found, as it would be said
  let later: ReturnType<typeof setTimeout> | undefined
  let stale = false
  const watch = new MutationObserver(() => {
    if (!later) later = setTimeout(refresh, REFRESH_MS)
  })

  function run(typed: boolean) {
    const query = input.value.trim().toLowerCase()
    const list = query ? matches(log, query) : []
    if (query) watch.observe(log, { childList: true, subtree: true, attributeFilter: ['hidden'] })
    else watch.disconnect()
    const n = list.length
    count = query && `${n === MAX_RESULTS ? `${n} or more` : n || 'No'} message${n === 1 ? '' : 's'} found`
    if (typed) {
      clearTimeout(saying)
      saying = setTimeout(() => {
        saying = undefined
        found.textContent = count
      }, SAY_MS)
    }
    const now = query && JSON.stringify(list)
    if (now === shown) return
    shown = now
    // A refresh is not said (the log says what came): what was said goes rather than be read out of date
    // (a count still to be said after typing says the newest).
    if (!saying) found.textContent = ''
    results.replaceChildren(
      ...list.map(([id, label]) => {
        const item = document.createElement('li')
        const result = document.createElement('button')
        result.type = 'button'
        result.textContent = label
        result.addEventListener('click', () => options.jump(id))
        item.append(result)
        return item
      }),
    )
    if (query && n === 0) {
      const none = document.createElement('li')
      none.className = 'hint'
      none.textContent = 'No messages found.'
      results.append(none)
    }
  }

  // Rebuilding the results under a keyboard user's focus would lose their place: that waits until they leave.
  function refresh() {
    later = undefined
    stale = results.contains(document.activeElement)
    if (!stale) run(false)
  }
  results.addEventListener('focusout', (event) => {
    if (stale && !results.contains(event.relatedTarget as Node | null)) refresh()
  })
  input.addEventListener('input', () => run(true))
  // Typed before this view was loaded (later.ts).
  if (input.value) run(true)
}
