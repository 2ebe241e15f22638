// The servers both contenders need, each in its own process or server as in production: Parley's
// built server, PeerServer 1.0 and the PeerJS reference page; optionally each behind a delaying proxy.
import { spawnServer } from '../helpers'
import { startDelayProxy, type DelayProxy } from './delay-proxy'
import { startPeerjsSite } from './peerjs-site'
import { startPeerServer, stopAll, type ServerProc } from './procs'
import type { Endpoints } from './tabs'

/** Parley's join limits out of the way: every run joins the same few browsers again from one IP. */
const PARLEY_ARGS = ['--join-burst', '10000', '--max-streams-per-ip', '10000']
const HOST = '127.0.0.1'

export interface Servers {
  direct: Endpoints
  /** The same servers, each reached through its own delaying proxy (when a delay was asked for). */
  delayed?: Endpoints
  proxies: { parley?: DelayProxy; peerServer?: DelayProxy; site?: DelayProxy }
  stop(): Promise<void>
}

export async function startServers(delayMs = 0): Promise<Servers> {
  const parley = await spawnServer(PARLEY_ARGS)
  let peerServer: ServerProc | undefined
  const proxies: Servers['proxies'] = {}
  const closers: Array<() => Promise<unknown>> = [() => parley.stop()]
  const stop = async () => {
    await Promise.all(closers.map((close) => close().catch(() => undefined)))
    await stopAll([peerServer])
  }
  try {
    peerServer = await startPeerServer()
    const site = await startPeerjsSite()
    closers.push(() => site.close())
    const direct: Endpoints = { parley: parley.url, peerjsPage: site.url, peerServer: { host: HOST, port: peerServer.port }, site }
    if (delayMs <= 0) return { direct, proxies, stop }
    proxies.parley = await startDelayProxy({ host: HOST, port: parley.port }, delayMs)
    closers.push(proxies.parley.close)
    proxies.peerServer = await startDelayProxy({ host: HOST, port: peerServer.port }, delayMs)
    closers.push(proxies.peerServer.close)
    proxies.site = await startDelayProxy({ host: HOST, port: site.port }, delayMs)
    closers.push(proxies.site.close)
    const delayed: Endpoints = {
      parley: proxies.parley.url,
      peerjsPage: proxies.site.url,
      peerServer: { host: HOST, port: proxies.peerServer.port },
      site,
    }
    return { direct, delayed, proxies, stop }
  } catch (err) {
    await stop()
    throw err
  }
}
