import { nanoid } from 'nanoid'
import { hex, utf8, utf8Text } from './crypto'
import { cleanFileName, FILE_ID_CHARS, type FileOffer, MAX_FILE_BYTES, type PeerMessage } from './peer-protocol'
import type { Emit, FileTransfer } from './types'

/** Bytes per binary frame: well within what every browser's data channel carries. */
export const CHUNK_BYTES = 16 * 1024
/** Files one peer may be sending us at once, and the bytes they may announce but not yet have sent. */
export const MAX_INCOMING_FILES = 4
export const MAX_UNFINISHED_BYTES_PER_PEER = 128 * 1024 * 1024
/** Bytes announced and unfinished from everyone together: what the tab may be asked to hold. */
export const MAX_UNFINISHED_BYTES = 256 * 1024 * 1024
/** An incoming file without a frame for this long has failed, and its memory is freed. */
export const FILE_IDLE_MS = 30_000

/** The part of the mesh files travel through. */
interface Channel {
  connected(): string[]
  sendNow(message: PeerMessage, to?: string): string[]
  sendBinary(to: string, bytes: Uint8Array): Promise<boolean>
}

const snapshot = (t: FileTransfer): FileTransfer => ({ ...t })

/** A transfer as the events first show it, from its offer (sent or received). */
function transferOf(offer: FileOffer, from: string, direction: FileTransfer['direction'], total: number): FileTransfer {
  return {
    id: offer.id,
    name: offer.name,
    size: offer.size,
    mime: offer.mime,
    from,
    ...(offer.to === undefined ? {} : { to: offer.to }),
    direction,
    done: 0,
    total,
    state: direction === 'out' ? 'sending' : 'receiving',
  }
}

/** Streams `bytes` to one peer as id-prefixed frames; false once the peer stops wanting them or its channel fails. */
async function sendFrames(
  channel: Channel,
  peer: string,
  id: string,
  bytes: Uint8Array,
  stopped: () => boolean,
  sent: (n: number) => void,
) {
  const header = utf8.encode(id)
  for (let offset = 0; offset < bytes.length; offset += CHUNK_BYTES) {
    if (stopped()) return false
    const chunk = bytes.subarray(offset, offset + CHUNK_BYTES)
    const frame = new Uint8Array(header.length + chunk.length)
    frame.set(header)
    frame.set(chunk, header.length)
    if (!(await channel.sendBinary(peer, frame))) return false
    sent(chunk.length)
  }
  return true
}

/**
 * Files peers are sending us: each offer is admitted within the budgets, its frames collected, and the
 * whole checked by hash; one that goes quiet for FILE_IDLE_MS fails.
 */
function createIncomingFiles(channel: Channel, emit: Emit, overBudget: (from: string) => void, progress: (transfer: FileTransfer) => void) {
  const incoming = new Map<string, { transfer: FileTransfer; sha256: string; parts: Uint8Array[]; heard: number }>()
  let idleTimer: ReturnType<typeof setInterval> | undefined

  /** Whether one more file of `size` from `from` stays within the counts and bytes of unfinished files. */
  function affordable(from: string, size: number): boolean {
    let count = 0
    let theirs = 0
    let all = 0
    for (const { transfer } of incoming.values()) {
      all += transfer.size
      if (transfer.from !== from) continue
      count++
      theirs += transfer.size
    }
    return count < MAX_INCOMING_FILES && theirs + size <= MAX_UNFINISHED_BYTES_PER_PEER && all + size <= MAX_UNFINISHED_BYTES
  }

  /** Incoming files that went quiet fail, and their parts go. */
  function sweep() {
    const now = Date.now()
    for (const [key, item] of incoming) {
      if (now - item.heard < FILE_IDLE_MS) continue
      incoming.delete(key)
      item.transfer.state = 'failed'
      emit('file-progress', snapshot(item.transfer))
    }
    if (incoming.size === 0) {
      clearInterval(idleTimer)
      idleTimer = undefined
    }
  }

  async function finish(key: string) {
    const item = incoming.get(key)
    if (!item) return
    incoming.delete(key)
    const blob = new Blob(item.parts as BlobPart[], { type: item.transfer.mime })
    const ok = hex(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer())) === item.sha256
    item.transfer.state = ok ? 'done' : 'failed'
    if (ok) item.transfer.blob = blob
    emit('file-progress', snapshot(item.transfer))
  }

  return {
    offered(from: string, offer: FileOffer): void {
      if (!affordable(from, offer.size) || incoming.has(`${from} ${offer.id}`)) {
        overBudget(from)
        channel.sendNow({ type: 'file-cancel', id: offer.id }, from)
        return
      }
      const transfer = transferOf(offer, from, 'in', offer.size)
      incoming.set(`${from} ${offer.id}`, { transfer, sha256: offer.sha256, parts: [], heard: Date.now() })
      idleTimer ??= setInterval(sweep, FILE_IDLE_MS / 3)
      emit('file', snapshot(transfer))
      if (offer.size === 0) void finish(`${from} ${offer.id}`)
    },

    received(from: string, frame: Uint8Array): boolean {
      const key = `${from} ${utf8Text.decode(frame.subarray(0, FILE_ID_CHARS))}`
      const item = incoming.get(key)
      const part = frame.subarray(FILE_ID_CHARS)
      if (!item || item.transfer.done + part.length > item.transfer.size) return false
      item.parts.push(part.slice())
      item.heard = Date.now()
      item.transfer.done += part.length
      progress(item.transfer)
      if (item.transfer.done === item.transfer.size) void finish(key)
      return true
    },

    /** We stop receiving it, and tell its sender. */
    cancel(id: string, from: string): void {
      const item = incoming.get(`${from} ${id}`)
      if (!item) return
      incoming.delete(`${from} ${id}`)
      item.transfer.state = 'cancelled'
      channel.sendNow({ type: 'file-cancel', id }, from)
      emit('file-progress', snapshot(item.transfer))
    },

    /** Its sender gave up. */
    cancelled(from: string, id: string): void {
      const item = incoming.get(`${from} ${id}`)
      if (!item) return
      incoming.delete(`${from} ${id}`)
      item.transfer.state = 'cancelled'
      emit('file-progress', snapshot(item.transfer))
    },

    /** A peer left: whatever it was sending us cannot complete. */
    gone(peer: string): void {
      for (const [key, item] of incoming) {
        if (item.transfer.from !== peer) continue
        incoming.delete(key)
        item.transfer.state = 'failed'
        emit('file-progress', snapshot(item.transfer))
      }
    },

    reset(): void {
      incoming.clear()
      clearInterval(idleTimer)
      idleTimer = undefined
    },
  }
}

