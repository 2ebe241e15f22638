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
  | 'roster-applied'
  | 'stream-open'
  | 'offer-sent'
  | 'signals-flushed'
  | 'answer-received'
  | 'ice-connected'
  | 'channel-open'
  | 'hello-exchanged'
  | 'connected'
  // Nobody in the room is on a first attempt to connect any more, or the page gave up waiting (page/shell.ts).
  | 'settled'
  | 'history-merged'

const seen = new Set<MarkName>()
const waiting = new Map<MarkName, Array<() => void>>()

export function mark(name: MarkName): void {
  if (seen.has(name)) return
  seen.add(name)
  globalThis.performance?.mark?.(`parley:${name}`)
  for (const resolve of waiting.get(name) ?? []) resolve()
  waiting.delete(name)
}

/** Resolves once `name` has been marked (at once if it was): the page waits on the join's steps without a hook in the room. */
export function whenMarked(name: MarkName): Promise<void> {
  if (seen.has(name)) return Promise.resolve()
  return new Promise((resolve) => waiting.set(name, [...(waiting.get(name) ?? []), resolve]))
}
