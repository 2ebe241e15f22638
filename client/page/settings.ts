import type { Room } from '../lib'
import { cleanName } from '../lib/peer-protocol'
import { $ } from './dom'
import { PALETTE, paint, paletteIndex } from './palette'
import { chosenName, guestName, saveColor, saveName } from './prefs'

/** The "You" settings of a room page: name (told to everyone on change) and colour (a palette radio group). */
export function bindSettings(joined: Room, color: string): void {
  const nameInput = $<HTMLInputElement>('name')
  nameInput.value = chosenName()
  nameInput.placeholder = guestName()
  // An emptied field gives the guest name back.
  nameInput.addEventListener('change', () => {
    const name = cleanName(nameInput.value)
    joined.setName(name || nameInput.placeholder)
    saveName(name)
    nameInput.value = name
  })

  const swatches = $('colors')
  swatches.setAttribute('role', 'radiogroup')
  swatches.setAttribute('aria-label', 'Your colour')
  const pick = (swatch: Element, i: number) => {
    for (const other of swatches.children) {
      other.setAttribute('aria-checked', String(other === swatch))
      other.setAttribute('tabindex', other === swatch ? '0' : '-1')
    }
    joined.setColor(PALETTE[i]!.hex)
    saveColor(PALETTE[i]!.hex)
  }
  const chosen = paletteIndex({ id: '', color })
  swatches.replaceChildren(
    ...PALETTE.map((entry, i) => {
      const swatch = document.createElement('button')
      swatch.type = 'button'
      swatch.className = 'swatch'
      paint(swatch, i)
      swatch.setAttribute('role', 'radio')
      swatch.setAttribute('aria-label', entry.label)
      swatch.setAttribute('aria-checked', String(i === chosen))
      swatch.setAttribute('tabindex', i === chosen ? '0' : '-1')
      swatch.addEventListener('click', () => pick(swatch, i))
      return swatch
    }),
  )
  // A radio group is one Tab stop; arrows move the choice (ARIA radio group pattern).
  swatches.addEventListener('keydown', (event) => {
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key]
    if (!step) return
    event.preventDefault()
    const all = [...swatches.children] as HTMLElement[]
    const next = (all.findIndex((s) => s.getAttribute('aria-checked') === 'true') + step + all.length) % all.length
    pick(all[next]!, next)
    all[next]!.focus()
  })
}
