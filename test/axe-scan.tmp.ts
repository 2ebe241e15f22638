import { readFileSync } from 'node:fs'
import type { Page } from 'puppeteer'
import { roomLink, startServer } from './helpers'
import { closeAll, launchPeople, say, waitForConnected, waitForMessage } from './browsers'

const axe = readFileSync('node_modules/axe-core/axe.min.js', 'utf8')
async function scan(page: Page, label: string) {
  const out: string[] = []
  for (const scheme of ['light', 'dark']) {
    await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: scheme }])
    await page.evaluate(axe)
    const res = (await page.evaluate(() => (window as any).axe.run())) as any
    const bad = res.violations.filter((v: any) => v.impact === 'serious' || v.impact === 'critical')
    out.push(`${label} ${scheme}: ${res.violations.length} violations, ${bad.length} serious/critical: ${res.violations.map((v: any) => `${v.id}(${v.impact},${v.nodes.length})`).join(' ')}`)
  }
  console.log(out.join('\n'))
}
const server = await startServer({ iceServers: [] })
const [a, b] = await launchPeople(2)
try {
  await a!.page.goto(server.url)
  await scan(a!.page, 'landing')
  const link = roomLink(server.url)
  await a!.page.goto(link)
  await a!.page.waitForFunction(() => window.parley?.status === 'online', { polling: 50 })
  await scan(a!.page, 'alone')
  await b!.page.goto(link)
  await waitForConnected(a!.page, 1)
  await say(a!.page, 'Hey Ben')
  await say(b!.page, 'Hey Ana https://example.com')
  await waitForMessage(a!.page, 'Hey Ana https://example.com')
  await scan(a!.page, 'chatting')
  await a!.page.goto(`${server.url}/r/abcdef`)
  await scan(a!.page, 'banner')
} finally {
  await closeAll([a!, b!])
  await server.close()
}
