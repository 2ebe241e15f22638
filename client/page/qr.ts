import { generate } from 'lean-qr/nano'

// lean-qr's nano build: about 2 KB gzipped, no dependencies, typed, maintained; it hands back the modules
// and the page draws them, so no markup or inline style is involved. A phone's camera opens the link.
const MODULE_PX = 4
const QUIET_MODULES = 4

/** The link as a QR code, a PNG data URL (the page's CSP allows data: images, and nothing inline). */
export function qrDataUrl(text: string): string {
  const code = generate(text)
  const side = (code.size + 2 * QUIET_MODULES) * MODULE_PX
  const canvas = document.createElement('canvas')
  canvas.width = canvas.height = side
  const g = canvas.getContext('2d')
  if (!g) return ''
  g.fillStyle = '#fff'
  g.fillRect(0, 0, side, side)
  g.fillStyle = '#000'
  for (let y = 0; y < code.size; y++) {
    for (let x = 0; x < code.size; x++) {
      if (code.get(x, y)) g.fillRect((x + QUIET_MODULES) * MODULE_PX, (y + QUIET_MODULES) * MODULE_PX, MODULE_PX, MODULE_PX)
    }
  }
  return canvas.toDataURL('image/png')
}
