import { cleanName } from '../lib/peer-protocol'

const NAME_KEY = 'parley:name'
const GUEST_KEY = 'parley:guest'
const COLOR_KEY = 'parley:color'
const THEME_KEY = 'parley:theme'
const RECENT_KEY = 'parley:recent'
const FLAG_KEY = (flag: string) => `parley:${flag}`
const MAX_RECENT_ROOMS = 8

export type Theme = 'system' | 'light' | 'dark'

/** A room this browser was in: its link (with the secret: it never leaves the browser) and when. */
export interface RecentRoom {
  id: string
  link: string
  title: string
  time: number
}

// Storage may be disabled (private modes, policies): then every preference lasts as long as the page.
export function readStored(key: string): string | null {
  try {
    return localStorage.getItem(key)
  } catch {
    return null
  }
}

export function writeStored(key: string, value: string): void {
  try {
    localStorage.setItem(key, value)
  } catch {
    // Storage blocked.
  }
}

/** The name this person chose, remembered across visits ('' if none, or only the guest name). */
export function chosenName(): string {
  const name = cleanName(readStored(NAME_KEY) ?? '')
  return name === guestName() ? '' : name
}

/**
 * The name of someone who chose none, made once: a name field shows it as its placeholder, never as a
 * value that typing would add to ("Guest 937Fiona"), and the room uses the same one.
 */
let guest: string | undefined
export function guestName(): string {
  // Kept here too: with storage blocked, each call would make another. Earlier pages saved the guest
  // name they offered as if chosen: it stays this person's guest name.
  guest ??= readStored(GUEST_KEY) || /^Guest \d+$/.exec(readStored(NAME_KEY) ?? '')?.[0] || `Guest ${Math.floor(100 + Math.random() * 900)}`
  writeStored(GUEST_KEY, guest)
  return guest
}

export const loadName = () => chosenName() || guestName()

export const saveName = (name: string) => writeStored(NAME_KEY, name)

export function loadColor(): string | undefined {
  const stored = readStored(COLOR_KEY)
  return stored && /^#[0-9a-f]{6}$/i.test(stored) ? stored : undefined
}

export const saveColor = (color: string) => writeStored(COLOR_KEY, color)

export function loadTheme(): Theme {
  const stored = readStored(THEME_KEY)
  return stored === 'light' || stored === 'dark' ? stored : 'system'
}

export const saveTheme = (theme: Theme) => writeStored(THEME_KEY, theme)

export const loadFlag = (flag: 'notify' | 'sound') => readStored(FLAG_KEY(flag)) === 'on'
export const saveFlag = (flag: 'notify' | 'sound', on: boolean) => writeStored(FLAG_KEY(flag), on ? 'on' : 'off')

export function loadRecent(): RecentRoom[] {
  try {
    const parsed: unknown = JSON.parse(readStored(RECENT_KEY) ?? '[]')
    if (!Array.isArray(parsed)) return []
    return parsed.filter(
      (r): r is RecentRoom =>
        typeof r === 'object' &&
        r !== null &&
        typeof r.id === 'string' &&
        typeof r.link === 'string' &&
        typeof r.title === 'string' &&
        typeof r.time === 'number' &&
        /^https?:\/\//.test(r.link),
    )
  } catch {
    return []
  }
}

export function rememberRoom(room: RecentRoom): void {
  const rest = loadRecent().filter((r) => r.id !== room.id)
  writeStored(RECENT_KEY, JSON.stringify([room, ...rest].slice(0, MAX_RECENT_ROOMS)))
}
