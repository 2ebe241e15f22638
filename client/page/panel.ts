import { $ } from './dom'

/**
 * People and settings: a column beside the chat on wide screens, a drawer over it on small ones,
 * opened by the header's button and closed by it or Escape (focus goes back to the button).
 */
export function createPanel() {
  const room = $('room')
  const toggle = $<HTMLButtonElement>('panel-toggle')
  const open = (on: boolean) => {
    room.classList.toggle('panel-open', on)
    toggle.setAttribute('aria-expanded', String(on))
  }
  toggle.addEventListener('click', () => {
    open(!room.classList.contains('panel-open'))
  })
  $('panel').addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && room.classList.contains('panel-open')) {
      open(false)
      toggle.focus()
    }
  })
  return { close: () => open(false), open: () => open(true) }
}
