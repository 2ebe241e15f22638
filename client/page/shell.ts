/**
 * Registers the app shell's service worker (sw.ts), once: offline start and installing as an app.
 * A failure only costs those. Installing fetches the whole shell again, so a room page does it once
 * the join is done, not while the join competes for the network, the server and the CPU.
 *
 * The manifest link goes in at the same moment, not in the HTML: Chromium fetches a linked manifest
 * at load, then its icon, and decodes that icon (an SVG document) to see whether the page can be
 * installed, all during the join.
 */
let registered = false
export function registerShell(): void {
  if (registered) return
  registered = true
  document.head.append(Object.assign(document.createElement('link'), { rel: 'manifest', href: '/manifest.webmanifest' }))
  if ('serviceWorker' in navigator) void navigator.serviceWorker.register('/sw.js').catch(() => {})
}
