import { createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface SseFrame {
  id?: string
  event: string
  data: string
}

export interface ProxyOptions {
  /** Rewrites each request body before the server sees it. */
  rewriteRequest?: (body: string, path: string) => string
  /** Replaces each event of an event stream with the events returned (none: dropped). */
  rewriteEvent?: (frame: SseFrame) => SseFrame[]
  /** Answers a request itself with this JavaScript instead of asking the server (undefined: proxy it). */
  serveScript?: (path: string) => string | undefined
  /** Holds a request before the server sees it, until the promise returned settles (undefined: at once). */
  holdRequest?: (path: string) => Promise<void> | undefined
  /** Holds the server's answer to a request until the promise returned settles (undefined: at once). */
  holdResponse?: (path: string) => Promise<void> | undefined
  /** Drops the connection instead of passing the server's answer on (a network error after the server acted). */
  dropResponse?: (path: string) => boolean
  /** Sends the request to the server twice and passes on the second answer (a browser resending a POST). */
  resend?: (path: string) => boolean
}

/** Re-frames a stream's text event by event, so a rewrite always sees whole events. */
function eventRewriter(rewrite: (frame: SseFrame) => SseFrame[]) {
  let pending = ''
  return (chunk: string): string => {
    pending += chunk
    const blocks = pending.split('\n\n')
    pending = blocks.pop()!
    return blocks
      .map((block) => {
        const lines = block.split('\n')
        const field = (name: string) => lines.filter((l) => l.startsWith(`${name}: `)).map((l) => l.slice(name.length + 2))
        const [event] = field('event')
        if (event === undefined) return `${block}\n\n` // comments, retry
        const [id] = field('id')
        return rewrite({ ...(id === undefined ? {} : { id }), event, data: field('data').join('\n') })
          .map((f) => `${f.id === undefined ? '' : `id: ${f.id}\n`}event: ${f.event}\ndata: ${f.data}\n\n`)
          .join('')
      })
      .join('')
  }
}

/**
 * An HTTP proxy on 127.0.0.1:0 in front of a Parley server that records every byte of every request
 * and response, so tests can prove what the server did (and did not) see. With rewrite hooks it
 * plays a malicious server.
 */
export async function startRecordingProxy(target: string, options: ProxyOptions = {}) {
  const upstream = new URL(target)
  const transcript: string[] = []
  const streams = new Set<import('node:http').ServerResponse>()
  const server = createServer((req, res) => {
    const path = req.url ?? '/'
    const script = options.serveScript?.(path)
    if (script !== undefined) {
      res.writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'no-store' })
      return void res.end(script)
    }
    if (path.includes('/stream')) {
      streams.add(res)
      res.on('close', () => streams.delete(res))
    }
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      let body = Buffer.concat(chunks).toString('utf8')
      if (options.rewriteRequest && body) body = options.rewriteRequest(body, path)
      transcript.push(`> ${req.method} ${path}\n${JSON.stringify(req.headers)}\n${body}`)
      // The transcript and the rewrites work on text: the server is asked for its files uncompressed.
      const { 'accept-encoding': _encodings, ...asked } = req.headers
      const headers = { ...asked, host: upstream.host }
      if (body) headers['content-length'] = String(Buffer.byteLength(body))
      const target = { host: upstream.hostname, port: upstream.port, path, method: req.method, headers, agent: false }
      const forward = () => {
        const up = request(target, async (upRes) => {
          await options.holdResponse?.(path)
          // The client may have gone meanwhile (a page that navigated away).
          if (res.destroyed) return
          if (options.dropResponse?.(path)) return void res.destroy()
          const { 'content-length': length, ...rest } = upRes.headers
          const stream = upRes.headers['content-type']?.startsWith('text/event-stream') ?? false
          const rewrite = stream && options.rewriteEvent ? eventRewriter(options.rewriteEvent) : (c: string) => c
          res.writeHead(upRes.statusCode ?? 502, { ...rest, ...(length ? { 'content-length': length } : {}) })
          res.flushHeaders()
          upRes.setEncoding('utf8')
          upRes.on('data', (chunk: string) => {
            transcript.push(`< ${path}\n${chunk}`)
            res.write(rewrite(chunk))
          })
          upRes.on('end', () => res.end())
          upRes.on('error', () => res.destroy())
        })
        up.on('error', () => res.destroy())
        res.on('close', () => up.destroy())
        up.end(body)
      }
      const send = () => {
        if (!options.resend?.(path)) return forward()
        const first = request(target, (firstRes) => void firstRes.resume().on('end', forward))
        first.on('error', forward)
        first.end(body)
      }
      const held = options.holdRequest?.(path)
      if (held) void held.then(send)
      else send()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url,
    /** Drops every open event stream, as a proxy timeout or a network blip would. */
    cutStreams() {
      for (const res of streams) res.destroy()
    },
    /** Every request line, header block, body and response chunk so far (`api`: of /v1 only). */
    transcript: (api = false) => transcript.filter((entry) => !api || /^[<>] (?:[A-Z]+ )?\/v1\//.test(entry)).join('\n'),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/**
 * A proxy whose answers to POSTs to `path` wait while `when()` says so: the server acts on each, and its
 * client never learns it. `landed` resolves at the first answer held; `release()` lets them all go.
 */
export async function holdAnswers(target: string, path: string, when: () => boolean, options: ProxyOptions = {}) {
  let landed = () => {}
  const reached = new Promise<void>((resolve) => (landed = resolve))
  let release = () => {}
  const held = new Promise<void>((resolve) => (release = resolve))
  const proxy = await startRecordingProxy(target, {
    ...options,
    holdResponse(requested) {
      if (requested !== path || !when()) return undefined
      landed()
      return held
    },
  })
  return { proxy, landed: reached, release }
}

/** Answers to POST /v1/join held (see holdAnswers): the server seats the joiner, whose page never learns it. */
export const holdJoinAnswers = (target: string, when: () => boolean = () => true, options: ProxyOptions = {}) =>
  holdAnswers(target, '/v1/join', when, options)
