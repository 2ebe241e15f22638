/**
 * A room link: /r/<id>#<secret>[~<room name>]. Everything after # stays in the browser (browsers never
 * send the fragment), so the optional room name is as private as the secret beside it.
 */
export const ROOM_PATH = /^\/r\/([A-Za-z0-9_-]{1,64})\/?$/
const MAX_TITLE_CHARS = 60

export const cleanTitle = (title: string) =>
  title
    .replace(/[\p{Cc}\p{Cf}]/gu, '')
    .trim()
    .slice(0, MAX_TITLE_CHARS)

export function parseFragment(hash: string): { secret: string; title: string } {
  const fragment = hash.replace(/^#/, '')
  const cut = fragment.indexOf('~')
  if (cut === -1) return { secret: fragment, title: '' }
  let title = ''
  try {
    title = cleanTitle(decodeURIComponent(fragment.slice(cut + 1)))
  } catch {
    // A damaged name is no name.
  }
  return { secret: fragment.slice(0, cut), title }
}

export function roomUrl(origin: string, id: string, secret: string, title = ''): string {
  const name = cleanTitle(title)
  return `${origin}/r/${id}#${secret}${name ? `~${encodeURIComponent(name)}` : ''}`
}

/** A pasted link (or just its path and fragment) as a same-origin room address, or null. */
export function parseRoomLink(text: string, origin: string): string | null {
  try {
    const url = new URL(text.trim(), origin)
    if (url.origin !== origin || !ROOM_PATH.test(url.pathname) || url.hash.length < 2) return null
    return url.href
  } catch {
    return null
  }
}
