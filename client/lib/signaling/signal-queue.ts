import type { SignalBatchResponse } from '../../../signaling/protocol'
import { sleep } from '../util'
import { backoff, failure, retryAfter } from './http'

const MAX_BATCH = 64
// A signal this old is worthless: the connection attempt it belongs to has timed out.
const SIGNAL_TTL_MS = 30_000
// A pair's offer (or answer) is followed within milliseconds by its host candidates: the first POST may
// wait for them, so that a side costs one POST, not one plus one per candidate. It leaves when the page
// says (`flush`: every connection it is making has its host candidates out; see sealed-signals.ts), and at the
// latest this long after the first signal (candidates from STUN or TURN servers take longer, and follow
// in POSTs of their own). The page's word is what should send it; this cap bounds a page that finds no
// host candidate, or is too busy to say. 8 ms cut in whenever the machine was busy, and a join then cost
// more POSTs (test/bench/README.md, fourteenth pass).
export const SIGNAL_GATHER_MS = 30

interface Queued {
  to: string
  data: unknown
  at: number
}

/**
 * One outgoing queue per sending peer, at most one POST in flight: whatever queues up meanwhile leaves
 * as one batch, in order. Retried through outages, rate limits and a session being renewed.
 */
export function createSignalQueue(options: {
  post(path: string, body: unknown): Promise<Response>
  /** Whether `from` is still one of ours (signals of a peer that left are dropped). */
  isMember(from: string): boolean
  /** The server knows no peer `to`: tell the room of `from`. */
  unknown(from: string, to: string): void
  closed(): boolean
}) {
  const queues = new Map<string, Queued[]>()
  // Senders whose first POST has not left yet, and the timer that sends it.
  const gathering = new Map<string, ReturnType<typeof setTimeout>>()
  const start = (from: string) => {
    clearTimeout(gathering.get(from))
    gathering.delete(from)
    void pump(from)
  }

  function send(from: string, batch: Queued[]): Promise<Response> {
    return options.post(
      '/signal',
      batch.length === 1
        ? { peer: from, to: batch[0]!.to, data: batch[0]!.data }
        : { peer: from, batch: batch.map(({ to, data }) => ({ to, data })) },
    )
  }

  async function pump(from: string) {
    const queue = queues.get(from)
    if (!queue) return // cleared while gathering
    for (let attempt = 0; queue.length > 0 && !options.closed(); ) {
      if (!options.isMember(from)) break
      while (queue.length > 0 && Date.now() - queue[0]!.at > SIGNAL_TTL_MS) queue.shift()
      const batch = queue.slice(0, MAX_BATCH)
      if (batch.length === 0) break
      let res: Response | undefined
      try {
        res = await send(from, batch)
      } catch {
        // Network failure: the stream's error handler reports the outage; keep the signals.
      }
      // Done: delivered (204), partly delivered to targets that are still there (200), or refused
      // for good (4xx other than auth and rate limits). A target the server no longer knows is
      // reported to its room, which may still think it is there.
      const error = res && !res.ok ? await failure(res) : undefined
      const retry = !res || res.status >= 500 || res.status === 429 || res.status === 401 || error?.code === 'NOT_YOUR_PEER'
      if (retry) {
        await sleep(res ? retryAfter(res, attempt++) : backoff(attempt++))
        continue
      }
      queue.splice(0, batch.length)
      attempt = 0
      if (error?.code === 'UNKNOWN_PEER') options.unknown(from, batch[0]!.to)
      if (res?.status === 200) {
        const { failed } = ((await res.json().catch(() => null)) ?? {}) as Partial<SignalBatchResponse>
        for (const f of Array.isArray(failed) ? failed : []) {
          const item = batch[f?.index]
          if (item && f.error === 'UNKNOWN_PEER') options.unknown(from, item.to)
        }
      }
    }
    queues.delete(from)
  }

  return {
    push(from: string, to: string, data: unknown): void {
      const item = { to, data, at: Date.now() }
      const queue = queues.get(from)
      if (queue) return void queue.push(item)
      queues.set(from, [item])
      gathering.set(from, setTimeout(start, SIGNAL_GATHER_MS, from))
    },
    /** What `from` has gathered leaves now (its page has sent the host candidates of every connection it is making). */
    flush(from: string): void {
      if (gathering.has(from)) start(from)
    },
    clear(): void {
      queues.clear()
      for (const timer of gathering.values()) clearTimeout(timer)
      gathering.clear()
    },
  }
}
