import { existsSync } from 'node:fs'

/** Browser tests load the real bundle: build it once per run. */
export default async function setup() {
  // @ts-expect-error build.mjs is plain JavaScript
  const { buildClient } = await import('../build.mjs')
  if (existsSync(new URL('../client/main.ts', import.meta.url))) await buildClient()
}
