import { createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ProxyOptions {
  /** Rewrites each chunk the server sends (SSE frames included) before the browser sees it. */
  rewriteResponse?: (chunk: string, path: string) => string
  /** Rewrites each request body before the server sees it. */
  rewriteRequest?: (body: string, path: string) => string
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
      const headers = { ...req.headers, host: upstream.host }
      if (body) headers['content-length'] = String(Buffer.byteLength(body))
      const up = request(
        { host: upstream.hostname, port: upstream.port, path, method: req.method, headers, agent: false },
        (upRes) => {
          const { 'content-length': length, ...rest } = upRes.headers
          const rewriting = options.rewriteResponse !== undefined
          res.writeHead(upRes.statusCode ?? 502, rewriting ? rest : { ...rest, ...(length ? { 'content-length': length } : {}) })
          res.flushHeaders()
          upRes.setEncoding('utf8')
          upRes.on('data', (chunk: string) => {
            transcript.push(`< ${path}\n${chunk}`)
            res.write(rewriting ? options.rewriteResponse!(chunk, path) : chunk)
          })
          upRes.on('end', () => res.end())
          upRes.on('error', () => res.destroy())
        },
      )
      up.on('error', () => res.destroy())
      res.on('close', () => up.destroy())
      up.end(body)
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
    transcript: (api = false) =>
      transcript.filter((entry) => !api || /^[<>] (?:[A-Z]+ )?\/v1\//.test(entry)).join('\n'),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
