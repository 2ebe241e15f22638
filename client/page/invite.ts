import { $ } from './dom'
import type { UseExtras } from './later'

// Drawing the code is a canvas and a PNG encoding: not while joining.
const QR_IDLE_MS = 2_000

/**
 * The ways to invite someone: the room's link (secret included: it only ever leaves the browser when this
 * person passes it on) to copy or scan under Invite, and the share buttons (the system's share sheet where
 * there is one, else the Invite section with the link selected).
 */
export function bindInvite(options: { title: string; notice: (text: string) => void; openPanel: () => void; extras: UseExtras }): void {
  const { notice } = options
  const link = $<HTMLInputElement>('link')
  link.value = location.href
  options.extras(({ qrDataUrl }) => {
    const drawQr = () => {
      $<HTMLImageElement>('qr').src = qrDataUrl(location.href)
    }
    if (typeof requestIdleCallback === 'function') requestIdleCallback(drawQr, { timeout: QR_IDLE_MS })
    else setTimeout(drawQr, QR_IDLE_MS)
  })
  $('copy').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(location.href)
      notice('Link copied. Send it to the people you want to talk to.')
    } catch {
      link.select()
      notice('Copy the selected link under Invite.')
    }
  })
  const invite = async () => {
    if (navigator.share) {
      await navigator.share({ title: options.title, url: location.href }).catch(() => {})
      return
    }
    options.openPanel()
    link.focus()
    link.select()
  }
  $('share').addEventListener('click', invite)
  $('invite').addEventListener('click', invite)
}
