// The join path, step by step, from the newcomer page's own account: navigation timing and the
// performance marks the page sets. Prints whichever marks exist; a step the page does not mark yet
// shows as —, so the table fills in as the client learns to mark its steps.

import { table } from './stats'
import type { Timeline } from './tabs'

/** The steps of Parley's join path in the order they usually happen (client marks these names; the key may come after the join). */
export const PARLEY_MARKS = [
  'parley:script-start',
  'parley:worker-ready',
  'parley:identity-ready',
  'parley:join-sent',
  'parley:join-answered',
  'parley:roster-applied',
  'parley:stream-open',
  'parley:offer-sent',
  'parley:signals-flushed',
  'parley:answer-received',
  'parley:ice-connected',
  'parley:channel-open',
  'parley:hello-exchanged',
  'parley:connected',
  'parley:settled',
  'parley:history-merged',
]

/** What the PeerJS reference page marks (peerjs-site.ts). */
export const PEERJS_MARKS = ['peerjs:script-start', 'peerjs:server-open', 'peerjs:first-channel-open', 'peerjs:connected']

const CONNECTED_ROW = 'connected to everyone (bench)'

const cell = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '—' : `${v.toFixed(1)} ms`)

/** One column per timeline, one row per step; ms since the tab's navigation started. */
export function printBreakdown(columns: Array<{ label: string; timeline: Timeline }>): void {
  const navigation = [...new Set(columns.flatMap((c) => Object.keys(c.timeline.navigation)))]
  const extra = [
    ...new Set(columns.flatMap((c) => Object.keys(c.timeline.marks).filter((m) => !PARLEY_MARKS.includes(m) && !PEERJS_MARKS.includes(m)))),
  ]
  const marks = [...PARLEY_MARKS, ...PEERJS_MARKS, ...extra]
  const rows = [
    ...navigation.map((name) => [name, ...columns.map((c) => cell(c.timeline.navigation[name]))]),
    // Parley's steps always show, so the gaps are visible; anything else only where some tab marked it.
    ...marks
      .filter((name) => PARLEY_MARKS.includes(name) || columns.some((c) => name in c.timeline.marks))
      .map((name) => [name, ...columns.map((c) => cell(c.timeline.marks[name]))]),
    [CONNECTED_ROW, ...columns.map((c) => cell(c.timeline.connected))],
  ]
  table(['step (ms since navigation start)', ...columns.map((c) => c.label)], rows)
}
