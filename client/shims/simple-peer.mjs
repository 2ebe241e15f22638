// simple-peer as the page bundles it (build.mjs): its source, less what a data-channel-only mesh never runs.
// The cuts were checked against one release's source, and some match a span by pattern (a method's body),
// which an edit inside it would not stop: so the build accepts that exact source only (its SHA-256), and
// fails on any other version until these cuts are checked again. Each cut must also match exactly once,
// and no name it removes may be left behind. The terminal client (dist/node) loads simple-peer untouched.
// https://github.com/feross/simple-peer/blob/v9.11.1/index.js
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { CUTS, DEBUG_AND_MODULE } from './simple-peer-cuts.mjs'

/**
 * simple-peer's debug calls (41; 24 after the cuts of simple-peer-cuts.mjs) go nowhere in the page, but
 * their strings and arguments would still ship: about 0.7 KB gzipped. Each `this._debug(…)` becomes
 * `void 0`, then DEBUG_AND_MODULE drops the method.
 */
const withoutDebugCalls = (source) => source.replace(/this\._debug\((?:[^()]|\([^()]*\))*\)/g, 'void 0')

/**
 * What of simple-peer's errors nothing reads. The page reads one error code, ERR_PC_CONSTRUCTOR (room.ts: a
 * browser that refuses peer connections), and otherwise ignores a peer's 'error' event ('close' follows
 * each, peer-link.ts): every other `errCode(err, 'ERR_…')` tag goes (187 bytes gzipped), and so do the
 * messages of the errors simple-peer only destroys itself with, which that event alone carries (65 bytes, and
 * 34 of a data channel's).
 * What it throws keeps its message (a page without WebRTC says why, room.ts).
 */
const READ_CODES = ['ERR_PC_CONSTRUCTOR']
function withoutUnreadErrors(source) {
  const out = source
    .replace(/errCode\(([^\n]*), '(ERR_\w+)'\)/g, (call, err, code) => (READ_CODES.includes(code) ? call : err))
    .replace(/this\.destroy\(new Error\([^\n]*\)\)/g, 'this.destroy(new Error())')
    .replace(/new Error\(`Datachannel error: [^`]*`\)/, 'new Error()')
  const left = out.match(/ERR_\w+/g) ?? []
  if (left.join() !== READ_CODES.join() || out.includes('Datachannel error'))
    throw new Error(
      `simple-peer (errors): expected only ${READ_CODES} and no data channel error message after the cuts, found ${left}; re-check client/shims/simple-peer.mjs`,
    )
  return out
}

/**
 * Removes each cut, or replaces it where it comes as [cut, replacement], exactly one match each; then checks
 * that none of `names` is still mentioned.
 */
function trim(source, { label, names, cuts }) {
  let out = source
  for (const entry of cuts) {
    const [cut, replacement] = Array.isArray(entry) ? entry : [entry, '']
    const found = typeof cut === 'string' ? out.split(cut).length - 1 : (out.match(cut) ?? []).length
    if (found !== 1)
      throw new Error(
        `simple-peer (${label}): expected one ${typeof cut === 'string' ? JSON.stringify(cut) : cut} in its source, found ${found}; re-check client/shims/simple-peer.mjs`,
      )
    out = out.replace(cut, replacement)
  }
  const left = names.filter((name) => new RegExp(`\\b${name}\\b`).test(out))
  if (left.length)
    throw new Error(`simple-peer (${label}): still mentions ${left.join(', ')} after the cuts; re-check client/shims/simple-peer.mjs`)
  return out
}

const CHECKED_SOURCE_SHA256 = '998fe9c7ff592d9a396591dca90878ce429d0bbe44aec467f3befeca067b1c52'

/** The esbuild plugin that serves simple-peer's index.js trimmed for the page. */
export const simplePeerForPage = {
  name: 'simple-peer-for-page',
  setup(esbuild) {
    esbuild.onLoad({ filter: /simple-peer[\\/]index\.js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8')
      if (createHash('sha256').update(source).digest('hex') !== CHECKED_SOURCE_SHA256) {
        throw new Error(
          `simple-peer's ${args.path} is not the 9.11.1 source these cuts were checked against: re-check client/shims/simple-peer.mjs`,
        )
      }
      const contents = trim(withoutUnreadErrors(withoutDebugCalls(CUTS.reduce(trim, source))), DEBUG_AND_MODULE)
      // The EventEmitter stand-in (events.ts) has on and emit only.
      const listener = contents.match(
        /\.(once|removeListener|off|addListener|removeAllListeners|prependListener|prependOnceListener|listeners|listenerCount)\(/,
      )
      if (listener) throw new Error(`simple-peer calls ${listener[1]}, which client/shims/events.ts lacks`)
      return { resolveDir: dirname(args.path), contents, loader: 'js' }
    })
  },
}
