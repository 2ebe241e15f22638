import type { PeerView } from '../room'

const STATE_LABEL: Record<PeerView['state'], string> = {
  connecting: 'connecting…',
  connected: 'connected',
  reconnecting: 'reconnecting…',
  failed: 'cannot connect',
}

const template = (id: string) =>
  ((document.getElementById(id) as HTMLTemplateElement).content.firstElementChild as HTMLElement).cloneNode(true) as HTMLElement

/** A stable colour for people who chose none. */
export const colorOf = (peer: { id: string; color?: string | undefined }) =>
  peer.color ?? `hsl(${[...peer.id].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 360, 7)} 55% 45%)`

/** The People list (and the "Send to" choices that follow it). All DOM writes are text or attributes. */
export function createPeopleView(list: HTMLElement, alone: HTMLElement, sendTo: HTMLSelectElement) {
  const rows = new Map<string, { row: HTMLElement; option: HTMLOptionElement }>()

  return {
    render(peer: PeerView): void {
      let item = rows.get(peer.id)
      if (!item) {
        const row = template('person-template')
        row.dataset.peer = peer.id
        const option = document.createElement('option')
        option.value = peer.id
        item = { row, option }
        rows.set(peer.id, item)
        list.append(row)
        sendTo.append(option)
      }
      const { row, option } = item
      const name = peer.name || 'Someone'
      option.textContent = `${name} (private)`
      const avatar = row.querySelector<HTMLElement>('.avatar')!
      avatar.textContent = Array.from(name)[0]!.toUpperCase()
      avatar.style.background = colorOf(peer)
      row.querySelector('.person-name')!.textContent = name
      const state = row.querySelector<HTMLElement>('.state')!
      state.dataset.state = peer.state
      state.textContent = peer.unverified
        ? 'cannot verify'
        : peer.state === 'connected' && peer.route
          ? `connected · ${peer.route}`
          : STATE_LABEL[peer.state]
      state.title = peer.route === 'relayed' ? 'Through a TURN relay (still end-to-end encrypted)' : ''
      row.dataset.route = peer.route ?? ''
      row.dataset.state = peer.state
      const code = row.querySelector<HTMLElement>('.code')!
      code.hidden = !peer.code
      code.textContent = peer.code ? `code ${peer.code}` : ''
      code.title = `Read this code to ${name} another way (in person, on a call). If theirs shows the same, nobody is listening in between.`
      alone.hidden = rows.size > 0
    },

    remove(id: string): void {
      const item = rows.get(id)
      if (!item) return
      item.row.remove()
      if (item.option.selected) sendTo.value = ''
      item.option.remove()
      rows.delete(id)
      alone.hidden = rows.size > 0
    },

    stateOf: (id: string) => rows.get(id)?.row.dataset.state,
  }
}
