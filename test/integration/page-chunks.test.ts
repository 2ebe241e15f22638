import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DIST_CLIENT, rawRequest, startServer, type TestServer } from '../helpers'

// The page is split (build.mjs): what a room link needs before it joins loads with the page, the rest later
// (client/page/later.ts). Every piece must still be served like the page's script, and be in the offline shell.
const scripts = readdirSync(DIST_CLIENT).filter((f) => f.endsWith('.js') && f !== 'sw.js')
const html = readFileSync(join(DIST_CLIENT, 'index.html'), 'utf8')
const preloaded = [...html.matchAll(/<link rel="modulepreload" href="\/([^"]+)">/g)].map((m) => m[1])

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(() => server.close())

describe('the split page', () => {
  it('preloads what the room page imports statically and the shared worker; what it loads later, its script preloads once the join has left', () => {
    const later = scripts.filter((f) => /^room-extras-/.test(f))
    expect(later).toHaveLength(1)
    expect(preloaded).not.toContain(later[0])
    const app = scripts.find((f) => /^app-/.test(f))!
    expect(readFileSync(join(DIST_CLIENT, app), 'utf8')).toContain(`/${later[0]}`)
    expect(preloaded.length).toBeGreaterThan(0)
    // The join waits for the worker: its script comes with the page's, not one round trip after it runs.
    expect(preloaded).toContain(scripts.find((f) => /^worker-/.test(f)))
    for (const file of preloaded) expect(scripts).toContain(file)
  })

  it('serves every script, loaded at once or later, compressed and cached for good, its source map named in a header', async () => {
    for (const file of scripts) {
      const res = await rawRequest(`${server.url}/${file}`, { headers: { 'accept-encoding': 'gzip, deflate, br' } })
      expect(res.status, file).toBe(200)
      expect(res.headers['content-type'], file).toBe('text/javascript; charset=utf-8')
      expect(res.headers['cache-control'], file).toBe('public, max-age=31536000, immutable')
      if (readFileSync(join(DIST_CLIENT, file)).length >= 512) expect(res.headers['content-encoding'], file).toBe('br')
      // Developer tools find the map by the header; visitors do not download a comment naming it.
      expect(readFileSync(join(DIST_CLIENT, file), 'utf8'), file).not.toContain('sourceMappingURL')
      expect(res.headers.sourcemap, file).toBe(`${file}.map`)
      const map = await rawRequest(`${server.url}/${file}.map`)
      expect(map.status, file).toBe(200)
      expect((JSON.parse(map.body) as { sources: string[] }).sources.length, file).toBeGreaterThan(0)
    }
  })

  it('keeps every script in the service worker’s shell, so the page works offline after one visit', async () => {
    const sw = (await rawRequest(`${server.url}/sw.js`)).body
    for (const file of scripts) expect(sw, file).toContain(`"/${file}"`)
  })
})
