/**
 * Registers the app shell's service worker (sw.ts), once: offline start and installing as an app.
 * A failure only costs those. Installing fetches the whole shell again, so a room page does it once
 * the join is done, not while the join competes for the network, the server and the CPU.
 */
let registered = false
export function registerShell(): void {
  if (registered || !('serviceWorker' in navigator)) return
  registered = true
  void navigator.serviceWorker.register('/sw.js').catch(() => {})
}
