import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { DIST_CLIENT } from '../helpers'

// The page's download budget (test/bench/README.md: page JavaScript ≤ 40 KB gzipped), measured as the bench does:
// Node zlib at level 9 over the built files (test/global-setup.ts builds them before any test).
const PAGE_JS_BUDGET_GZIP_BYTES = 40 * 1024

describe('page JavaScript budget', () => {
  it('app, shared worker, service worker and every chunk, loaded at once or later, fit in 40 KB gzipped', () => {
    // Every script in the build counts, so code moved into a chunk (room-extras: loaded after the join) is still paid for.
    const scripts = readdirSync(DIST_CLIENT).filter((f) => f.endsWith('.js'))
    for (const part of [/^app-/, /^worker-/, /^room-extras-/, /^sw\.js$/]) expect(scripts.some((f) => part.test(f))).toBe(true)
    const sizes = Object.fromEntries(scripts.map((f) => [f, gzipSync(readFileSync(join(DIST_CLIENT, f)), { level: 9 }).length]))
    const total = Object.values(sizes).reduce((a, b) => a + b, 0)
    expect(total, JSON.stringify(sizes)).toBeLessThanOrEqual(PAGE_JS_BUDGET_GZIP_BYTES)
  })
})
