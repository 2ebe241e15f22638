import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { type Config, ConfigError, DEFAULT_CONFIG, iceServers, parseConfig, resolveSecret, usage } from '../../signaling/config'

const parse = (argv: string[], env: Record<string, string | undefined> = {}) => {
  const config = parseConfig(argv, env)
  if (config === 'help') throw new Error('unexpected help')
  return config
}

/** The ConfigError `run` throws (failing the test if it throws anything else, or nothing). */
function configError(run: () => unknown): ConfigError {
  try {
    run()
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return err as ConfigError
  }
  throw new Error('expected a ConfigError')
}

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'parley-config-'))
})
afterEach(() => {
  rmSync(dir, { recursive: true, force: true })
})

describe('parseConfig', () => {
  it('returns the defaults without flags or environment', () => {
    expect(parse([])).toEqual(DEFAULT_CONFIG)
    expect(DEFAULT_CONFIG).toMatchObject({
      port: 8080,
      host: undefined,
      trustProxy: false,
      logLevel: 'info',
      secret: undefined,
      secretFile: '.parley/secret',
      maxPeersPerRoom: 16,
      maxStreamsPerIp: 32,
      signalsPerSec: 50,
      signalBurst: 200,
      joinsPerSec: 2,
      joinBurst: 30,
      maxBodyBytes: 65536,
      heartbeatMs: 15000,
      graceMs: 10000,
      iceServers: [{ urls: 'stun:stun.l.google.com:19302' }],
    })
  })

  it('reads every option from its environment variable', () => {
    const config = parse([], {
      PORT: '9000',
      HOST: '127.0.0.1',
      PARLEY_TRUST_PROXY: 'loopback',
      LOG_LEVEL: 'debug',
      PARLEY_SECRET: 'env-secret-0123456789',
      PARLEY_SECRET_FILE: '/tmp/x/secret',
      PARLEY_MAX_PEERS_PER_ROOM: '4',
      PARLEY_MAX_STREAMS_PER_IP: '5',
      PARLEY_MAX_CONNECTIONS_PER_IP: '6',
      PARLEY_MAX_REQUESTS_PER_IP: '7',
      PARLEY_HEADERS_TIMEOUT: '3',
      PARLEY_BODY_TIMEOUT: '4',
      PARLEY_MAX_SEATS_PER_SESSION: '2',
      PARLEY_MAX_SEATS_PER_IP: '3',
      PARLEY_SESSION_SIGNALS_PER_SEC: '10',
      PARLEY_IP_SIGNALS_PER_SEC: '20',
      PARLEY_CREDENTIAL_TTL: '3600',
      PARLEY_SIGNALS_PER_SEC: '2.5',
      PARLEY_SIGNAL_BURST: '7',
      PARLEY_JOINS_PER_SEC: '0.5',
      PARLEY_JOIN_BURST: '9',
      PARLEY_MAX_BODY_BYTES: '2048',
      PARLEY_HEARTBEAT_MS: '500',
      PARLEY_GRACE_MS: '0',
      PARLEY_ICE_SERVERS: '[{"urls":"turn:t.example:3478","username":"u","credential":"c"}]',
      PARLEY_CORS_ORIGINS: 'https://a.example, http://b.example:8080',
      PARLEY_TURN_URLS: 'turn:turn.example:3478?transport=udp,turns:turn.example:5349',
      PARLEY_TURN_SECRET: 'coturn-secret',
      PARLEY_TURN_TTL: '600',
      REDIS_URL: 'redis://cache.example:6379/2',
    })
    const expected: Config = {
      port: 9000,
      host: '127.0.0.1',
      trustProxy: 'loopback',
      logLevel: 'debug',
      secret: 'env-secret-0123456789',
      secretFile: '/tmp/x/secret',
      maxPeersPerRoom: 4,
      maxStreamsPerIp: 5,
      maxConnectionsPerIp: 6,
      maxRequestsPerIp: 7,
      headersTimeoutS: 3,
      bodyTimeoutS: 4,
      maxSeatsPerSession: 2,
      maxSeatsPerIp: 3,
      sessionSignalsPerSec: 10,
      ipSignalsPerSec: 20,
      credentialTtlS: 3600,
      signalsPerSec: 2.5,
      signalBurst: 7,
      joinsPerSec: 0.5,
      joinBurst: 9,
      maxBodyBytes: 2048,
      heartbeatMs: 500,
      graceMs: 0,
      iceServers: [{ urls: 'turn:t.example:3478', username: 'u', credential: 'c' }],
      corsOrigins: ['https://a.example', 'http://b.example:8080'],
      turnUrls: ['turn:turn.example:3478?transport=udp', 'turns:turn.example:5349'],
      turnSecret: 'coturn-secret',
      turnTtlS: 600,
      redisUrl: 'redis://cache.example:6379/2',
    }
    expect(config).toEqual(expected)
  })

  it('reads every option from its flag, as "--x y" and as "--x=y"', () => {
    const pairs: Array<[string, string]> = [
      ['--port', '9001'],
      ['--host', '::1'],
      ['--trust-proxy', '2'],
      ['--log-level', 'silent'],
      ['--secret', 'flag-secret-0123456789'],
      ['--secret-file', 'data/secret'],
      ['--max-peers-per-room', '3'],
      ['--max-streams-per-ip', '1'],
      ['--max-connections-per-ip', '1'],
      ['--max-requests-per-ip', '1'],
      ['--headers-timeout', '1'],
      ['--body-timeout', '300'],
      ['--max-seats-per-session', '1'],
      ['--max-seats-per-ip', '1000'],
      ['--session-signals-per-sec', '1'],
      ['--ip-signals-per-sec', '1'],
      ['--credential-ttl', '60'],
      ['--signals-per-sec', '1'],
      ['--signal-burst', '2'],
      ['--joins-per-sec', '3'],
      ['--join-burst', '4'],
      ['--max-body-bytes', '1024'],
      ['--heartbeat-ms', '100'],
      ['--grace-ms', '600000'],
      ['--ice-servers', '[{"urls":["stun:a.example","stuns:b.example"]}]'],
      ['--cors-origins', '*'],
      ['--turn-urls', 'turn:127.0.0.1:3478'],
      ['--turn-secret', 's'],
      ['--turn-ttl', '60'],
      ['--redis-url', 'rediss://u:p@r.example:6380'],
    ]
    const expected: Config = {
      port: 9001,
      host: '::1',
      trustProxy: 2,
      logLevel: 'silent',
      secret: 'flag-secret-0123456789',
      secretFile: 'data/secret',
      maxPeersPerRoom: 3,
      maxStreamsPerIp: 1,
      maxConnectionsPerIp: 1,
      maxRequestsPerIp: 1,
      headersTimeoutS: 1,
      bodyTimeoutS: 300,
      maxSeatsPerSession: 1,
      maxSeatsPerIp: 1000,
      sessionSignalsPerSec: 1,
      ipSignalsPerSec: 1,
      credentialTtlS: 60,
      signalsPerSec: 1,
      signalBurst: 2,
      joinsPerSec: 3,
      joinBurst: 4,
      maxBodyBytes: 1024,
      heartbeatMs: 100,
      graceMs: 600000,
      iceServers: [{ urls: ['stun:a.example', 'stuns:b.example'] }],
      corsOrigins: ['*'],
      turnUrls: ['turn:127.0.0.1:3478'],
      turnSecret: 's',
      turnTtlS: 60,
      redisUrl: 'rediss://u:p@r.example:6380',
    }
    expect(parse(pairs.flat())).toEqual(expected)
    expect(parse(pairs.map(([flag, value]) => `${flag}=${value}`))).toEqual(expected)
  })

  it('lets flags win over the environment, and the last repeated flag win', () => {
    expect(parse(['--port', '9001'], { PORT: '9000' }).port).toBe(9001)
    expect(parse(['--port=1', '--port', '2'], { PORT: '9000' }).port).toBe(2)
    expect(parse([], { PORT: '9000' }).port).toBe(9000)
  })

  it('ignores empty environment variables', () => {
    expect(parse([], { PORT: '', PARLEY_SECRET: '', LOG_LEVEL: '' })).toEqual(DEFAULT_CONFIG)
  })

  it('splits "--x=y" at the first "=" only, and takes the next argument verbatim after "--x"', () => {
    expect(parse(['--secret=a=b=c-0123456789abcdef']).secret).toBe('a=b=c-0123456789abcdef')
    expect(parse(['--host', '=weird']).host).toBe('=weird')
  })

  it('parses trust proxy as a boolean, a hop count or an address list', () => {
    expect(parse(['--trust-proxy', 'true']).trustProxy).toBe(true)
    expect(parse(['--trust-proxy', 'false']).trustProxy).toBe(false)
    expect(parse(['--trust-proxy', '0']).trustProxy).toBe(0)
    expect(parse(['--trust-proxy', '10.0.0.0/8, 127.0.0.1']).trustProxy).toBe('10.0.0.0/8, 127.0.0.1')
  })

  it('returns "help" for --help and -h, wherever they appear among valid flags', () => {
    expect(parseConfig(['--help'], {})).toBe('help')
    expect(parseConfig(['-h'], {})).toBe('help')
    expect(parseConfig(['--port', '1', '--help'], {})).toBe('help')
    expect(parseConfig(['--help', '--no-such-flag'], {})).toBe('help')
  })

  it.each<[string, string[], Record<string, string>, RegExp]>([
    ['an unknown flag', ['--nope', '1'], {}, /^unknown option --nope \(see --help\)$/],
    ['an unknown flag with a value', ['--nope=1'], {}, /^unknown option --nope=1/],
    ['a positional argument', ['8080'], {}, /^unknown option 8080/],
    ['a single-dash flag', ['-p', '1'], {}, /^unknown option -p/],
    ['a flag without its value', ['--port'], {}, /^--port needs a value$/],
    ['a value-less flag at the end', ['--host', 'h', '--grace-ms'], {}, /^--grace-ms needs a value$/],
    ['a port that is not a number', ['--port', 'http'], {}, /^--port: must be an integer from 0 to 65535$/],
    ['a port out of range', ['--port=65536'], {}, /^--port: must be an integer from 0 to 65535$/],
    ['a negative port', ['--port=-1'], {}, /^--port: must be an integer from 0 to 65535$/],
    ['a fractional port', ['--port', '80.5'], {}, /^--port: must be an integer from 0 to 65535$/],
    ['a port in exponent notation', ['--port', '8e3'], {}, /^--port: must be an integer from 0 to 65535$/],
    ['a hex port', ['--port', '0x50'], {}, /^--port: must be an integer from 0 to 65535$/],
    ['an empty "--port="', ['--port='], {}, /^--port: must be an integer/],
    ['a bad port in the environment', [], { PORT: 'eighty' }, /^PORT: must be an integer from 0 to 65535$/],
    ['a room size below 2', ['--max-peers-per-room', '1'], {}, /^--max-peers-per-room: must be an integer from 2 to 1000$/],
    ['a zero stream limit', [], { PARLEY_MAX_STREAMS_PER_IP: '0' }, /^PARLEY_MAX_STREAMS_PER_IP: must be an integer from 1/],
    ['a zero signal rate', ['--signals-per-sec', '0'], {}, /^--signals-per-sec: must be a positive number$/],
    ['a negative join rate', ['--joins-per-sec=-2'], {}, /^--joins-per-sec: must be a positive number$/],
    ['an infinite join rate', ['--joins-per-sec', 'Infinity'], {}, /^--joins-per-sec: must be a positive number$/],
    ['a rate that is not a number', [], { PARLEY_SIGNALS_PER_SEC: 'fast' }, /^PARLEY_SIGNALS_PER_SEC: must be a positive number$/],
    ['a zero burst', ['--signal-burst', '0'], {}, /^--signal-burst: must be an integer from 1 to 1000000$/],
    ['a fractional burst', ['--join-burst', '1.5'], {}, /^--join-burst: must be an integer from 1 to 1000000$/],
    ['a tiny body limit', ['--max-body-bytes', '1023'], {}, /^--max-body-bytes: must be an integer from 1024 to 16777216$/],
    ['a huge body limit', ['--max-body-bytes', String(16 * 1024 * 1024 + 1)], {}, /^--max-body-bytes: must be an integer/],
    ['a too-fast heartbeat', ['--heartbeat-ms', '99'], {}, /^--heartbeat-ms: must be an integer from 100 to 120000$/],
    ['a too-long grace', ['--grace-ms', '600001'], {}, /^--grace-ms: must be an integer from 0 to 600000$/],
    [
      'an unknown log level',
      ['--log-level', 'verbose'],
      {},
      /^--log-level: must be one of fatal, error, warn, info, debug, trace, silent$/,
    ],
    ['an upper-case log level', [], { LOG_LEVEL: 'INFO' }, /^LOG_LEVEL: must be one of/],
    ['bad ICE servers', ['--ice-servers', '{"urls":"stun:x"}'], {}, /^--ice-servers: must be a JSON array/],
    ['bad ICE servers in the environment', [], { PARLEY_ICE_SERVERS: 'stun:x' }, /^PARLEY_ICE_SERVERS: must be a JSON array/],
  ])('rejects %s with a ConfigError naming the source', (_what, argv, env, message) => {
    expect(configError(() => parseConfig(argv, env)).message).toMatch(message)
  })

  it('lets a flag override an invalid environment variable, and --help win over both', () => {
    expect(parse(['--port', '1'], { PORT: 'x' }).port).toBe(1)
    expect(parseConfig(['--help'], { PORT: 'x' })).toBe('help')
    expect(configError(() => parseConfig(['--trust-proxy', 'not an address'], {})).message).toMatch(/^--trust-proxy:/)
    expect(parse(['--trust-proxy', 'TRUE']).trustProxy).toBe(true)
    expect(parse(['--trust-proxy', 'loopback, 10.0.0.0/8']).trustProxy).toBe('loopback, 10.0.0.0/8')
  })

  it('accepts the boundary values of every integer range', () => {
    expect(parse(['--port', '0', '--max-peers-per-room', '1000', '--grace-ms', '0', '--heartbeat-ms', '120000'])).toMatchObject({
      port: 0,
      maxPeersPerRoom: 1000,
      graceMs: 0,
      heartbeatMs: 120000,
    })
    expect(parse(['--port', '65535', '--max-body-bytes', String(16 * 1024 * 1024)])).toMatchObject({
      port: 65535,
      maxBodyBytes: 16 * 1024 * 1024,
    })
  })

  it('does not share or mutate the defaults', () => {
    const before = structuredClone(DEFAULT_CONFIG)
    const config = parse(['--port', '1', '--ice-servers', '[]'])
    config.maxPeersPerRoom = 99
    expect(DEFAULT_CONFIG).toEqual(before)
  })
})

