/**
 * What a browser keeps of a room between visits, and the check of what comes back. A leaf like
 * types.ts: it imports only other leaves.
 */
import type { ChatMessage } from './peer-protocol'
import { isObject } from './util'

export interface LogEntry {
  message: ChatMessage
  /** The author's public signing key the signature was checked against. */
  key: string
  /** Sent from this browser (in this session or, persisted, an earlier one). */
  mine: boolean
  /** Ours, direct, and not confirmed by its recipient when stored (see ChatView). */
  undelivered?: true
}

/** Where a room's history lives between visits (IndexedDB in the page; nothing in tests). */
export interface HistoryStore {
  load(room: string): Promise<LogEntry[]>
  save(room: string, entries: readonly LogEntry[]): Promise<void>
}

/** Where a room's signing key pair is kept between visits (see identity.ts `keptIdentity`). */
export interface KeyStore {
  load(room: string): Promise<CryptoKeyPair | undefined>
  /**
   * Keeps `pair` unless a pair of its algorithm is kept already (another tab's, made meanwhile), in one
   * step; the pair kept. A store that cannot tell resolves to nothing, and `pair` is used.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a store written for the earlier `save`, which resolved to nothing, still fits.
  save(room: string, pair: CryptoKeyPair): Promise<CryptoKeyPair | undefined | void>
}

/**
 * The shape history.merge reads (it checks each signature itself): a store checks each entry it reads,
 * as storage outlives the page version that wrote it, and a bad one is dropped, not the whole record.
 */
export const isLogEntry = (v: unknown): v is LogEntry =>
  isObject(v) &&
  typeof v.key === 'string' &&
  typeof v.mine === 'boolean' &&
  (v.undelivered === undefined || v.undelivered === true) &&
  isObject(v.message) &&
  v.message.type === 'chat' &&
  ['id', 'from', 'name', 'text'].every((k) => typeof (v.message as Record<string, unknown>)[k] === 'string') &&
  ['time', 'seq', 'lamport'].every((k) => typeof (v.message as Record<string, unknown>)[k] === 'number')
