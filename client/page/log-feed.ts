import { arrange } from './log-grouping'

// The view follows new messages only while the reader is this close to the newest one.
const STICKY_SCROLL_PX = 80
// A hidden tab gets no animation frames: a timer flushes instead, and backs up a frame that never comes.
const FLUSH_FALLBACK_MS = 250
// A burst (a flood, a long history) goes in over several frames, each short: the batch halves while a
// frame's insertion (with the layout it forces) takes longer than FRAME_BUDGET_MS, and doubles while a
// full batch takes less than half that.
const MIN_ENTRIES_PER_FRAME = 8
const FRAME_BUDGET_MS = 8
// Layout time grows with every entry in the page: only the newest RENDERED_ENTRIES stay there while the view
// follows the newest; older ones (up to ENTRIES_KEPT in all) wait, undisplayed, for "Show earlier".
const RENDERED_ENTRIES = 300
// Holding entries back moves every entry still shown (a repaint of them all, ~5 ms a frame at 300): it
// waits until this many more than `rendered` are there, then holds them back in one go.
const TRIM_STEP = 100
const ENTRIES_KEPT = 2_000
// A reader scrolled up holds back only what is above the view, until this many more than `rendered` are shown.
const READING_SLACK = 700

/**
 * Holds back all but the newest `rendered` entries once TRIM_STEP more are shown. A reader scrolled up
 * keeps what they are reading: only entries wholly above the view go then, unless READING_SLACK more
 * would stay (a flood while they read). Nothing when under the limit; else how many it held back and,
 * for a reader, an entry left at the top (the second: the first may gain its sender's name) and where
 * it was on the screen.
 */
function holdBack(
  log: HTMLElement,
  held: HTMLElement,
  rendered: number,
  reading: boolean,
): { count: number; first?: HTMLElement; top?: number } | undefined {
  // Every shown entry is a child (so are day separators and two fixed ones): most frames stop here.
  if (log.childElementCount <= rendered + TRIM_STEP) return undefined
  // Notices too: a peer churning sessions makes one per join, and they keep their place among the lines.
  const shown = [...log.querySelectorAll<HTMLElement>(':scope > .message, :scope > .notice')]
  if (shown.length <= rendered + TRIM_STEP) return undefined
  let going = shown.length - rendered
  if (reading && shown.length <= rendered + READING_SLACK) going = Math.min(going, aboveView(log, shown))
  if (going === 0) return { count: 0 }
  const first = reading ? (shown[going + 1] ?? shown[going]) : undefined
  const top = first?.getBoundingClientRect().top
  held.append(...shown.slice(0, going))
  return { count: going, first, top }
}

/** How many of `shown` (in the log's order) lie wholly above its view (one layout, then cheap reads). */
const aboveView = (log: HTMLElement, shown: HTMLElement[]) => {
  const top = log.getBoundingClientRect().top
  const first = shown.findIndex((entry) => entry.getBoundingClientRect().bottom > top)
  return first < 0 ? shown.length : first
}

/** Marks lines the reader has not scrolled to (counted on the jump button); how many (a flood's oldest may be forgotten already). */
function markUnseen(entries: HTMLElement[]): number {
  const kept = entries.filter((entry) => entry.isConnected)
  for (const entry of kept) entry.dataset.unseen = ''
  return kept.length
}

/**
 * Puts up to `room` entries that wait for a place before another where they belong (history; one whose
 * place is gone goes into `batch`, last). How many went, whether any went in among the log's entries, and
 * which lines went in before a line the reader has not scrolled to (new to them as well).
 */
function placeWaiting(inserts: Map<HTMLElement, HTMLElement>, batch: DocumentFragment, room: number) {
  let placed = 0
  let inserted = false
  const among = new Set<HTMLElement>()
  for (const [entry, before] of inserts) {
    if (placed === room) break
    placed++
    inserts.delete(entry)
    if (!before.parentNode) {
      batch.append(entry)
      continue
    }
    inserted = true
    // Before a line new to the reader, or one going in so in this same frame (marked after it).
    if ((before.dataset.unseen !== undefined || among.has(before)) && entry.matches('.message:not([hidden])')) among.add(entry)
    before.before(entry)
  }
  return { placed, inserted, among }
}

