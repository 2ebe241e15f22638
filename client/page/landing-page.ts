import { nanoid } from 'nanoid'
import { newRoomSecret } from '../crypto'
import { cleanName } from '../peer-protocol'
import { loadName, saveName } from './prefs'

const ROOM_ID_CHARS = 12

export function showLanding(): void {
  const landing = document.getElementById('landing')!
  const name = document.getElementById('landing-name') as HTMLInputElement
  const create = document.getElementById('create') as HTMLButtonElement
  landing.hidden = false
  name.value = loadName()
  const remember = () => {
    const chosen = cleanName(name.value)
    if (chosen) saveName(chosen)
  }
  name.addEventListener('change', remember)
  create.addEventListener('click', () => {
    remember()
    // The secret goes in the fragment, which browsers never send to the server.
    location.assign(`/r/${nanoid(ROOM_ID_CHARS)}#${newRoomSecret()}`)
  })
}
