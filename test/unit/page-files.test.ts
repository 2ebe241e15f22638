import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPageFiles, pickEncoding } from '../../signaling/page-files'

const SCRIPT = `console.log(${JSON.stringify('x'.repeat(4000))})\n`
const dir = mkdtempSync(join(tmpdir(), 'parley-page-'))
let base = ''
const server = createServer((req, res) => {
  const path = req.url!
  if (!files.serve(req, res, path, path === '/')) res.writeHead(404).end()
})
let files: ReturnType<typeof createPageFiles>

beforeAll(async () => {
  writeFileSync(join(dir, 'index.html'), `<!doctype html><script src="/app-ABCD1234.js"></script>${' '.repeat(600)}`)
  writeFileSync(join(dir, 'app-ABCD1234.js'), SCRIPT)
  writeFileSync(join(dir, 'app-ABCD1234.js.map'), '{"version":3,"sources":[],"mappings":""}')
  writeFileSync(join(dir, 'sw.js'), SCRIPT)
  writeFileSync(join(dir, 'icon-192.png'), Buffer.alloc(2000, 7))
  files = createPageFiles(dir, { 'X-Frame-Options': 'DENY' })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(() => {
  server.close()
  rmSync(dir, { recursive: true, force: true })
})

function get(path: string, headers: Record<string, string> = {}, method = 'GET') {
  return new Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const req = request(`${base}${path}`, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('pickEncoding', () => {
  it('prefers br, then gzip, and honours q=0 and absent headers', () => {
    expect(pickEncoding('gzip, deflate, br, zstd')).toBe('br')
    expect(pickEncoding('gzip')).toBe('gzip')
    expect(pickEncoding('br;q=0, gzip;q=0.5')).toBe('gzip')
    expect(pickEncoding('br;q=0.0, gzip;q=0')).toBe('identity')
    expect(pickEncoding(undefined)).toBe('identity')
    expect(pickEncoding('')).toBe('identity')
  })
})

describe('page files', () => {
  it('serves each encoding the client accepts, byte for byte the file, with its own strong ETag', async () => {
    const plain = await get('/app-ABCD1234.js')
    const gzip = await get('/app-ABCD1234.js', { 'accept-encoding': 'gzip' })
    const br = await get('/app-ABCD1234.js', { 'accept-encoding': 'gzip, deflate, br' })
    expect(plain.body.toString()).toBe(SCRIPT)
    expect(plain.headers['content-encoding']).toBeUndefined()
    expect(gzip.headers['content-encoding']).toBe('gzip')
    expect(gunzipSync(gzip.body).toString()).toBe(SCRIPT)
    expect(br.headers['content-encoding']).toBe('br')
    expect(brotliDecompressSync(br.body).toString()).toBe(SCRIPT)
    const tags = [plain, gzip, br].map((r) => r.headers.etag)
    for (const tag of tags) expect(tag).toMatch(/^"[^"]+"$/)
    expect(new Set(tags).size).toBe(3)
    for (const r of [plain, gzip, br]) {
      expect(r.headers.vary).toBe('Accept-Encoding')
      expect(r.headers['x-frame-options']).toBe('DENY')
      expect(Number(r.headers['content-length'])).toBe(r.body.length)
    }
  })

  it("names a file's source map in a SourceMap header, for developer tools, and no map where it has none", async () => {
    expect((await get('/app-ABCD1234.js', { 'accept-encoding': 'br' })).headers.sourcemap).toBe('app-ABCD1234.js.map')
    expect((await get('/app-ABCD1234.js')).headers.sourcemap).toBe('app-ABCD1234.js.map')
    expect((await get('/sw.js')).headers.sourcemap).toBeUndefined()
    const map = await get('/app-ABCD1234.js.map')
    expect(map.status).toBe(200)
    expect(map.headers.sourcemap).toBeUndefined()
  })

  it('caches hashed names for good, other files for an hour, and never stores the page', async () => {
    expect((await get('/app-ABCD1234.js')).headers['cache-control']).toBe('public, max-age=31536000, immutable')
    expect((await get('/sw.js')).headers['cache-control']).toBe('public, max-age=3600')
    const page = await get('/')
    expect(page.headers['cache-control']).toBe('no-store')
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8')
  })

  it('answers a matching If-None-Match with 304 and no body, and a stale one with the file', async () => {
    const first = await get('/app-ABCD1234.js', { 'accept-encoding': 'br' })
    const again = await get('/app-ABCD1234.js', { 'accept-encoding': 'br', 'if-none-match': `"stale", ${first.headers.etag}` })
    expect(again.status).toBe(304)
    expect(again.body.length).toBe(0)
    expect(again.headers.etag).toBe(first.headers.etag)
    const stale = await get('/app-ABCD1234.js', { 'accept-encoding': 'br', 'if-none-match': '"stale"' })
    expect(stale.status).toBe(200)
  })

  it('sends images as they are, HEAD without a body, and leaves ranges, other methods and unknown paths to the caller', async () => {
    const png = await get('/icon-192.png', { 'accept-encoding': 'br' })
    expect(png.headers['content-encoding']).toBeUndefined()
    expect(png.headers.vary).toBeUndefined()
    expect(png.body.length).toBe(2000)
    const head = await get('/app-ABCD1234.js', {}, 'HEAD')
    expect(head.status).toBe(200)
    expect(head.body.length).toBe(0)
    expect(Number(head.headers['content-length'])).toBe(SCRIPT.length)
    expect((await get('/app-ABCD1234.js', { range: 'bytes=0-1' })).status).toBe(404)
    expect((await get('/app-ABCD1234.js', {}, 'POST')).status).toBe(404)
    expect((await get('/nope.js')).status).toBe(404)
  })

  it('leaves a file gone since start to the caller instead of throwing (a rebuild under a running server)', async () => {
    writeFileSync(join(dir, 'gone-EFGH5678.js'), SCRIPT)
    const later = createPageFiles(dir, {})
    rmSync(join(dir, 'gone-EFGH5678.js'))
    const req = { method: 'GET', headers: { 'accept-encoding': 'br' } } as unknown as Parameters<typeof later.serve>[0]
    expect(later.serve(req, {} as Parameters<typeof later.serve>[1], '/gone-EFGH5678.js', false)).toBe(false)
  })
})
