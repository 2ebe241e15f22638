// Builds dist/signaling (the server, one ESM file), dist/client (the chat page) and dist/node (the
// terminal client), with esbuild. `node build.mjs [server|client|node]` builds one part; no argument, all.

import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { basename } from 'node:path'
import { Script } from 'node:vm'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'
import { minify } from 'terser'
import { simplePeerForPage } from './client/shims/simple-peer.mjs'

const root = new URL('.', import.meta.url).pathname
const part = process.argv[2]

/** One ESM file for Node; its packages (@roamhq/wrtc's native module among them) stay external. */
const buildForNode = (entry, outfile) =>
  build({
    entryPoints: [`${root}${entry}`],
    outfile: `${root}${outfile}`,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: true,
    logLevel: 'warning',
  })

export async function buildServer() {
  await buildForNode('signaling/main.ts', 'dist/signaling/main.js')
}

/** The terminal client (`parley chat`). */
export async function buildNode() {
  await buildForNode('client/node/main.ts', 'dist/node/parley.js')
}

/** simple-peer's Node-stream heritage, replaced by browser-sized stand-ins (see client/shims). */
const SHIMS = {
  'readable-stream': `${root}client/shims/readable-stream.ts`,
  randombytes: `${root}client/shims/randombytes.ts`,
  buffer: `${root}client/shims/buffer.ts`,
  'err-code': `${root}client/shims/err-code.ts`,
  'get-browser-rtc': `${root}client/shims/get-browser-rtc.ts`,
}

/**
 * A second minifier over esbuild's output: terser names identifiers by how often each is used and runs
 * more compression passes: 1.7 KB gzipped less page JavaScript than esbuild alone for the same code.
 * `ascii_only` keeps esbuild's \u escapes, which gzip packs tighter than raw UTF-8. `unsafe` (63 bytes
 * gzipped here) writes `String(x)` as `""+x` and drops `new` before `Error` and `RegExp`: the same for
 * the numbers and booleans every `String()` of ours converts; a thrown Symbol (room.ts `String(err)`)
 * would throw there instead, and nothing throws one.
 */
async function minifyAgain(file, { module }) {
  const code = readFileSync(file, 'utf8')
  const mapFile = `${file}.map`
  const linked = existsSync(mapFile)
  const result = await minify(code, {
    module,
    ecma: 2020,
    // `pure_getters`: reading a property has no side effect (17 bytes gzipped); checked on the output: it only
    // inlines reads and drops unused ones, and nothing of ours or simple-peer's reads a property for its effect.
    compress: { passes: 3, unsafe: true, pure_getters: true },
    format: { ascii_only: true },
    // No `url`: no sourceMappingURL comment (the server names the map in a SourceMap header instead).
    sourceMap: linked && { content: readFileSync(mapFile, 'utf8') },
  })
  writeFileSync(file, result.code)
  if (linked) writeFileSync(mapFile, result.map)
}

/** The scripts `file` imports statically, at any depth (esbuild's metafile), by file name. */
function staticImports(result, file, found = new Set()) {
  const output = Object.entries(result.metafile.outputs).find(([f]) => basename(f) === file)?.[1]
  for (const { path, kind } of output?.imports ?? []) {
    const name = basename(path)
    if (kind !== 'import-statement' || found.has(name)) continue
    found.add(name)
    staticImports(result, name, found)
  }
  return found
}

/** What `file` imports dynamically, with what those import statically that `file` does not already load. */
function loadedLater(result, file) {
  const output = Object.entries(result.metafile.outputs).find(([f]) => basename(f) === file)?.[1]
  const loaded = staticImports(result, file)
  const later = new Set()
  for (const { path, kind } of output?.imports ?? []) {
    if (kind !== 'dynamic-import') continue
    later.add(basename(path))
    for (const name of staticImports(result, basename(path))) if (!loaded.has(name)) later.add(name)
  }
  return [...later]
}

/** Served as they are from the origin root: the manifest and the icons it names. */
const STATIC_FILES = ['manifest.webmanifest', 'icon-192.png', 'icon-512.png']

