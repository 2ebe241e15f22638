import type { IceResponse } from '../../signaling/protocol'
import type { Membership, MembershipEvent, SignalingStatus } from '../lib/types'
import { isObject } from '../lib/util'

/** Messages from a tab to the shared signaling worker. */
export type TabMessage =
  | { op: 'hello'; server: string; lock: string }
  /** `nonce`: the join's first attempt's (http.ts), which the tab cancels by beacon if it goes first. */
  | { op: 'join'; id: number; room: string; meta: string | undefined; verifier?: string; nonce?: string }
  | { op: 'signal'; from: string; to: string; data: unknown }
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
