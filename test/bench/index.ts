// `npm run bench`: prints figures; asserts nothing. BENCH_ONLY=connect|relay|capacity picks one.
import { gzipSync } from 'node:zlib'
import { readdirSync, readFileSync } from 'node:fs'
import { DIST_CLIENT } from '../helpers'
import { benchConnect } from './connect'
import { benchRelay } from './relay'
import { benchCapacity } from './capacity'

const only = process.env.BENCH_ONLY

function bundleSize() {
  const script = readdirSync(DIST_CLIENT).find((f) => /^app-.*\.js$/.test(f))!
  const js = readFileSync(`${DIST_CLIENT}/${script}`)
  const gz = gzipSync(js, { level: 9 }).length
  console.log(`\nPage JavaScript: ${(js.length / 1024).toFixed(1)} KB raw, ${(gz / 1024).toFixed(1)} KB gzipped ` +
    `(target ≤ 30 KB; peerjs.min.js 22.7 KB, simple-peer's own build 28 KB)`)
}

bundleSize()
if (!only || only === 'connect') await benchConnect()
if (!only || only === 'relay') await benchRelay()
if (!only || only === 'capacity') await benchCapacity()
