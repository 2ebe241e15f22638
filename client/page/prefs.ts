import { cleanName } from '../peer-protocol'

const NAME_KEY = 'parley:name'
const COLOR_KEY = 'parley:color'

/** The person's display name, remembered across visits (storage may be disabled: then per page). */
export function loadName(): string {
  try {
    const stored = cleanName(localStorage.getItem(NAME_KEY) ?? '')
    if (stored) return stored
  } catch {
    // Storage blocked: fall through to a fresh name.
  }
  return `Guest ${Math.floor(100 + Math.random() * 900)}`
}

export function saveName(name: string): void {
  try {
    localStorage.setItem(NAME_KEY, name)
  } catch {
    // Storage blocked: the name lasts as long as the page.
  }
}

export function loadColor(): string | undefined {
  try {
    const stored = localStorage.getItem(COLOR_KEY)
    return stored && /^#[0-9a-f]{6}$/i.test(stored) ? stored : undefined
  } catch {
    return undefined
  }
}

export function saveColor(color: string): void {
  try {
    localStorage.setItem(COLOR_KEY, color)
  } catch {
    // Storage blocked: the colour lasts as long as the page.
  }
}
