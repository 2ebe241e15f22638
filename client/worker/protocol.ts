import type { IceResponse } from '../../signaling/protocol'
import { isPeerInfo, parseMembershipEvent } from '../lib/signaling/event-stream'
import type { Membership, MembershipEvent, SignalingStatus } from '../lib/types'
import { isObject } from '../lib/util'

/** Messages from a tab to the shared signaling worker. */
export type TabMessage =
  | { op: 'hello'; server: string; lock: string }
  /** `nonce`: the join's first attempt's (http.ts), which the tab cancels by beacon if it goes first. */
  | { op: 'join'; id: number; room: string; meta: string | undefined; verifier?: string; nonce?: string }
  | { op: 'signal'; from: string; to: string; data: unknown }
  | { op: 'flush'; from: string }
  | { op: 'leave'; peer: string }
  | { op: 'bye' }
  /** Workers hear no online/offline events of their own: tabs pass theirs on. */
  | { op: 'network'; online: boolean }
  | { op: 'ice'; id: number; peer: string }

/** Messages from the worker to one tab; `id` names the tab's join request. */
export type WorkerMessage =
  | { op: 'status'; status: SignalingStatus }
  | { op: 'error'; message: string }
  /** A retry of the join left with this nonce: the tab cancels that one if it goes first. */
  | { op: 'attempt'; id: number; nonce: string }
  /** That re-claim was answered: the tab's leave no longer carries its nonce. */
  | { op: 'settled'; id: number }
  | { op: 'joined'; id: number; membership: Membership }
  | { op: 'join-failed'; id: number; code: string; message: string; status: number }
  | { op: 'event'; id: number; event: MembershipEvent }
  | { op: 'lost'; id: number }
  | { op: 'unknown'; id: number; peer: string }
  | { op: 'ice'; id: number; ice: IceResponse | null }

const str = (v: unknown): v is string => typeof v === 'string'

/** Tabs are same-origin code, but a page of another version may share the worker: check shapes. */
export function parseTabMessage(value: unknown): TabMessage | null {
  if (!isObject(value)) return null
  switch (value.op) {
    case 'hello':
      return str(value.server) && str(value.lock) ? { op: 'hello', server: value.server, lock: value.lock } : null
    case 'join':
      return typeof value.id === 'number' &&
        str(value.room) &&
        (value.meta === undefined || str(value.meta)) &&
        (value.verifier === undefined || str(value.verifier)) &&
        (value.nonce === undefined || str(value.nonce))
        ? {
            op: 'join',
            id: value.id,
            room: value.room,
            meta: value.meta,
            ...(value.verifier === undefined ? {} : { verifier: value.verifier }),
            ...(value.nonce === undefined ? {} : { nonce: value.nonce }),
          }
        : null
    case 'signal':
      return str(value.from) && str(value.to) ? { op: 'signal', from: value.from, to: value.to, data: value.data } : null
    case 'flush':
      return str(value.from) ? { op: 'flush', from: value.from } : null
    case 'leave':
      return str(value.peer) ? { op: 'leave', peer: value.peer } : null
    case 'bye':
      return { op: 'bye' }
    case 'network':
      return typeof value.online === 'boolean' ? { op: 'network', online: value.online } : null
    case 'ice':
      return typeof value.id === 'number' && str(value.peer) ? { op: 'ice', id: value.id, peer: value.peer } : null
    default:
      return null
  }
}

const isMembership = (v: unknown): v is Membership =>
  isObject(v) && str(v.peer) && str(v.token) && Array.isArray(v.peers) && v.peers.every(isPeerInfo) && Array.isArray(v.iceServers)
const isIce = (v: unknown): v is IceResponse => isObject(v) && Array.isArray(v.iceServers)

/**
 * The worker of another version may serve this tab (it lives while any tab of the origin does): check
 * shapes, down to each event and each of a membership's peers (the room handles them as its roster).
 * Membership and ICE answers came from our server, which the worker trusts as the page does: beyond
 * that, their envelope is checked, not every field.
 */
export function parseWorkerMessage(value: unknown): WorkerMessage | null {
  if (!isObject(value)) return null
  const { op, id } = value
  if (op === 'status') {
    return value.status === 'connecting' || value.status === 'online' || value.status === 'offline' ? { op, status: value.status } : null
  }
  if (op === 'error') return str(value.message) ? { op, message: value.message } : null
  if (typeof id !== 'number') return null
  switch (op) {
    case 'attempt':
      return str(value.nonce) ? { op, id, nonce: value.nonce } : null
    case 'joined':
      return isMembership(value.membership) ? { op, id, membership: value.membership } : null
    case 'join-failed':
      return str(value.code) && str(value.message) && typeof value.status === 'number'
        ? { op, id, code: value.code, message: value.message, status: value.status }
        : null
    case 'event': {
      const event = isObject(value.event) && parseMembershipEvent(value.event.type, value.event)
      return event ? { op, id, event } : null
    }
    case 'lost':
    case 'settled':
      return { op, id }
    case 'unknown':
      return str(value.peer) ? { op, id, peer: value.peer } : null
    case 'ice':
      return value.ice === null || isIce(value.ice) ? { op, id, ice: value.ice } : null
    default:
      return null
  }
}