describe('usage', () => {
  it('lists every flag with its environment variable', () => {
    const text = usage()
    for (const [flag, env] of [
      ['--port', 'PORT'],
      ['--host', 'HOST'],
      ['--trust-proxy', 'PARLEY_TRUST_PROXY'],
      ['--log-level', 'LOG_LEVEL'],
      ['--secret', 'PARLEY_SECRET'],
      ['--secret-file', 'PARLEY_SECRET_FILE'],
      ['--max-peers-per-room', 'PARLEY_MAX_PEERS_PER_ROOM'],
      ['--max-streams-per-ip', 'PARLEY_MAX_STREAMS_PER_IP'],
      ['--max-connections-per-ip', 'PARLEY_MAX_CONNECTIONS_PER_IP'],
      ['--max-requests-per-ip', 'PARLEY_MAX_REQUESTS_PER_IP'],
      ['--headers-timeout', 'PARLEY_HEADERS_TIMEOUT'],
      ['--body-timeout', 'PARLEY_BODY_TIMEOUT'],
      ['--max-seats-per-session', 'PARLEY_MAX_SEATS_PER_SESSION'],
      ['--max-seats-per-ip', 'PARLEY_MAX_SEATS_PER_IP'],
      ['--session-signals-per-sec', 'PARLEY_SESSION_SIGNALS_PER_SEC'],
      ['--ip-signals-per-sec', 'PARLEY_IP_SIGNALS_PER_SEC'],
      ['--credential-ttl', 'PARLEY_CREDENTIAL_TTL'],
      ['--signals-per-sec', 'PARLEY_SIGNALS_PER_SEC'],
      ['--signal-burst', 'PARLEY_SIGNAL_BURST'],
      ['--joins-per-sec', 'PARLEY_JOINS_PER_SEC'],
      ['--join-burst', 'PARLEY_JOIN_BURST'],
      ['--max-body-bytes', 'PARLEY_MAX_BODY_BYTES'],
      ['--heartbeat-ms', 'PARLEY_HEARTBEAT_MS'],
      ['--grace-ms', 'PARLEY_GRACE_MS'],
      ['--ice-servers', 'PARLEY_ICE_SERVERS'],
    ]) {
      expect(text).toMatch(new RegExp(`^  ${flag} <value>\\s+${env}\\s`, 'm'))
    }
    expect(text).toContain('--help, -h')
  })
})

