import type { Page } from 'puppeteer'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { closeAll, launchPeople, type Person, say, waitForConnected, waitForMessage } from '../browsers'
import { roomLink, startServer, type TestServer } from '../helpers'
import { type Service, startCoturn } from '../services'

// Two separate Chromium processes allowed to use only TURN relay candidates talk through a real coturn
// that shares a secret with Parley; each browser only ever holds its own expiring credentials.
const TURN_SECRET = `turn-secret-${Date.now()}`

/** Before the page's scripts: relay-only ICE, and a record of candidates and candidate errors. */
const RELAY_ONLY = `(() => {
  const PC = window.RTCPeerConnection
  const seen = (window.__ice = { candidates: [], errors: [], pcs: [] })
  window.RTCPeerConnection = function (config, ...rest) {
    const pc = new PC({ ...config, iceTransportPolicy: 'relay' }, ...rest)
    seen.pcs.push(pc)
    pc.addEventListener('icecandidate', (e) => e.candidate && seen.candidates.push(e.candidate.type))
    pc.addEventListener('icecandidateerror', (e) => seen.errors.push(e.errorCode))
    return pc
  }
  window.RTCPeerConnection.prototype = PC.prototype
  window.RTCPeerConnection.generateCertificate = PC.generateCertificate.bind(PC)
})()`

declare global {
  interface Window {
    __ice: { candidates: string[]; errors: number[]; pcs: RTCPeerConnection[] }
  }
}

let coturn: Service
let people: Person[] = []
const servers: TestServer[] = []

beforeAll(async () => {
  ;[coturn, people] = await Promise.all([startCoturn(TURN_SECRET), launchPeople(2)])
  await Promise.all(people.map((p) => p.page.evaluateOnNewDocument(RELAY_ONLY)))
})
afterAll(async () => {
  await closeAll(people)
  await Promise.all(servers.map((s) => s.close()))
  await coturn?.stop()
})

async function parleyWithTurn(ttlS: number) {
  const server = await startServer({
    iceServers: [],
    turn: { urls: [`turn:127.0.0.1:${coturn.port}?transport=udp`], secret: TURN_SECRET, ttlS },
  })
  servers.push(server)
  return server
}

/** The candidate types of the pair each open connection selected, read from getStats. */
const selectedPairTypes = (page: Page) =>
  page.evaluate(async () => {
    const types: string[][] = []
    for (const pc of window.__ice.pcs.filter((pc) => pc.connectionState === 'connected')) {
      const stats = [...(await pc.getStats()).values()] as Array<Record<string, unknown>>
      const byId = new Map(stats.map((s) => [s.id, s]))
      const transport = stats.find((s) => s.type === 'transport' && s.selectedCandidatePairId)
      const pair = byId.get(transport?.selectedCandidatePairId)
      if (pair) types.push([byId.get(pair.localCandidateId)?.candidateType, byId.get(pair.remoteCandidateId)?.candidateType] as string[])
    }
    return types
  })

it('two relay-only browsers chat through coturn, and the page says the link is relayed', async () => {
  const server = await parleyWithTurn(600)
  const link = roomLink(server.url)
  await Promise.all(people.map((p) => p.page.goto(link)))
  await Promise.all(people.map((p) => waitForConnected(p.page, 1)))
  await say(people[0]!.page, 'through the relay')
  await waitForMessage(people[1]!.page, 'through the relay')

  for (const person of people) {
    expect(await selectedPairTypes(person.page)).toEqual([['relay', 'relay']])
    await person.page.waitForFunction(
      () => document.querySelector('ul[aria-label="People"] li')?.getAttribute('data-route') === 'relayed',
      { polling: 50, timeout: 10_000 },
    )
    expect(await person.page.$eval('ul[aria-label="People"] .state', (e) => e.textContent)).toBe('online (relayed)')
  }
  // Each browser was handed credentials of its own: "<expiry>:<its peer id>".
  const usernames = await Promise.all(
    people.map((p) => p.page.evaluate(() => window.__ice.pcs.map((pc) => pc.getConfiguration().iceServers?.[0]?.username))),
  )
  const selves = await Promise.all(people.map((p) => p.page.evaluate(() => window.parley!.self.id)))
  for (const [i, names] of usernames.entries()) {
    for (const name of names.filter(Boolean)) expect(name).toMatch(new RegExp(`^\\d+:${selves[i]}$`))
  }
})

it('refuses expired credentials: coturn answers 401 and nothing connects through it', async () => {
  const server = await parleyWithTurn(-60) // expired the moment they are issued
  const link = roomLink(server.url)
  await Promise.all(people.map((p) => p.page.goto(link)))
  for (const person of people) {
    await person.page.waitForFunction(() => window.__ice.errors.includes(401), { polling: 50, timeout: 15_000 })
    expect(await person.page.evaluate(() => window.__ice.candidates.filter((t) => t === 'relay'))).toEqual([])
    expect(await person.page.evaluate(() => window.parley!.stats().connections)).toBeLessThanOrEqual(1)
    expect(await person.page.$$eval('ul[aria-label="People"] li[data-state="connected"]', (rows) => rows.length)).toBe(0)
  }
})
