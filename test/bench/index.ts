// `npm run bench`: prints figures; asserts nothing. BENCH_ONLY=connect|delay|relay|capacity picks one.

import { readdirSync, readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { DIST_CLIENT } from '../helpers'
import { benchCapacity } from './capacity'
import { benchConnect } from './connect'
import { benchDelay } from './delay'
import { benchRelay } from './relay'
import { benchRelayClosedLoop } from './relay-closed'
import { table } from './stats'

const only = process.env.BENCH_ONLY
const BENCHES = ['connect', 'delay', 'relay', 'capacity']
if (only && !BENCHES.includes(only)) throw new Error(`BENCH_ONLY=${only}: expected one of ${BENCHES.join(', ')}`)
const TARGET_GZIP_KB = 40
const PARTS: Array<[string, RegExp]> = [
  ['app', /^app-.*\.js$/],
  ['worker', /^worker-.*\.js$/],
  ['shared chunk', /^chunk-.*\.js$/],
  ['loaded later', /^(?!app-|worker-|chunk-|sw\.).*\.js$/],
  ['service worker', /^sw.*\.js$/],
]

function bundleSize() {
  const files = readdirSync(DIST_CLIENT)
  let raw = 0
  let gzipped = 0
  const rows: string[][] = []
  for (const [part, pattern] of PARTS) {
    for (const file of files.filter((f) => pattern.test(f))) {
      const js = readFileSync(`${DIST_CLIENT}/${file}`)
      const gz = gzipSync(js, { level: 9 }).length
      raw += js.length
      gzipped += gz
      rows.push([`${part} (${file})`, `${(js.length / 1024).toFixed(1)} KB`, `${(gz / 1024).toFixed(1)} KB`])
    }
  }
  rows.push(['total', `${(raw / 1024).toFixed(1)} KB`, `${(gzipped / 1024).toFixed(1)} KB`])
  console.log(
    `\nPage JavaScript (target ≤ ${TARGET_GZIP_KB} KB gzipped: ${gzipped / 1024 <= TARGET_GZIP_KB ? 'met' : 'NOT met'}; ` +
      "peerjs.min.js 22.7 KB, simple-peer's own build 28 KB)",
  )
  table(['file', 'raw', 'gzipped'], rows)
}

bundleSize()
if (!only || only === 'connect') await benchConnect()
if (!only || only === 'delay') await benchDelay()
if (!only || only === 'relay') {
  await benchRelay()
  await benchRelayClosedLoop()
}
if (!only || only === 'capacity') await benchCapacity()
