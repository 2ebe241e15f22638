import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pollUntil, within } from './helpers'

/** The real servers a deployment runs beside Parley (Debian packages; .ci/run installs them). */

export function findBinary(name: string, paths: string[]): string {
  const found = paths.find((p) => existsSync(p))
  if (!found) throw new Error(`${name} not found (looked in ${paths.join(', ')}); on Debian: apt-get install -y ${name}`)
  return found
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, host, () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
  })
}

/** Resolves once something accepts TCP connections on host:port. */
export function tcpReady(host: string, port: number, ms = 10_000): Promise<void> {
  const attempt = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const socket = connect(port, host, () => {
        socket.destroy()
        resolve()
      })
      socket.once('error', reject)
    })
  return pollUntil(
    () =>
      attempt().then(
        () => true,
        () => false,
      ),
    ms,
    `a listener on ${host}:${port}`,
  )
}

export interface Service {
  port: number
  output(): string
  stop(): Promise<void>
}

function run(binary: string, args: string[], dir: string | undefined, port: number): Service & { child: ChildProcess } {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()))
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return {
    child,
    port,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await within(exited, 5_000, `${binary} to exit`).catch(() => child.kill('SIGKILL'))
      if (dir) rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** coturn on 127.0.0.1 with the TURN REST secret (use-auth-secret), as README "Deploying" shows. */
export async function startCoturn(secret: string): Promise<Service> {
  const binary = findBinary('coturn', ['/usr/bin/turnserver', '/usr/local/bin/turnserver'])
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'parley-coturn-'))
  const minPort = 40_000 + Math.floor(Math.random() * 20_000)
  const service = run(
    binary,
    [
      '-n', // no config file: everything is on this command line
      '--no-cli',
      '--no-tls',
      '--no-dtls',
      '--listening-ip=127.0.0.1',
      '--relay-ip=127.0.0.1',
      `--listening-port=${port}`,
      `--min-port=${minPort}`,
      `--max-port=${minPort + 200}`,
      '--realm=parley.test',
      '--use-auth-secret',
      `--static-auth-secret=${secret}`,
      '--allow-loopback-peers', // both browsers are on this machine
      '--fingerprint',
      '--no-software-attribute',
      `--pidfile=${join(dir, 'turnserver.pid')}`,
      '--log-file=stdout',
      '--simple-log',
    ],
    dir,
    port,
  )
  await tcpReady('127.0.0.1', port)
  return service
}

/**
 * nginx in front of Parley with the README's plain proxy_pass configuration. `readTimeoutS` is kept
 * short in tests to prove that heartbeats hold an idle stream open past it.
 */
export async function startNginx(upstreamPort: number, readTimeoutS = 3600): Promise<Service & { url: string; config: string }> {
  const binary = findBinary('nginx', ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'])
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'parley-nginx-'))
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub), { mode: 0o777 })
  const location = nginxLocation(`127.0.0.1:${upstreamPort}`, readTimeoutS)
  const config = `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
user root;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
${location}
  }
}
`
  writeFileSync(join(dir, 'nginx.conf'), config)
  const service = run(binary, ['-c', join(dir, 'nginx.conf'), '-p', dir], dir, port)
  await tcpReady('127.0.0.1', port)
  return { ...service, url: `http://127.0.0.1:${port}`, config }
}

/** The location block the README documents (a plain proxy_pass; no proxy_buffering needed). */
export function nginxLocation(upstream: string, readTimeoutS: number): string {
  return `    location / {
      proxy_pass http://${upstream};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_read_timeout ${readTimeoutS}s;
    }`
}

/** A throw-away redis-server on 127.0.0.1 (no persistence); `port` to restart one where it was. */
export async function startRedis(port?: number): Promise<Service & { url: string }> {
  const binary = findBinary('redis-server', ['/usr/bin/redis-server', '/usr/local/bin/redis-server'])
  const listen = port ?? (await freePort())
  const service = run(
    binary,
    ['--port', String(listen), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
    undefined,
    listen,
  )
  await tcpReady('127.0.0.1', listen)
  return { ...service, url: `redis://127.0.0.1:${listen}` }
}
