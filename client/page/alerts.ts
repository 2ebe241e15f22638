/**
 * While the tab is hidden: the unread count in its title, and (if the person asked for it) a desktop
 * notification per message.
 */
export function createAlerts(title: string) {
  let unread = 0
  const update = () => {
    document.title = unread > 0 ? `(${unread}) ${title}` : title
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
      if (typeof Notification !== 'undefined' && Notification.permission === 'granted') {
        new Notification(from || 'Parley', { body: text.slice(0, 140), tag: 'parley' })
      }
    },
    /** Asks for permission (from a click: browsers require a gesture). */
    async enable(): Promise<void> {
      if (typeof Notification !== 'undefined' && Notification.permission === 'default') await Notification.requestPermission()
    },
  }
}
