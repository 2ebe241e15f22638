import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import { extname, join } from 'node:path'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'

// esbuild's `[name]-[hash]` names (build.mjs): such a file never changes, so browsers may keep it for good.
const HASHED_NAME = /-[A-Z0-9]{8}\.(?:js|css)(?:\.map)?$/
const HASHED_CACHE = 'public, max-age=31536000, immutable'
// The manifest, icons and sw.js keep their names across builds (sw.js must): an hour, as before.
const PLAIN_CACHE = 'public, max-age=3600'
// The page itself is never stored: no-store also keeps it out of the back/forward cache, where a frozen
// page would hold on to its room (and its tab's share of the signaling worker) until the browser evicts it.
const PAGE_CACHE = 'no-store'
// Below this, a compressed body saves less than the Content-Encoding and Vary headers cost.
const MIN_COMPRESS_BYTES = 512

const TYPES: Record<string, { type: string; compress: boolean }> = {
  '.html': { type: 'text/html; charset=utf-8', compress: true },
  '.js': { type: 'text/javascript; charset=utf-8', compress: true },
  '.css': { type: 'text/css; charset=utf-8', compress: true },
  '.map': { type: 'application/json; charset=utf-8', compress: true },
  '.svg': { type: 'image/svg+xml', compress: true },
  '.webmanifest': { type: 'application/manifest+json; charset=utf-8', compress: true },
  '.png': { type: 'image/png', compress: false },
}

type Encoding = 'br' | 'gzip' | 'identity'

/** One file as one encoding: its bytes and every header of a 200 answer, built once. */
interface Representation {
  body: Buffer
  etag: string
  headers: OutgoingHttpHeaders
}

interface PageFile {
  path: string
  type: string
  compress: boolean
  cacheControl: string
  /** Its source map's name, for developer tools (the build writes no sourceMappingURL comments). */
  sourceMap?: string
  /** Filled on first request: a file nobody asks for (a source map) is never read or compressed. */
  encodings: Partial<Record<Encoding, Representation>>
}

// Across every app of the process (tests build many): each file is read and compressed once, until it changes.
const compressed = new Map<string, Buffer>()

// The best compression costs ~1 ms per KB on the event loop, once per file: worth it for the page's
// scripts, not for a large source map that a request could make the server chew on.
const BROTLI_BEST_BELOW_BYTES = 256 * 1024
const brotliQuality = (bytes: number) => (bytes < BROTLI_BEST_BELOW_BYTES ? constants.BROTLI_MAX_QUALITY : 5)

function encode(file: PageFile, encoding: Encoding, identity: Buffer, version: string): Buffer {
  if (encoding === 'identity') return identity
  const key = `${file.path}\0${version}\0${encoding}`
  let body = compressed.get(key)
  if (!body) {
    body =
      encoding === 'br'
        ? brotliCompressSync(identity, { params: { [constants.BROTLI_PARAM_QUALITY]: brotliQuality(identity.length) } })
        : gzipSync(identity, { level: 9 })
    compressed.set(key, body)
  }
  return body
}

/** The strongest encoding the client accepts (a q of 0 refuses one); br before gzip, both smaller. */
export function pickEncoding(accept: string | undefined): Exclude<Encoding, 'identity'> | 'identity' {
  if (!accept) return 'identity'
  let gzip = false
  for (const part of accept.split(',')) {
    const [name = '', ...params] = part.trim().toLowerCase().split(';')
    const refused = params.some((p) => /^\s*q\s*=\s*0(?:\.0*)?\s*$/.test(p))
    if (refused) continue
    if (name === 'br') return 'br'
    if (name === 'gzip') gzip = true
  }
  return gzip ? 'gzip' : 'identity'
}

/** If-None-Match holding this entity tag (weak comparison, as for GET), or `*`. */
const notModified = (header: string | undefined, etag: string) =>
  header !== undefined && (header.trim() === '*' || header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag))

export type PageFiles = ReturnType<typeof createPageFiles>

/**
 * The built page (dist/client) served from memory: every file precompressed (br and gzip) on first
 * request, with a strong ETag per encoding, hashed names cached for good, and `securityHeaders` (the
 * page's policy) on every answer. `serve` answers GET/HEAD of a known file without a Range header and
 * returns true; anything else is left to the caller (Express still serves ranges and errors).
 */
export function createPageFiles(dir: string, securityHeaders: Readonly<Record<string, string>>) {
  const files = new Map<string, PageFile>()
  const names = new Set(readdirSync(dir))
  for (const name of names) {
    const kind = TYPES[extname(name)]
    if (!kind) continue
    const cacheControl = HASHED_NAME.test(name) ? HASHED_CACHE : PLAIN_CACHE
    const sourceMap = names.has(`${name}.map`) ? { sourceMap: `${name}.map` } : {}
    files.set(`/${name}`, { path: join(dir, name), ...kind, cacheControl, ...sourceMap, encodings: {} })
  }
  const index = files.get('/index.html')
  const page: PageFile | undefined = index && { ...index, cacheControl: PAGE_CACHE, encodings: {} }

  function representation(file: PageFile, wanted: Encoding): Representation {
    const encoding = file.compress ? wanted : 'identity'
    const known = file.encodings[encoding]
    if (known) return known
    const identity = readFileSync(file.path)
    const version = String(statSync(file.path).mtimeMs)
    let body = encode(file, encoding, identity, version)
    // A file too small to gain is sent as it is, under the identity tag.
    const used: Encoding =
      encoding !== 'identity' && (identity.length < MIN_COMPRESS_BYTES || body.length >= identity.length) ? 'identity' : encoding
    if (used === 'identity') body = identity
    const digest = createHash('sha256').update(identity).digest('base64url').slice(0, 27)
    const etag = `"${used === 'identity' ? digest : `${digest}-${used}`}"`
    const headers: OutgoingHttpHeaders = {
      ...securityHeaders,
      'Content-Type': file.type,
      'Content-Length': body.length,
      'Cache-Control': file.cacheControl,
      ETag: etag,
      ...(file.compress ? { Vary: 'Accept-Encoding' } : {}),
      ...(used === 'identity' ? {} : { 'Content-Encoding': used }),
      ...(file.sourceMap ? { SourceMap: file.sourceMap } : {}),
    }
    const made: Representation = { body, etag, headers }
    file.encodings[encoding] = made
    return made
  }

  return {
    /** The page for `/` and `/r/<room>`; false when the build has none. */
    hasPage: page !== undefined,
    serve(req: IncomingMessage, res: ServerResponse, path: string, asPage: boolean): boolean {
      if ((req.method !== 'GET' && req.method !== 'HEAD') || req.headers.range !== undefined) return false
      const file = asPage ? page : files.get(path)
      if (!file) return false
      let chosen: Representation
      try {
        chosen = representation(file, pickEncoding(req.headers['accept-encoding']))
      } catch {
        // Gone or unreadable since start (a rebuild under a running server): Express answers it (404).
        return false
      }
      if (notModified(req.headers['if-none-match'], chosen.etag)) {
        const { 'Content-Length': _length, 'Content-Type': _type, 'Content-Encoding': _encoding, ...unchanged } = chosen.headers
        res.writeHead(304, unchanged)
        res.end()
        return true
      }
      res.writeHead(200, chosen.headers)
      res.end(req.method === 'HEAD' ? undefined : chosen.body)
      return true
    },
  }
}