/**
 * Files browser to browser over the same data channels: an offer (name, size, type, SHA-256), then
 * binary frames of 8 id bytes + content, sent only while the channel's buffer has room, checked by hash
 * on arrival. Nothing touches the server. A transfer cut by a lost connection fails and can be re-sent.
 */
export function createFiles(channel: Channel, emit: Emit, overBudget: (from: string) => void = () => {}) {
  // Outgoing transfers by id, with the recipients who no longer want it (all of them: cancelled here).
  const outgoing = new Map<string, { transfer: FileTransfer; recipients: string[]; stopped: Set<string> }>()
  let lastProgress = new WeakMap<FileTransfer, number>()

  function progress(transfer: FileTransfer) {
    // One event per percent: enough for a progress bar, cheap for a large file.
    const percent = Math.floor((transfer.done / Math.max(1, transfer.total)) * 100)
    if (lastProgress.get(transfer) === percent && transfer.done !== transfer.total) return
    lastProgress.set(transfer, percent)
    emit('file-progress', snapshot(transfer))
  }

  const incoming = createIncomingFiles(channel, emit, overBudget, progress)

  return {
    /** Sends a file to everyone connected (or to `to`). Resolves when every recipient has every byte. */
    async send(file: Blob & { name?: string }, to?: string): Promise<FileTransfer> {
      if (file.size > MAX_FILE_BYTES) throw new Error(`files are limited to ${MAX_FILE_BYTES / (1024 * 1024)} MB`)
      const bytes = new Uint8Array(await file.arrayBuffer())
      const sha256 = hex(await crypto.subtle.digest('SHA-256', bytes))
      const id = nanoid(FILE_ID_CHARS)
      const offer: FileOffer = {
        type: 'file',
        id,
        name: cleanFileName(file.name ?? ''),
        size: bytes.length,
        mime: file.type || 'application/octet-stream',
        sha256,
      }
      if (to !== undefined) offer.to = to
      const recipients = channel.sendNow(offer, to)
      const transfer: FileTransfer = { ...transferOf(offer, '', 'out', offer.size * recipients.length), blob: file }
      const sending = { transfer, recipients, stopped: new Set<string>() }
      outgoing.set(id, sending)
      emit('file', snapshot(transfer))
      const sent = (n: number) => {
        transfer.done += n
        progress(transfer)
      }
      const results = await Promise.all(
        recipients.map((peer) => sendFrames(channel, peer, id, bytes, () => sending.stopped.has(peer), sent)),
      )
      outgoing.delete(id)
      if (transfer.state === 'cancelled') return snapshot(transfer)
      // Every recipient declined the rest: cancelled, not broken.
      transfer.state = results.every(Boolean) ? 'done' : sending.stopped.size === recipients.length ? 'cancelled' : 'failed'
      emit('file-progress', snapshot(transfer))
      return snapshot(transfer)
    },

    offered: incoming.offered,

    received: incoming.received,

    /** Stops a transfer this browser sends (`from` '') or receives, and tells the other side. */
    cancel(id: string, from = ''): void {
      const sending = from === '' ? outgoing.get(id) : undefined
      if (!sending) {
        incoming.cancel(id, from)
        return
      }
      for (const peer of sending.recipients) sending.stopped.add(peer)
      sending.transfer.state = 'cancelled'
      for (const peer of sending.recipients) channel.sendNow({ type: 'file-cancel', id }, peer)
      emit('file-progress', snapshot(sending.transfer))
    },

    /** The other side stopped a transfer: its sender gave up, or a recipient does not want the rest. */
    cancelled(from: string, id: string): void {
      incoming.cancelled(from, id)
      outgoing.get(id)?.stopped.add(from)
    },

    gone: incoming.gone,

    reset(): void {
      incoming.reset()
      lastProgress = new WeakMap()
    },
  }
}
