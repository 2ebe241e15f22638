#!/usr/bin/env node
// Runs the terminal client: from source through tsx in a checkout with dev dependencies, else the
// build (`npm run build` writes dist/node/parley.js), so an edit never runs against a stale build.
import { existsSync } from 'node:fs'

const built = new URL('../dist/node/parley.js', import.meta.url)
const tsx = await import('tsx/esm/api').catch(() => null)
if (tsx) {
  tsx.register()
  await import(new URL('../client/node/main.ts', import.meta.url).href)
} else if (existsSync(built)) {
  await import(built.href)
} else {
  process.stderr.write('parley: run `npm run build` first (or install dev dependencies for tsx)\n')
  process.exit(1)
}
