/**
 * Named moments of the join path (`parley:join-sent` …), set once each on the page's performance
 * timeline, where the bench and the browser's own tools read them. Later occurrences cost a Set lookup.
 */
export type MarkName =
  | 'script-start'
  | 'worker-ready'
  | 'identity-ready'
  | 'join-sent'
  | 'join-answered'
  | 'stream-open'
  | 'offer-sent'
  | 'answer-received'
  | 'ice-connected'
  | 'channel-open'
  | 'hello-exchanged'
  | 'connected'
  | 'history-merged'

const seen = new Set<MarkName>()

export function mark(name: MarkName): void {
  if (seen.has(name)) return
  seen.add(name)
  globalThis.performance?.mark?.(`parley:${name}`)
}
