import type { IncomingMessage, ServerResponse } from 'node:http'
import { Socket } from 'node:net'
import type { Headers, RouteContext } from './api-options'
import { HttpError, Unavailable } from './errors'
import { bearer, rawHeader, readJson, STREAM_HEADERS, sendJson, sendNoContent } from './http'
import type { RelayResult, Sink } from './hub'
import { createCounter, createRateLimiter, takeOrRefuse } from './limits'
import type { SignalBatchResponse } from './protocol'
import { openEventStream, type StreamOutput, writeFrame } from './sse'
import { endSocket, takeOverSocket } from './stream-socket'
import { parseSignal, sessionFrom } from './validate'

const relayError = (code: Exclude<RelayResult, { ok: true }>['code'], from: string, to: string) =>
  code === 'NOT_YOUR_PEER'
    ? new HttpError(403, code, `peer ${from} is not joined on this session`)
    : code === 'UNKNOWN_PEER'
      ? new HttpError(404, code, `no peer ${to}`)
      : code === 'NOT_IN_ROOM'
        ? new HttpError(403, code, `peer ${to} is in another room`)
        : new HttpError(400, 'BAD_REQUEST', '"data" is nested too deeply')

// The per-session and per-address signal buckets hold this many seconds of their rate.
const SIGNAL_BURST_S = 4

/** An open stream as the hub sees it. Its methods are shared, not two closures per stream held for hours. */
interface StreamSink extends Sink {
  /** The response until its socket is taken over, then the socket. */
  out: StreamOutput
  /** Bytes the socket may have queued before the stream is dropped (the client resumes). */
  maxBacklog: number
}

function writeToStream(this: StreamSink, frame: string): boolean {
  return writeFrame(this.out, frame) <= this.maxBacklog
}

function endStream(this: StreamSink): void {
  if (this.out instanceof Socket) endSocket(this.out)
  else this.out.end()
}

/**
 * Moves an open stream from its response to its socket (stream-socket.ts), once the request is read to
 * its end and the frames written with the headers are out: its close listener goes along.
 */
function takeOver(req: IncomingMessage, res: ServerResponse, sink: StreamSink, closed: () => void): void {
  const socket = takeOverSocket(req, res)
  if (socket === null) return
  res.off('close', closed)
  socket.on('close', closed)
  sink.out = socket
}

/**
 * The relay, the requests a busy server sees most: POST /signal (every ICE candidate is one) and
 * GET /stream, as plain Node handlers `(req, res, headers)` (`headers`: the answer's CORS headers).
 * Each throws (or rejects with) what the client is told; the API maps it.
 */