describe('iceServers', () => {
  it('parses an inline JSON array of STUN and TURN servers', () => {
    const servers = [
      { urls: 'stun:stun.example:3478' },
      { urls: ['turn:turn.example:3478?transport=udp', 'turns:turn.example:5349'], username: 'u', credential: 'p' },
    ]
    expect(iceServers(JSON.stringify(servers))).toEqual(servers)
    expect(iceServers('[]')).toEqual([])
  })

  it('reads the array from "@file"', () => {
    const file = join(dir, 'ice.json')
    writeFileSync(file, '[{"urls":"stun:from-file.example"}]\n')
    expect(iceServers(`@${file}`)).toEqual([{ urls: 'stun:from-file.example' }])
    expect(parse([`--ice-servers=@${file}`]).iceServers).toEqual([{ urls: 'stun:from-file.example' }])
  })

  it('names the file it cannot read', () => {
    const missing = join(dir, 'missing.json')
    expect(() => iceServers(`@${missing}`)).toThrow(`cannot read ${missing}`)
    expect(configError(() => parseConfig(['--ice-servers', `@${missing}`], {})).message).toMatch(
      new RegExp(`^--ice-servers: cannot read ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
    )
  })

  it('rejects a file that is not valid', () => {
    const file = join(dir, 'bad.json')
    writeFileSync(file, '{"urls":"stun:x"}')
    expect(() => iceServers(`@${file}`)).toThrow(/must be a JSON array/)
  })

  it.each([
    ['not JSON', 'stun:x'],
    ['truncated JSON', '[{"urls":"stun:x"}'],
    ['an object', '{"urls":"stun:x"}'],
    ['a string', '"stun:x"'],
    ['null', 'null'],
    ['an array of null', '[null]'],
    ['an array of strings', '["stun:x"]'],
    ['an array of arrays', '[["stun:x"]]'],
    ['a server without urls', '[{"username":"u"}]'],
    ['an http url', '[{"urls":"http://x.example"}]'],
    ['a url without a scheme', '[{"urls":"stun.example:3478"}]'],
    ['a scheme in upper case', '[{"urls":"STUN:x"}]'],
    ['an empty urls array', '[{"urls":[]}]'],
    ['a non-string url in the array', '[{"urls":["stun:x", 3478]}]'],
    ['a numeric urls', '[{"urls":3478}]'],
    ['a numeric username', '[{"urls":"stun:x","username":1}]'],
    ['an object credential', '[{"urls":"stun:x","credential":{}}]'],
    ['one bad server among good ones', '[{"urls":"stun:x"},{"urls":"ftp:y"}]'],
    ['an empty string', ''],
    ['a url that is only a scheme', '[{"urls":"stun:"}]'],
    ['a url with a space', '[{"urls":"turn:x .example"}]'],
  ])('rejects %s', (_what, raw) => {
    expect(() => iceServers(raw)).toThrow(/must be a JSON array of \{urls/)
  })

  // Browsers refuse these (RTCPeerConnection throws InvalidAccessError): no page could connect.
  it.each([
    ['no username or credential', '[{"urls":"turn:turn.example:3478"}]'],
    ['no credential', '[{"urls":"turns:turn.example:5349","username":"u"}]'],
    ['an empty username', '[{"urls":["stun:s.example","turn:t.example"],"username":"","credential":"p"}]'],
  ])('rejects a TURN server with %s, naming it', (_what, raw) => {
    const named = JSON.stringify(JSON.parse(raw)[0].urls)
    expect(() => iceServers(raw)).toThrow(`${named}: a TURN server needs a username and a credential`)
    expect(configError(() => parseConfig(['--ice-servers', raw], {})).message).toMatch(/^--ice-servers: .*a TURN server needs/)
  })
})

describe('resolveSecret', () => {
  const config = (overrides: Partial<Config>): Config => ({ ...DEFAULT_CONFIG, secretFile: join(dir, 'secret'), ...overrides })

  it('returns an explicit secret as is and touches no file', () => {
    const warn = vi.fn()
    const secret = 'explicit-secret-0123456789'
    expect(resolveSecret(config({ secret }), warn)).toBe(secret)
    expect(() => statSync(join(dir, 'secret'))).toThrow()
    expect(warn).not.toHaveBeenCalled()
  })

  it('accepts an explicit secret of exactly 16 characters and rejects 15 or fewer with a ConfigError', () => {
    expect(resolveSecret(config({ secret: 'x'.repeat(16) }), vi.fn())).toBe('x'.repeat(16))
    for (const secret of ['x'.repeat(15), 'short', '']) {
      expect(configError(() => resolveSecret(config({ secret }), vi.fn())).message).toBe('PARLEY_SECRET must be at least 16 characters')
    }
    // An empty "--secret=" is a secret that is too short, not "no secret".
    const fromFlag = parse(['--secret='])
    expect(() => resolveSecret({ ...fromFlag, secretFile: join(dir, 'secret') }, vi.fn())).toThrow(ConfigError)
  })

  it('creates the secret file (and its directories) with mode 0600 on first start, and reuses it', () => {
    const warn = vi.fn()
    const secretFile = join(dir, 'nested', 'deeper', 'secret')
    const first = resolveSecret(config({ secretFile }), warn)
    expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/) // 32 random bytes, base64url
    expect(readFileSync(secretFile, 'utf8')).toBe(`${first}\n`)
    expect(statSync(secretFile).mode & 0o777).toBe(0o600)
    expect(resolveSecret(config({ secretFile }), warn)).toBe(first)
    expect(warn).not.toHaveBeenCalled()
  })

  it('uses an existing file, trimming surrounding whitespace', () => {
    const secretFile = join(dir, 'secret')
    writeFileSync(secretFile, '  stored-secret-0123456789  \n\n')
    expect(resolveSecret(config({ secretFile }), vi.fn())).toBe('stored-secret-0123456789')
  })

  it('replaces a stored secret that is too short', () => {
    const secretFile = join(dir, 'secret')
    writeFileSync(secretFile, 'short\n', { mode: 0o600 })
    const secret = resolveSecret(config({ secretFile }), vi.fn())
    expect(secret.length).toBeGreaterThanOrEqual(16)
    expect(readFileSync(secretFile, 'utf8')).toBe(`${secret}\n`)
    expect(resolveSecret(config({ secretFile }), vi.fn())).toBe(secret)
  })

  it('warns and still returns a usable secret when the file cannot be written', () => {
    const blocker = join(dir, 'not-a-directory')
    writeFileSync(blocker, 'x')
    const warn = vi.fn()
    const secretFile = join(blocker, 'secret')
    const secret = resolveSecret(config({ secretFile }), warn)
    expect(secret.length).toBeGreaterThanOrEqual(16)
    expect(warn).toHaveBeenCalledTimes(1)
    expect(warn.mock.calls[0]![0]).toMatch(/^cannot write .*not-a-directory\/secret .*sessions will not survive a restart$/)
  })

  it('regenerates when the path is a directory, and warns', () => {
    const secretFile = join(dir, 'is-a-dir')
    mkdirSync(secretFile)
    const warn = vi.fn()
    expect(resolveSecret(config({ secretFile }), warn).length).toBeGreaterThanOrEqual(16)
    expect(warn).toHaveBeenCalledTimes(1)
  })
})
