import { loadFlag, saveFlag } from './prefs'

const BEEP_HZ = 880
const BEEP_S = 0.12
const BEEP_GAIN = 0.08
const BADGE_PX = 64
const NOTIFICATION_CHARS = 140

/**
 * While the tab is hidden: the unread count in its title and on the favicon, and (if the person turned
 * them on) a desktop notification and a short beep per message. Both switches show their state.
 */
export function createAlerts(options: { title: string; notify: HTMLInputElement; sound: HTMLInputElement }) {
  const { notify, sound, title } = options
  let unread = 0
  let audio: AudioContext | undefined
  const favicon = document.getElementById('favicon') as HTMLLinkElement | null
  const plainIcon = favicon?.getAttribute('href') ?? ''

  const permitted = () => typeof Notification !== 'undefined' && Notification.permission === 'granted'
  notify.checked = loadFlag('notify') && permitted()
  notify.disabled = typeof Notification === 'undefined' || Notification.permission === 'denied'
  if (notify.disabled) notify.parentElement!.title = 'Notifications are blocked for this site in the browser’s settings.'
  sound.checked = loadFlag('sound')

  notify.addEventListener('change', async () => {
    if (notify.checked && typeof Notification !== 'undefined' && Notification.permission === 'default') {
      await Notification.requestPermission()
    }
    notify.checked = notify.checked && permitted()
    saveFlag('notify', notify.checked)
  })
  sound.addEventListener('change', () => {
    saveFlag('sound', sound.checked)
    if (sound.checked) beep() // the click is the gesture that lets audio start
  })

  function beep() {
    try {
      audio ??= new AudioContext()
      const oscillator = audio.createOscillator()
      const gain = audio.createGain()
      oscillator.frequency.value = BEEP_HZ
      gain.gain.setValueAtTime(BEEP_GAIN, audio.currentTime)
      gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + BEEP_S)
      oscillator.connect(gain).connect(audio.destination)
      oscillator.start()
      oscillator.stop(audio.currentTime + BEEP_S)
    } catch {
      // No audio here: the other alerts still work.
    }
  }

  // Drawn once per label ("1" … "9+"): a busy hidden tab would otherwise encode a PNG per message.
  const badges = new Map<string, string>()
  function badge(): string {
    const label = unread > 9 ? '9+' : String(unread)
    let url = badges.get(label)
    if (!url) {
      url = drawBadge(label)
      badges.set(label, url)
    }
    return url
  }

  function drawBadge(label: string): string {
    const canvas = document.createElement('canvas')
    canvas.width = canvas.height = BADGE_PX
    const g = canvas.getContext('2d')
    if (!g) return plainIcon
    g.fillStyle = '#2f4fd0'
    g.beginPath()
    g.roundRect(0, 0, BADGE_PX, BADGE_PX, 14)
    g.fill()
    g.fillStyle = '#b42318'
    g.beginPath()
    g.arc(BADGE_PX * 0.68, BADGE_PX * 0.32, BADGE_PX * 0.32, 0, 2 * Math.PI)
    g.fill()
    g.fillStyle = '#fff'
    g.font = `bold ${BADGE_PX * 0.4}px system-ui, sans-serif`
    g.textAlign = 'center'
    g.textBaseline = 'middle'
    g.fillText(label, BADGE_PX * 0.68, BADGE_PX * 0.34)
    return canvas.toDataURL('image/png')
  }

  const update = () => {
    document.title = unread > 0 ? `(${unread}) ${title}` : title
    const icon = unread > 0 ? badge() : plainIcon
    // The attribute, not the resolved `href`, which never equals the relative plain icon: setting the same
    // icon again makes the browser fetch and decode it again.
    if (favicon && favicon.getAttribute('href') !== icon) favicon.setAttribute('href', icon)
  }
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) return
    unread = 0
    update()
  })

  return {
    message(from: string, text: string): void {
      if (!document.hidden) return
      unread++
      update()
      if (sound.checked) beep()
      if (notify.checked && permitted()) new Notification(from || 'Parley', { body: text.slice(0, NOTIFICATION_CHARS), tag: 'parley' })
    },
    /** Someone mentioned this person: said even with notifications and sound switched off. */
    mention(from: string, text: string): void {
      if (!document.hidden) return
      unread++
      update()
      beep()
      if (permitted())
        new Notification(`${from || 'Someone'} mentioned you`, { body: text.slice(0, NOTIFICATION_CHARS), tag: 'parley-mention' })
    },
    close(): void {
      void audio?.close()
    },
  }
}