/** Forgets the oldest held entries past ENTRIES_KEPT in all, with `shown` others; how many of them were counted new. */
function forgetOldest(held: HTMLElement, forget: (entry: HTMLElement) => void, shown: number): number {
  let unseen = 0
  while (held.firstChild && held.children.length > ENTRIES_KEPT - Math.max(RENDERED_ENTRIES + TRIM_STEP, shown)) {
    const oldest = held.firstChild as HTMLElement
    if (oldest.dataset.unseen !== undefined) unseen++
    forget(oldest)
    oldest.remove()
  }
  return unseen
}

/** Takes `entry` out; history on its way to go before it goes before what follows it instead. */
function takeOut(entry: HTMLElement, inserts: Map<HTMLElement, HTMLElement>) {
  const next = entry.nextElementSibling as HTMLElement | null
  for (const [waiting, before] of inserts) if (before === entry && next) inserts.set(waiting, next)
  inserts.delete(entry)
  entry.remove()
}

/** Puts how many new messages the reader has not scrolled to (`n`, was `before`) on the jump button (hidden at none). */
function countUnseen(log: HTMLElement, jump: HTMLButtonElement, before: number, n: number): number {
  if (n === 0 && before > 0) for (const entry of log.querySelectorAll<HTMLElement>('[data-unseen]')) delete entry.dataset.unseen
  const unseen = Math.max(0, n)
  jump.hidden = unseen === 0
  jump.textContent = `${unseen} new message${unseen === 1 ? '' : 's'} ↓`
  return unseen
}

/** The entries `selector` matches among those still to be placed. */
const waitingMatches = (pending: DocumentFragment, inserts: Map<HTMLElement, HTMLElement>, selector: string) => [
  ...pending.querySelectorAll<HTMLElement>(selector),
  ...[...inserts.keys()].filter((entry) => entry.matches(selector)),
]

/** From the log, arrows walk the entries one by one (each shows its full date while focused). */
function walkWithKeys(log: HTMLElement) {
  log.addEventListener('keydown', (event) => {
    const entries = [...log.querySelectorAll<HTMLElement>(':scope > .message:not([hidden])')]
    const at = entries.indexOf(document.activeElement as HTMLElement)
    const next = { ArrowUp: at === -1 ? entries.length - 1 : at - 1, ArrowDown: at + 1, Home: 0, End: entries.length - 1 }[event.key]
    if (next === undefined || !entries[next]) return
    event.preventDefault()
    entries[next].focus()
  })
}

/**
 * Where the log's entries go in and how it scrolls: new entries are added once per animation frame and
 * layout is read once per frame, never per entry (but for a reader scrolled up, whose view is found by a
 * scan once per TRIM_STEP lines); the view sticks to the newest entry unless the reader
 * scrolled up, when the jump button counts what they have not seen. `prepare` runs first in each frame
 * (entries built late, see message-view.ts).
 */