export function createRelayRoutes({ options, credentials, hub, clientIp }: RouteContext) {
  const signalLimiter = createRateLimiter(options.signalsPerSec, options.signalBurst)
  // One session (many peers) or one address (many sessions) must not multiply the per-peer budget.
  const sessionLimiter = createRateLimiter(options.sessionSignalsPerSec, options.sessionSignalsPerSec * SIGNAL_BURST_S)
  const addressLimiter = createRateLimiter(options.ipSignalsPerSec, options.ipSignalsPerSec * SIGNAL_BURST_S)
  const streamsPerIp = createCounter(options.maxStreamsPerIp)
  // Answers owed for the signals relayed in this turn of the event loop, and each one's headers.
  let acks: ServerResponse[] = []
  let ackHeaders: Headers[] = []
  const sendAcks = () => {
    const due = acks
    const dueHeaders = ackHeaders
    acks = []
    ackHeaders = []
    for (let i = 0; i < due.length; i++) {
      // Mounted in another app, something else (a timeout middleware) may have answered meanwhile.
      if (!due[i]!.headersSent) sendNoContent(due[i]!, dueHeaders[i]!)
    }
  }

  /** One signal or a batch: 204 when all were delivered, else the failed items (batch only). */
  async function signal(req: IncomingMessage, res: ServerResponse, headers: Headers) {
    const token = bearer(req.headers.authorization)
    const body = await readJson(req, options.maxBodyBytes, options.bodyTimeoutS * 1000)
    const id = sessionFrom(credentials, token)
    const { peer, items, batch } = parseSignal(body)
    // The in-memory hub answers at once: no await (and no turn of the microtask queue) for it.
    const owns = hub.hasPeer(id, peer)
    if (!(typeof owns === 'boolean' ? owns : await owns)) throw relayError('NOT_YOUR_PEER', peer, '')
    // A batch costs at most a full bucket, so one larger than the burst can still go through.
    takeOrRefuse(signalLimiter, peer, 'signals from this peer', Math.min(items.length, options.signalBurst))
    takeOrRefuse(sessionLimiter, id, 'signals from this session', items.length)
    takeOrRefuse(addressLimiter, clientIp(req), 'signals from this address', items.length)
    const failed: SignalBatchResponse['failed'] = []
    for (let index = 0; index < items.length; index++) {
      const { to, data } = items[index]!
      const relayed = hub.relay(id, peer, to, data)
      const result = relayed instanceof Promise ? await relayed : relayed
      if (result.ok) continue
      const error = relayError(result.code, peer, to)
      if (!batch) throw error
      failed.push({ index, error: error.code, message: error.message })
    }
    // The partners' frames leave at the end of this tick (sse.ts writeFrame; with Redis, once published
    // and back); the answer, a mere acknowledgement, waits until every request read in this turn of the
    // event loop has written its frames, so that no signal of a burst waits for the socket writes of the
    // acks before it.
    if (failed.length === 0) {
      if (acks.length === 0) setImmediate(sendAcks)
      acks.push(res)
      return void ackHeaders.push(headers)
    }
    const answer: SignalBatchResponse = { failed }
    sendJson(res, 200, answer, headers)
  }

  /** Opens the session's event stream on `res`; errors are thrown before any byte is written. */
  function stream(req: IncomingMessage, res: ServerResponse, headers: Headers, query: URLSearchParams) {
    const key = query.get('key')
    const id = key === null ? null : credentials.verifyStreamKey(key)
    if (id === null && key !== null && credentials.expired('stream', key)) {
      throw new HttpError(401, 'EXPIRED', 'stream key expired; renew with POST /renew, or join afresh')
    }
    if (id === null) throw new HttpError(401, 'UNAUTHORIZED', 'missing or invalid stream key')
    // Every header in one writeHead, never setHeader: a response keeps what setHeader stored for as
    // long as it is open, and a stream is open for hours, times every peer.
    const streamHeaders = { ...STREAM_HEADERS, ...headers }
    if (req.method === 'HEAD') {
      // A bodiless answer must not become the session's stream.
      res.writeHead(200, {
        ...streamHeaders,
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-cache, no-transform',
      })
      return void res.end()
    }
    if (!hub.ready()) throw new Unavailable('signaling storage is unavailable')
    const address = clientIp(req)
    if (!streamsPerIp.acquire(address)) {
      throw new HttpError(429, 'RATE_LIMITED', `at most ${options.maxStreamsPerIp} streams per address`, options.retryMs)
    }
    const lastEventId = rawHeader(req, 'last-event-id') ?? query.get('lastEventId') ?? undefined
    // Jitter spreads the reconnects of many clients after a restart.
    openEventStream(res, Math.round(options.retryMs * (1 + Math.random())), streamHeaders)
    const sink: StreamSink = { out: res, maxBacklog: options.maxStreamBacklogBytes, write: writeToStream, close: endStream }
    // No closure here may hold `req` or `res`: this one lives as long as the stream.
    const closed = () => {
      streamsPerIp.release(address)
      hub.disconnect(id, sink)
    }
    res.on('close', closed)
    // After the parser has read the request to its end, which happens after this handler runs.
    setImmediate(takeOver, req, res, sink, closed)
    // A store that fails mid-connect ends the stream; the browser reconnects and resumes.
    void Promise.resolve(hub.connect(id, lastEventId, sink)).catch(() => sink.close())
  }

  return {
    signal,
    stream,
    /** Forgets rate-limit buckets that have refilled; call it on a timer. */
    sweep(): void {
      signalLimiter.sweep()
      sessionLimiter.sweep()
      addressLimiter.sweep()
    },
    limitKeys: () => signalLimiter.size + sessionLimiter.size + addressLimiter.size,
    ipsWithStreams: () => streamsPerIp.size,
  }
}
