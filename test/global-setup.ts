import { existsSync } from 'node:fs'

/** Browser tests load the real bundle, and some run the built server as its own process: build both. */
export default async function setup() {
  // @ts-expect-error build.mjs is plain JavaScript
  const { buildClient, buildServer } = await import('../build.mjs')
  await buildServer()
  if (existsSync(new URL('../client/page/main.ts', import.meta.url))) await buildClient()
}
