import { before, HISTORY_LIMIT } from './history'
import { isLogEntry, type LogEntry } from './stored'

/**
 * A room's history as this browser kept it, from every stored record that holds part of it: each tab
 * writes its own (see client/page/idb-store.ts), as one record written whole by every tab lost to each
 * write what only another tab held. Entries that fail the check are dropped. An entry held twice (its
 * message id, author and key) is one: signed rather than unsigned, ours if either copy says so, and not
 * delivered only if neither copy knows better — a copy without the mark is its recipient's, or was
 * written after its receipt came. In the log's order, ours not yet signed last in the order said (their
 * Lamport time comes with their signature, see saving.ts), cut to the newest `limit`, as the log keeps them.
 */
export function mergeKept(records: readonly unknown[], limit = HISTORY_LIMIT): LogEntry[] {
  const kept = new Map<string, LogEntry>()
  for (const e of records.flatMap((record) => (Array.isArray(record) ? record : [])).filter(isLogEntry)) {
    const id = JSON.stringify([e.message.id, e.message.from, e.key])
    const had = kept.get(id) ?? e
    const undelivered = had.undelivered && e.undelivered
    kept.set(id, {
      message: (had.message.sig ? had : e).message,
      key: e.key,
      mine: had.mine || e.mine,
      ...(undelivered ? { undelivered } : {}),
    })
  }
  const late = (e: LogEntry) => !e.message.sig
  // Ours not yet signed are signed in this order (saving.ts), and their Lamport times are not final yet:
  // they keep the order they were said in.
  const order = (a: LogEntry, b: LogEntry) =>
    late(a) && late(b)
      ? a.message.time - b.message.time || a.message.seq - b.message.seq
      : before(a.message, b.message)
        ? -1
        : before(b.message, a.message)
          ? 1
          : 0
  return [...kept.values()].sort((a, b) => (late(a) !== late(b) ? (late(a) ? 1 : -1) : order(a, b))).slice(-limit)
}
