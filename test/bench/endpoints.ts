// The servers both contenders need, each in its own process or server as in production: Parley's
// built server, PeerServer 1.0 and the PeerJS reference page; optionally each behind a delaying proxy.
import { type DelayProxy, startDelayProxy } from './delay-proxy'
import { startPeerjsSite } from './peerjs-site'
import { type ServerProc, startParley, startPeerServer, stopAll } from './procs'
import type { Endpoints } from './tabs'

/** Parley's join limits out of the way: every run joins the same few browsers again from one IP. */
// The load generators are a few addresses holding thousands of peers: lift the per-address caps.
export const PARLEY_ARGS = [
  '--join-burst',
  '10000',
  '--max-streams-per-ip',
  '10000',
  '--max-connections-per-ip',
  '1000000',
  '--max-requests-per-ip',
  '1000000',
  '--ip-signals-per-sec',
  '1000000',
]
const HOST = '127.0.0.1'

export interface Servers {
  direct: Endpoints
  /** The same servers, each reached through a delaying proxy of its own (when a delay was asked for). */
  delayed?: Endpoints
  /**
   * The same servers again through a second set of delaying proxies, for a newcomer: what crosses
   * these is its traffic alone.
   */
  newcomer?: Endpoints
  proxies: { delayed: DelayProxy[]; newcomer: DelayProxy[] }
  /** Each contender's signaling server process. */
  pids: { parley: number; peerjs: number }
  stop(): Promise<void>
}

export async function startServers(delayMs = 0): Promise<Servers> {
  // startParley: BENCH_CPU_PROF=<dir> profiles it.
  const parley = await startParley(PARLEY_ARGS)
  let peerServer: ServerProc | undefined
  const proxies: Servers['proxies'] = { delayed: [], newcomer: [] }
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
    const pids = { parley: parley.pid, peerjs: peerServer.pid }
    if (delayMs <= 0) return { direct, proxies, pids, stop }
    const behindProxies = async (set: DelayProxy[]): Promise<Endpoints> => {
      const proxy = async (port: number) => {
        const started = await startDelayProxy({ host: HOST, port }, delayMs)
        closers.push(started.close)
        set.push(started)
        return started
      }
      const parleyProxy = await proxy(parley.port)
      const pageProxy = await proxy(site.port)
      const peerServerProxy = await proxy(peerServer!.port)
      return { parley: parleyProxy.url, peerjsPage: pageProxy.url, peerServer: { host: HOST, port: peerServerProxy.port }, site }
    }
    const delayed = await behindProxies(proxies.delayed)
    const newcomer = await behindProxies(proxies.newcomer)
    return { direct, delayed, newcomer, proxies, pids, stop }
  } catch (err) {
    await stop()
    throw err
  }
}
