// The library ranges every time; this keeps any number showable all the same (a Date past it cannot print).
const showable = (time: number) => (Math.abs(time) <= 8.64e15 ? time : Date.now())

// Made once, on first use (not while the page starts): toLocale*String builds a new formatter on
// every call, about a millisecond each, which every message paid twice.
const lazyFormat = (options: Intl.DateTimeFormatOptions) => {
  let format: Intl.DateTimeFormat | undefined
  return (time: number) => {
    format ??= new Intl.DateTimeFormat([], options)
    return format.format(time)
  }
}
const clock = lazyFormat({ hour: '2-digit', minute: '2-digit' })
const fullDate = lazyFormat({ dateStyle: 'full', timeStyle: 'short' })
const longDate = lazyFormat({ dateStyle: 'full' })
const dayKey = (time: number) => new Date(time).toDateString()

function dayLabel(time: number): string {
  const key = dayKey(time)
  if (key === dayKey(Date.now())) return 'Today'
  if (key === dayKey(Date.now() - 86_400_000)) return 'Yesterday'
  return longDate(time)
}

/** Marks an entry with its sender, day and minute (what `arrange` groups by) and fills in its time. */
export function stamp(entry: HTMLElement, from: string, shown: number) {
  const time = showable(shown)
  if (!entry.classList.contains('notice')) entry.tabIndex = -1
  entry.dataset.from = from
  entry.dataset.time = String(time)
  entry.dataset.day = dayKey(time)
  entry.dataset.minute = String(Math.floor(time / 60_000))
  const when = entry.querySelector('time')
  if (when) {
    when.dateTime = new Date(time).toISOString()
    when.textContent = clock(time)
    when.title = fullDate(time)
  }
}

/**
 * Groups lines by sender and minute, and keeps one separator before each day's first entry. From `from`
 * on only, when everything else is as the last call left it and nothing was taken out (entries added at
 * the bottom): a pass over every entry was most of each frame's script.
 */
export function arrange(log: HTMLElement, from?: HTMLElement | null) {
  let previous: HTMLElement | undefined
  let day = ''
  let above = from?.previousElementSibling as HTMLElement | null | undefined
  while (above && !above.dataset.time) above = above.previousElementSibling as HTMLElement | null
  if (above) {
    day = above.dataset.day!
    previous = above.classList.contains('notice') ? undefined : above
  }
  const kept = new Set<Element>()
  for (let entry = from ?? (log.firstElementChild as HTMLElement | null); entry; entry = entry.nextElementSibling as HTMLElement | null) {
    if (!entry.dataset.time) continue
    const entryDay = entry.dataset.day!
    if (entryDay !== day) {
      day = entryDay
      previous = undefined
      let separator = entry.previousElementSibling as HTMLElement | null
      if (!separator?.classList.contains('day') || separator.dataset.day !== day) {
        separator = document.createElement('div')
        separator.className = 'day'
        separator.dataset.day = day
        separator.textContent = dayLabel(Number(entry.dataset.time))
        entry.before(separator)
      }
      kept.add(separator)
    }
    if (entry.classList.contains('notice')) {
      previous = undefined
      continue
    }
    const grouped =
      previous !== undefined &&
      !entry.classList.contains('file') &&
      !previous.classList.contains('file') &&
      previous.dataset.from === entry.dataset.from &&
      previous.dataset.minute === entry.dataset.minute &&
      previous.classList.contains('direct') === entry.classList.contains('direct')
    entry.classList.toggle('grouped', grouped)
    previous = entry
  }
  if (!from) for (const separator of log.querySelectorAll('.day')) if (!kept.has(separator)) separator.remove()
}
