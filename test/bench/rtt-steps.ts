// Where Parley's message round trip goes: each page notes when a chat line leaves on its data channel and
// when one arrives there (a wrapper on RTCDataChannel, set before the page's own script), and the bench's
// ping code notes when a line was sent, shown, answered. Times are the pages' own clocks on one machine
// (timeOrigin + now), coarsened to 0.1 ms as in any page that is not cross-origin isolated.
import type { Page } from 'puppeteer'
import { percentile } from './stats'

declare global {
  interface Window {
    /** Chat lines leaving (`tx`) and arriving (`rx`) on this page's data channels, in order. */
    __rttWire?: { tx: number[]; rx: number[] }
    /** When this page sent each ping (the pinging page) and when it was shown each ping (the ponging one). */
    __rttSent?: number[]
    __rttShown?: number[]
  }
}

/** Runs before the page's script: wraps `send` and the `onmessage` setter of every data channel. */
export const RTT_WIRE_INSTRUMENT = `(() => {
  const wire = (window.__rttWire = { tx: [], rx: [] })
  const now = () => performance.timeOrigin + performance.now()
  const isChat = (d) => typeof d === 'string' && d.startsWith('{"type":"chat"')
  const send = RTCDataChannel.prototype.send
  RTCDataChannel.prototype.send = function (data) {
    if (isChat(data)) wire.tx.push(now())
    return send.call(this, data)
  }
  const handler = Object.getOwnPropertyDescriptor(RTCDataChannel.prototype, 'onmessage')
  Object.defineProperty(RTCDataChannel.prototype, 'onmessage', {
    configurable: true,
    get() { return handler.get.call(this) },
    set(fn) { handler.set.call(this, fn && ((event) => { if (isChat(event.data)) wire.rx.push(now()); return fn(event) })) },
  })
})()`

/** Forgets what the pages noted so far (the warm-up's pings). */
export const resetRttSteps = (pages: Page[]) =>
  Promise.all(
    pages.map((p) =>
      p.evaluate(() => {
        // In place: the wrappers hold these arrays.
        window.__rttWire!.tx.length = 0
        window.__rttWire!.rx.length = 0
        window.__rttSent = []
        window.__rttShown = []
      }),
    ),
  )

export const RTT_STEPS = [
  'A: send → line leaves (queue, Lamport time, signature)',
  'wire A → B, approximate (SCTP, DTLS, network thread, B’s main thread free)',
  'B: line arrives → shown (parse, budget, order, page)',
  'B: pong sent → leaves (signature)',
  'wire B → A, approximate',
  'A: line arrives → shown',
] as const

/** Each step's durations (ms), one per ping, from what pinging page `a` and ponging page `b` noted. */
export async function rttSteps(a: Page, b: Page): Promise<number[][]> {
  const noted = (p: Page) => p.evaluate(() => ({ wire: window.__rttWire!, sent: window.__rttSent!, shown: window.__rttShown! }))
  const [x, y] = await Promise.all([noted(a), noted(b)])
  const steps: number[][] = RTT_STEPS.map(() => [])
  for (let i = 0; i < x.sent.length; i++) {
    const at = [x.sent[i], x.wire.tx[i], y.wire.rx[i], y.shown[i], y.wire.tx[i], x.wire.rx[i], x.shown[i]]
    if (at.some((t) => t === undefined)) break
    for (let s = 0; s < RTT_STEPS.length; s++) steps[s]!.push(at[s + 1]! - at[s]!)
  }
  return steps
}

/**
 * p50 and p95 of each step over every ping, and of both wires together: each wire alone subtracts one
 * process's clock from another's, and their sum cancels whatever offset there is between the two.
 */
export function summarise(steps: number[][]): Array<{ step: string; p50: number; p95: number }> {
  const wires = (steps[1] ?? []).map((there, i) => there + (steps[4]?.[i] ?? Number.NaN))
  return [...RTT_STEPS, 'both wires (A → B + B → A; the clocks’ offset cancels)'].map((step, s) => {
    const sorted = Float64Array.from(s < RTT_STEPS.length ? (steps[s] ?? []) : wires).sort()
    return { step, p50: percentile(sorted, 50), p95: percentile(sorted, 95) }
  })
}
