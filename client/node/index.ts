/**
 * Parley's room library in Node 20: the same `joinRoom()` as in the browser, minus the DOM. WebRTC comes
 * from `@roamhq/wrtc` (through simple-peer's `wrtc` option), the signaling stream from the `eventsource`
 * package, WebCrypto from `globalThis.crypto`.
 */
import { createRequire } from 'node:module'
import { EventSource } from 'eventsource'
import SimplePeer from 'simple-peer'
import {
  type CreatePeer,
  createSignalingClient,
  isRoomSecret,
  type JoinOptions,
  joinRoom as joinBrowserRoom,
  type PeerLike,
  type Room,
  type Signaling,
} from '../lib'
import { onGathered } from '../lib/webrtc'

export type * from '../lib'
export { SignalingError } from '../lib'
export { createFileStore, createMemoryStore } from './stores'

const ROOM_PATH = /^(.*)\/r\/([A-Za-z0-9_-]{1,64})\/?$/
const API_PATH = '/v1'

export interface RoomLink {
  /** Base URL of the signaling API, e.g. `https://chat.example/v1`. */
  server: string
  room: string
  secret: string
}

/**
 * Reads a room link as the page makes it (`https://host/r/<room>#<secret>`, possibly under a path
 * prefix); null when it is not one, or its secret is missing or malformed.
 */
export function parseRoomLink(link: string): RoomLink | null {
  let url: URL
  try {
    url = new URL(link.trim())
  } catch {
    return null
  }
  const match = ROOM_PATH.exec(url.pathname)
  // The page may add the room's name after the secret (`#<secret>~<name>`); only the secret matters here.
  const secret = url.hash.slice(1).split('~')[0] ?? ''
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || !match || !isRoomSecret(secret)) return null
  return { server: `${url.origin}${match[1]}${API_PATH}`, room: match[2]!, secret }
}

// Loaded on first use: the native module is large, and parseRoomLink's callers may never connect.
let wrtc: typeof import('@roamhq/wrtc') | undefined
const loadWrtc = () => (wrtc ??= createRequire(import.meta.url)('@roamhq/wrtc') as typeof import('@roamhq/wrtc'))

/**
 * simple-peer over @roamhq/wrtc, with trickle ICE like the page's. Object mode keeps text frames
 * strings: Node's stream would otherwise turn them into Buffers, which the mesh takes for file data.
 * HACK: simple-peer never clears its 5 s ICE-complete timer when destroyed, which keeps a Node process
 * alive after `leave()`; clear it when the peer closes.
 * https://github.com/feross/simple-peer/blob/v9.11.1/index.js#L594
 */
export const createNodePeer: CreatePeer = ({ initiator, iceServers, gathered }) => {
  const peer = new SimplePeer({
    initiator,
    trickle: true,
    objectMode: true,
    wrtc: loadWrtc(),
    config: { iceServers: iceServers as RTCIceServer[] },
  })
  peer.once('close', () => clearTimeout((peer as unknown as { _iceCompleteTimer?: ReturnType<typeof setTimeout> })._iceCompleteTimer))
  onGathered(peer, gathered)
  return peer as unknown as PeerLike
}

/** A signaling client for Node: an absolute server URL, the `eventsource` package's EventSource. */
export function createNodeSignaling(server: string): Signaling {
  if (!/^https?:\/\//.test(server)) throw new TypeError(`server must be an absolute http(s) URL, got ${JSON.stringify(server)}`)
  return createSignalingClient(server.replace(/\/+$/, ''), { EventSource: EventSource as unknown as typeof globalThis.EventSource })
}

export interface NodeJoinOptions extends Omit<JoinOptions, 'server'> {
  /** Absolute base URL of the signaling API (`http://127.0.0.1:8080/v1`); see parseRoomLink. */
  server: string
}

/**
 * Joins a room from Node. Without `signaling`, one is created for the room and closed when the room
 * is (on `leave()`, or a refused join); after `leave()` nothing keeps the process alive.
 */
export function joinRoom(options: NodeJoinOptions): Room {
  const signaling = options.signaling ?? createNodeSignaling(options.server)
  const room = joinBrowserRoom({ createPeer: createNodePeer, ...options, signaling })
  if (!options.signaling) {
    // The room's last event before it drops its handlers.
    room.on('status', (status) => status === 'closed' && signaling.close())
  }
  return room
}
