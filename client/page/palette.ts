/**
 * Name colours: eight entries, each with a shade per scheme that reads at 4.5:1 or better on that
 * scheme's panels (style.css .c0–.c7). A person's colour travels as the entry's light shade, so the
 * colour you pick is the colour everyone sees; any other #rrggbb (an older page) maps to the nearest hue.
 */
export const PALETTE = [
  { hex: '#b42318', label: 'Red' },
  { hex: '#b54708', label: 'Orange' },
  { hex: '#8a6100', label: 'Gold' },
  { hex: '#2b7a0b', label: 'Green' },
  { hex: '#0b6f78', label: 'Teal' },
  { hex: '#1d5fd0', label: 'Blue' },
  { hex: '#6941c6', label: 'Violet' },
  { hex: '#c11574', label: 'Pink' },
] as const

function hue(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255) as [number, number, number]
  const max = Math.max(r, g, b)
  const d = max - Math.min(r, g, b)
  if (d === 0) return 0
  const h = max === r ? (g - b) / d : max === g ? (b - r) / d + 2 : (r - g) / d + 4
  return (h * 60 + 360) % 360
}

const HUES = PALETTE.map((p) => hue(p.hex))

/** The palette entry (its index) a person is shown with: their colour's, or one picked from their id. */
export function paletteIndex(peer: { id: string; color?: string | undefined }): number {
  const color = peer.color?.toLowerCase()
  if (color && /^#[0-9a-f]{6}$/.test(color)) {
    const exact = PALETTE.findIndex((p) => p.hex === color)
    if (exact !== -1) return exact
    const h = hue(color)
    const distance = (i: number) => Math.min(Math.abs(HUES[i]! - h), 360 - Math.abs(HUES[i]! - h))
    return HUES.reduce((best, _, i) => (distance(i) < distance(best) ? i : best), 0)
  }
  return [...peer.id].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % PALETTE.length, 7)
}

/** Puts the person's palette class (c0–c7) on an element, replacing any earlier one. */
export function paint(element: HTMLElement, index: number): void {
  element.className = element.className.replace(/\bc\d\b/g, '').trim()
  element.classList.add(`c${index}`)
}