export function createLogFeed(log: HTMLElement, jump: HTMLButtonElement, forget: (entry: HTMLElement) => void, prepare: () => void) {
  const pending = document.createDocumentFragment()
  const inserts = new Map<HTMLElement, HTMLElement>()
  let frame = 0
  let fallback: ReturnType<typeof setTimeout> | undefined
  let stuck = true
  let unseen = 0
  let perFrame = MIN_ENTRIES_PER_FRAME
  let rendered = RENDERED_ENTRIES
  let regroup = false // an entry was taken out: the next frame groups the whole log again
  let lookAgainAt = 0
  const held = log.querySelector<HTMLElement>('.held')!
  const earlier = log.querySelector<HTMLElement>('.earlier')!
  earlier.onclick = () => show(RENDERED_ENTRIES)

  /** Puts back the newest `count` held entries, above those shown; the newest of them takes the focus (and the view). */
  function show(count: number) {
    const back = [...held.children].slice(-count) as HTMLElement[]
    // All that is shown stays (a reader scrolled up may have more than `rendered`), and what comes back above it.
    rendered = log.querySelectorAll(':scope > .message, :scope > .notice').length + back.length
    earlier.after(...back)
    trim()
    arrange(log)
    back.at(-1)?.focus()
  }

  const count = (n: number) => {
    unseen = countUnseen(log, jump, unseen, n)
  }

  function toBottom() {
    log.scrollTop = log.scrollHeight
    count(0)
  }

  log.addEventListener('scroll', () => {
    lookAgainAt = 0
    stuck = log.scrollHeight - log.scrollTop - log.clientHeight < STICKY_SCROLL_PX
    if (stuck) count(0)
  })
  walkWithKeys(log)
  jump.addEventListener('click', () => {
    toBottom()
    log.focus()
  })

  function flush() {
    prepare()
    cancelAnimationFrame(frame)
    clearTimeout(fallback)
    frame = 0
    fallback = undefined
    const start = performance.now()
    const batch = document.createDocumentFragment()
    const { placed, inserted, among } = placeWaiting(inserts, batch, perFrame)
    let room = perFrame - placed
    while (pending.firstChild && room-- > 0) batch.append(pending.firstChild)
    const added = [...batch.querySelectorAll<HTMLElement>('.message:not([hidden])'), ...among]
    const first = batch.firstElementChild as HTMLElement | null
    if (stuck) rendered = RENDERED_ENTRIES
    log.append(batch)
    const heldBack = trim()
    arrange(log, heldBack?.count || inserted || regroup ? null : first)
    // What the reader sees stays where it was (not every browser anchors the scroll in this log).
    if (heldBack?.first) log.scrollTop += heldBack.first.getBoundingClientRect().top - heldBack.top!
    regroup = false
    const more = pending.firstChild || inserts.size
    if (more) schedule()
    if (stuck) toBottom()
    else if (added.length > 0) count(unseen + markUnseen(added))
    const took = performance.now() - start
    if (took > FRAME_BUDGET_MS) perFrame = Math.max(MIN_ENTRIES_PER_FRAME, perFrame >> 1)
    else if (more && took < FRAME_BUDGET_MS / 2) perFrame *= 2
  }

  /**
   * Only the newest `rendered` entries are shown (TRIM_STEP more before they are held back), and
   * ENTRIES_KEPT kept in all (more while earlier ones are shown). What `holdBack` held back now.
   */
  function trim() {
    const heldBack = log.childElementCount < lookAgainAt ? undefined : holdBack(log, held, rendered, !stuck)
    // Nothing above a reader's view to hold back: the next look (it reads layout) waits for TRIM_STEP more, or a scroll.
    if (heldBack?.count === 0) lookAgainAt = log.childElementCount + TRIM_STEP
    // Shown entries count (with day separators), not those asked for again; lines forgotten unseen leave the count.
    const lost = forgetOldest(held, forget, log.childElementCount - (rendered - RENDERED_ENTRIES))
    if (lost > 0) count(unseen - lost)
    earlier.hidden = !held.firstChild
    return heldBack
  }

  function schedule() {
    if (fallback !== undefined) return
    fallback = setTimeout(flush, document.hidden ? 0 : FLUSH_FALLBACK_MS)
    if (!document.hidden) frame = requestAnimationFrame(flush)
  }

  return {
    /** Adds an entry at the bottom, or before an entry (on a coming frame, within its budget). */
    place(entry: HTMLElement, before?: HTMLElement) {
      if (before) inserts.set(entry, before)
      else pending.append(entry)
      schedule()
    },

    /** Takes an entry out, wherever it is (shown, held back, or still to be placed); if it was counted new, it is not. */
    remove(entry: HTMLElement) {
      if (entry.dataset.unseen !== undefined) count(unseen - 1)
      takeOut(entry, inserts)
      regroup = true
      schedule()
    },

    /** The entries `selector` matches: shown, held back, or still to be placed. */
    find: (selector: string) => [...log.querySelectorAll<HTMLElement>(selector), ...waitingMatches(pending, inserts, selector)],

    /** Keeps the newest line in view while an image that was added at the bottom loads. */
    keepInView: (image: HTMLImageElement) => image.addEventListener('load', () => stuck && toBottom(), { once: true }),

    /** Shows the newest `count` of the entries held back (before scrolling to an old one). */
    show,

    /** Something will be placed in the next frame (by `prepare`). */
    wake: schedule,

    /** Shows the newest entry. */
    follow() {
      stuck = true
      schedule()
    },

    close() {
      cancelAnimationFrame(frame)
      clearTimeout(fallback)
    },
  }
}
