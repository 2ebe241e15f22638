import { spawn } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import {
  join,
  postJson,
  randomRoom,
  SERVER_MAIN,
  type ServerProcess,
  SseClient,
  spawnServer,
  startServer,
  streamUrl,
  type TestServer,
  within,
} from '../helpers'

const servers: Array<TestServer | ServerProcess> = []
const streams: SseClient[] = []
afterEach(async () => {
  for (const s of streams.splice(0)) s.close()
  await Promise.all(servers.splice(0).map((s) => ('close' in s ? s.close() : s.stop('SIGKILL'))))
})

/** Value of one metric sample in Prometheus text format (0 when absent). */
function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `))
  return line ? Number(line.split(' ').pop()) : 0
}

describe('metrics and health', () => {
  it('exports rooms, peers, streams, relays, errors, rate limits, replays and TURN credentials', async () => {
    const server = await startServer({
      signalBurst: 2,
      signalsPerSec: 0.01,
      turn: { urls: ['turn:127.0.0.1:3478'], secret: 'x', ttlS: 600 },
    })
    servers.push(server)
    const room = randomRoom()
    const a = await join(server.api, room)
    const b = await join(server.api, room)
    const stream = await SseClient.open(streamUrl(server.api, a))
    streams.push(stream)
    await stream.next('roster')
    await postJson(`${server.api}/signal`, { peer: b.peer, to: a.peer, data: 1 }, b.token)
    await postJson(`${server.api}/signal`, { peer: b.peer, to: a.peer, data: 2 }, b.token)
    expect((await postJson(`${server.api}/signal`, { peer: b.peer, to: a.peer, data: 3 }, b.token)).status).toBe(429)
    expect((await postJson(`${server.api}/signal`, { peer: b.peer, to: a.peer, data: 4 })).status).toBe(401)
    await stream.until(() => stream.ofType('signal').length === 2, 3_000, 'two signals')
    const last = stream.lastEventId!
    stream.close()
    await stream.closedPromise()
    await postJson(`${server.api}/leave`, { peer: b.peer }, b.token)
    const resumed = await SseClient.open(streamUrl(server.api, a, last))
    streams.push(resumed)
    await resumed.next('peer-left')

    const res = await fetch(`${server.url}/metrics`)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    const text = await res.text()
    expect(sample(text, 'parley_rooms')).toBe(1)
    expect(sample(text, 'parley_peers')).toBe(1)
    expect(sample(text, 'parley_streams')).toBe(1)
    expect(sample(text, 'parley_joins_total')).toBe(2)
    expect(sample(text, 'parley_leaves_total', 'reason="leave"')).toBe(1)
    expect(sample(text, 'parley_signals_relayed_total')).toBe(2)
    expect(sample(text, 'parley_errors_total', 'code="RATE_LIMITED"')).toBe(1)
    expect(sample(text, 'parley_errors_total', 'code="UNAUTHORIZED"')).toBe(1)
    expect(sample(text, 'parley_rate_limited_total')).toBe(1)
    expect(sample(text, 'parley_resume_replayed_events_total')).toBeGreaterThanOrEqual(1)
    expect(sample(text, 'parley_turn_credentials_issued_total')).toBe(2)
    expect(text).toContain('# HELP parley_sessions')
  })

  it('answers liveness and readiness, and readiness turns red while shutting down', async () => {
    const server = await startServer()
    servers.push(server)
    expect(await (await fetch(`${server.url}/livez`)).json()).toEqual({ status: 'ok' })
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200)
  })
})

describe('the command line', () => {
  const runCli = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [SERVER_MAIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      child.stdout.on('data', (c: Buffer) => (out += c))
      child.stderr.on('data', (c: Buffer) => (out += c))
      child.on('exit', (code) => resolve({ code, out }))
    })

  it('lists every option with its environment variable in --help', async () => {
    const { code, out } = await runCli(['--help'])
    expect(code).toBe(0)
    for (const [flag, env] of [
      ['--port', 'PORT'],
      ['--host', 'HOST'],
      ['--trust-proxy', 'PARLEY_TRUST_PROXY'],
      ['--secret-file', 'PARLEY_SECRET_FILE'],
      ['--grace-ms', 'PARLEY_GRACE_MS'],
      ['--ice-servers', 'PARLEY_ICE_SERVERS'],
      ['--turn-urls', 'PARLEY_TURN_URLS'],
      ['--turn-secret', 'PARLEY_TURN_SECRET'],
      ['--turn-ttl', 'PARLEY_TURN_TTL'],
      ['--cors-origins', 'PARLEY_CORS_ORIGINS'],
      ['--redis-url', 'REDIS_URL'],
    ]) {
      expect(out).toMatch(new RegExp(`${flag} <value>\\s+${env}\\s`))
    }
  })

  it.each([
    [['--port', '70000'], /--port: must be an integer from 0 to 65535/],
    [['--ice-servers', '@/nonexistent/ice.json'], /--ice-servers: cannot read \/nonexistent\/ice.json/],
    [['--turn-urls', 'turn:t.example:3478'], /--turn-urls needs --turn-secret/],
    [['--turn-urls', 'http://t.example'], /not a turn: or turns: URL/],
    [['--cors-origins', 'chat.example'], /not an origin/],
    [['--nope'], /unknown option --nope/],
    [['--redis-url', 'http://cache.example'], /--redis-url: must start with redis:\/\/ or rediss:\/\//],
  ])('refuses %j at start with a clear message and exit code 2', async (args, message) => {
    const { code, out } = await runCli(args, { PARLEY_SECRET: 'operations-test-secret' })
    expect(code).toBe(2)
    expect(out).toMatch(message)
  })

  it('stops on SIGTERM: ends streams, refuses new requests, exits 0 within seconds', async () => {
    const server = await spawnServer()
    servers.push(server)
    const a = await join(server.api, randomRoom())
    const stream = await SseClient.open(streamUrl(server.api, a))
    streams.push(stream)
    await stream.next('roster')
    const signalled = Date.now()
    server.child.kill('SIGTERM')
    await stream.closedPromise()
    expect(await within(server.exited, 5_000, 'exit after SIGTERM')).toBe(0)
    expect(Date.now() - signalled).toBeLessThan(5_000)
  })
})