export async function buildClient() {
  const out = `${root}dist/client`
  rmSync(out, { recursive: true, force: true })
  mkdirSync(out, { recursive: true })
  const common = {
    outdir: out,
    entryNames: '[name]-[hash]',
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome110', 'firefox115', 'safari16'],
    alias: SHIMS,
    plugins: [simplePeerForPage],
    // Maps beside the files, named by the server's SourceMap header (signaling/page-files.ts), not by a
    // comment in every script: the comments were 166 bytes of the page's JavaScript gzipped (their hashed
    // names do not compress), which every visitor downloads and only a developer's tools read.
    sourcemap: 'external',
    metafile: true,
    legalComments: 'none',
    // simple-peer keeps its state in `_`-prefixed properties, read only by itself, the stream stand-in and
    // webrtc.ts (all in this bundle): short names for them save 0.3 KB gzipped. No wire field starts with `_`.
    mangleProps: /^_[a-zA-Z]/,
    logLevel: 'warning',
  }
  // The page and the shared worker in one build, so the signaling client both run (the page falls back to
  // its own when SharedWorker is missing or wedged) ships once, as a chunk both import: 1.9 KB gzipped less.
  // The page needs the worker's content-hashed URL, and those of the scripts it loads later (to preload them
  // once its join has left, see client/page/later.ts); none depends on the page: a first build learns them,
  // the second bakes them in.
  const scripts = {
    ...common,
    splitting: true,
    entryPoints: { app: `${root}client/page/main.ts`, worker: `${root}client/worker/worker.ts` },
  }
  const named = (result, pattern) =>
    Object.keys(result.metafile.outputs)
      .map((f) => basename(f))
      .filter((f) => pattern.test(f))
  const probe = await build({ ...scripts, write: false, define: { __PARLEY_WORKER__: '""', __PARLEY_LATER__: '""' } })
  const [worker] = named(probe, /^worker-.*\.js$/)
  const later = loadedLater(probe, named(probe, /^app-.*\.js$/)[0])
  const result = await build({
    ...scripts,
    define: {
      __PARLEY_WORKER__: JSON.stringify(`/${worker}`),
      __PARLEY_LATER__: JSON.stringify(later.map((f) => `/${f}`).join(' ')),
    },
  })
  if (named(result, /^worker-.*\.js$/)[0] !== worker) throw new Error('the worker changed with its own URL')
  const [script] = named(result, /^app-.*\.js$/)
  if (loadedLater(result, script).join() !== later.join()) throw new Error('a script loaded later changed with its own URL')
  // Every other script: the chunks the page and the worker share, and what the page imports dynamically
  // (room-extras) with the chunks only it uses.
  const chunks = named(result, /\.js$/).filter((f) => f !== script && f !== worker)
  for (const file of [script, worker, ...chunks]) await minifyAgain(`${out}/${file}`, { module: true })
  const styleBuild = await build({ ...common, entryPoints: { style: `${root}client/page/style.css` } })
  const [style] = named(styleBuild, /^style-.*\.css$/)
  // What the page's script imports statically loads with it, not one round trip after it; what it imports
  // dynamically loads when asked for (later.ts, main.ts). So does the shared worker's script: the page
  // starts the worker as it runs and the join waits for it, and the worker's fetch finds it in the HTTP cache.
  const preloads = [...staticImports(result, script), worker].map((f) => `<link rel="modulepreload" href="/${f}">`).join('\n  ')
  const html = readFileSync(`${root}client/page/index.html`, 'utf8')
    .replace('{{app.js}}', `/${script}`)
    .replace('{{style.css}}', `/${style}`)
    .replace('{{modulepreload}}', preloads)
  writeFileSync(`${out}/index.html`, html)
  for (const file of STATIC_FILES) copyFileSync(`${root}client/page/${file}`, `${out}/${file}`)
  // The service worker keeps this build's shell; its cache is named for the build, so a new build
  // replaces it cleanly. It stays at /sw.js (not hashed): its scope is the whole origin, /r/* included.
  const shell = [script, style, worker, ...chunks, ...STATIC_FILES].map((f) => `/${f}`)
  const version = createHash('sha256').update(shell.join('\n')).update(html).digest('hex').slice(0, 12)
  await build({
    ...common,
    entryNames: '[name]',
    metafile: false,
    sourcemap: false,
    define: { __PARLEY_SHELL__: JSON.stringify(shell), __PARLEY_VERSION__: JSON.stringify(version) },
    // Not wrapped in a function (format 'iife'): the worker's scope runs nothing else, so its few top-level
    // names may be globals. It is registered as a classic script, so it must import and export nothing (checked).
    format: 'esm',
    entryPoints: { sw: `${root}client/page/sw.ts` },
  })
  await minifyAgain(`${out}/sw.js`, { module: false })
  try {
    new Script(readFileSync(`${out}/sw.js`, 'utf8'))
  } catch (err) {
    throw new Error(`dist/client/sw.js does not parse as a classic script (an import or export?): ${err.message}`)
  }
  const sizes = [script, worker, ...chunks, 'sw.js'].map((file) => {
    const js = readFileSync(`${out}/${file}`)
    return { file, bytes: js.length, gzipBytes: gzipSync(js, { level: 9 }).length }
  })
  return { script, sizes }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (part === undefined || part === 'server') await buildServer()
  if (part === undefined || part === 'node') await buildNode()
  if ((part === undefined || part === 'client') && existsSync(`${root}client/page/main.ts`)) {
    const { sizes } = await buildClient()
    const kb = (n) => `${(n / 1024).toFixed(1)} KB`
    const total = sizes.reduce((sum, s) => sum + s.gzipBytes, 0)
    const each = sizes.map((s) => `${s.file} ${kb(s.bytes)}, ${kb(s.gzipBytes)} gzipped`)
    console.log(`client: ${each.join('; ')}; in all ${kb(total)} gzipped`)
  }
}
