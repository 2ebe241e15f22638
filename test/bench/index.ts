// `npm run bench`: prints figures; asserts nothing. BENCH_ONLY=connect|relay|capacity picks one.
import { gzipSync } from 'node:zlib'
import { readdirSync, readFileSync } from 'node:fs'
import { DIST_CLIENT } from '../helpers'
import { benchConnect } from './connect'
import { benchRelay } from './relay'
import { benchCapacity } from './capacity'

const only = process.env.BENCH_ONLY

function bundleSize() {
  const files = readdirSync(DIST_CLIENT)
  const size = (pattern: RegExp) => {
    const js = readFileSync(`${DIST_CLIENT}/${files.find((f) => pattern.test(f))!}`)
    return { raw: js.length, gz: gzipSync(js, { level: 9 }).length }
  }
  const parts = { app: size(/^app-.*\.js$/), worker: size(/^worker-.*\.js$/), 'service worker': size(/^sw\.js$/) }
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`
  const total = Object.values(parts).reduce((sum, p) => sum + p.gz, 0)
  console.log(
    `\nPage JavaScript, gzipped: ${Object.entries(parts).map(([name, p]) => `${name} ${kb(p.gz)} (${kb(p.raw)} raw)`).join(', ')}; ` +
      `in all ${kb(total)} (target ≤ 40 KB; peerjs.min.js 22.7 KB, simple-peer's own build 28 KB)`,
  )
}

bundleSize()
if (!only || only === 'connect') await benchConnect()
if (!only || only === 'relay') await benchRelay()
if (!only || only === 'capacity') await benchCapacity()
