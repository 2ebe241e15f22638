/**
 * A deliberately minimal Parley client, written against the protocol and importing nothing from
 * client/: raw RTCPeerConnection (@roamhq/wrtc), fetch with hand-parsed Server-Sent Events, WebCrypto
 * for the room key, sealing and signatures, its own JSON messages. It always joins second, so it is
 * the initiator of its one connection, to the first peer in its join reply.
 */
import { createRequire } from 'node:module'

const wrtc = createRequire(import.meta.url)('@roamhq/wrtc') as typeof import('@roamhq/wrtc')

/** The peer protocol's version (room key, seals, signatures); the admission verifier keeps the HTTP API's. */
const VERSION = 'parley/2'
const ADMIT_SALT = 'parley/1'
const PING_MS = 1_000
const utf8 = new TextEncoder()
const decoder = new TextDecoder()

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url')
const unb64url = (text: string) => new Uint8Array(Buffer.from(text, 'base64url'))

export interface MinimalChat {
  id: string
  from: string
  name: string
  text: string
  time: number
  seq: number
  lamport: number
  to?: string
  sig: string
  /** The signature checked against the key in the sender's hello (or, from history, the entry's key). */
  verified: boolean
  /** Passed on in a `history` message rather than sent live by its author. */
  history: boolean
}

/** What the offerer hears back: the answer, then trickled candidates (the spec's `signal` envelope payloads). */
type TheirSignal = { type: 'answer'; sdp: string } | { type: 'candidate'; candidate: RTCIceCandidateInit }

/** A data-channel message as this client reads it: trusting, since it only ever talks to the library in tests. */
type TheirMessage =
  | { type: 'ping' }
  | { type: 'hello'; key: string }
  | ({ type: 'chat' } & Omit<MinimalChat, 'verified' | 'history'>)
  | { type: 'history'; entries: Array<{ message: MinimalChat; key: string }> }

export interface MinimalOptions {
  server: string
  room: string
  secret: string
  name: string
}

/** HKDF-SHA-256 over the secret's UTF-8 text (salt "parley/2", info "room <id>") → AES-256-GCM. */
async function roomKey(secret: string, room: string) {
  const ikm = await crypto.subtle.importKey('raw', utf8.encode(secret), 'HKDF', false, ['deriveKey'])
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: utf8.encode(VERSION), info: utf8.encode(`room ${room}`) },
    ikm,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  )
}

/** The admission verifier: HKDF with salt "parley/1" and info "admit <id>", 32 bytes, base64url (no padding). */
async function verifierOf(secret: string, room: string) {
  const ikm = await crypto.subtle.importKey('raw', utf8.encode(secret), 'HKDF', false, ['deriveBits'])
  const params = { name: 'HKDF', hash: 'SHA-256', salt: utf8.encode(ADMIT_SALT), info: utf8.encode(`admit ${room}`) }
  return b64url(new Uint8Array(await crypto.subtle.deriveBits(params, ikm, 256)))
}

/** base64url (no padding) of IV(12) ‖ ciphertext ‖ tag(16), the context as associated data. */
async function seal(key: CryptoKey, context: string, value: unknown) {
  const iv = crypto.getRandomValues(new Uint8Array(12))
  const sealed = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: utf8.encode(context) },
    key,
    utf8.encode(JSON.stringify(value)),
  )
  return b64url(new Uint8Array([...iv, ...new Uint8Array(sealed)]))
}

async function open(key: CryptoKey, context: string, sealed: string): Promise<unknown> {
  const bytes = unb64url(sealed)
  const plain = await crypto.subtle.decrypt(
    { name: 'AES-GCM', iv: bytes.subarray(0, 12), additionalData: utf8.encode(context) },
    key,
    bytes.subarray(12),
  )
  return JSON.parse(decoder.decode(plain))
}

/** What a chat signature covers: JSON.stringify of this array, as UTF-8. */
const signed = (room: string, m: Omit<MinimalChat, 'sig' | 'verified' | 'history'>) =>
  utf8.encode(JSON.stringify([`${VERSION} chat`, room, m.id, m.from, m.name, m.text, m.time, m.lamport, m.to ?? null]))

/** The "sha-256 AB:CD…" of an SDP's first a=fingerprint line. */
const fingerprint = (sdp: string) => {
  const [, algo, hex] = /^a=fingerprint:(\S+) ([0-9A-Fa-f:]+)\s*$/m.exec(sdp)!
  return `${algo!.toLowerCase()} ${hex!.toUpperCase()}`
}

/** SHA-256 of both fingerprints, sorted, joined by "\n"; first 3 bytes big-endian, mod 10^6. */
async function pairCode(a: string, b: string) {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', utf8.encode([a, b].sort().join('\n'))))
  const digits = String(((d[0]! << 16) | (d[1]! << 8) | d[2]!) % 1_000_000).padStart(6, '0')
  return `${digits.slice(0, 3)} ${digits.slice(3)}`
}

/** Reads an SSE response by hand: `event:`, `data:` (joined by "\n"), a blank line dispatches. */
async function readEvents(body: ReadableStream<Uint8Array>, onEvent: (type: string, data: string) => void) {
  const reader = body.getReader()
  const text = new TextDecoder()
  let buffer = ''
  let type = ''
  let data: string[] = []
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return
    buffer += text.decode(value, { stream: true })
    const lines = buffer.split(/\r\n|\r|\n/)
    buffer = lines.pop()!
    for (const line of lines) {
      if (line === '') {
        if (data.length > 0) onEvent(type || 'message', data.join('\n'))
        type = ''
        data = []
      } else if (!line.startsWith(':')) {
        // Lines starting with ':' are heartbeat comments and carry nothing.
        const colon = line.indexOf(':')
        const field = colon < 0 ? line : line.slice(0, colon)
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
        if (field === 'event') type = value
        else if (field === 'data') data.push(value)
      }
    }
  }
}

export async function joinMinimal(options: MinimalOptions) {
  const { server, room, name } = options
  const key = await roomKey(options.secret, room)
  const signing = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair
  const publicKey = b64url(new Uint8Array(await crypto.subtle.exportKey('raw', signing.publicKey)))
  const chats: MinimalChat[] = []
  const waiters = new Set<() => void>()
  const changed = () => {
    for (const w of waiters) w()
  }
  const state = { open: false, greeted: false, pings: 0, closed: false, theirKey: '', theirFingerprint: '', ourFingerprint: '' }

  const post = async (path: string, body: unknown, token?: string) => {
    const res = await fetch(`${server}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    })
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
    return res.status === 204 ? null : ((await res.json()) as Record<string, unknown>)
  }

  const meta = await seal(key, `${VERSION} meta ${room}`, { name })
  const joined = (await post('/join', { room, meta, verifier: await verifierOf(options.secret, room) })) as {
    peer: string
    token: string
    key: string
    peers: Array<{ id: string; meta?: string }>
    iceServers: RTCIceServer[]
  }
  const self = joined.peer
  const other = joined.peers[0]
  if (!other) throw new Error('the minimal client joins a room that already has someone in it')

  // Signals: sealed for this pair and direction, numbered from 1; opened and applied strictly in order.
  let sentCount = 0
  let heardCount = 0
  let outgoing: Promise<unknown> = Promise.resolve()
  let incoming: Promise<unknown> = Promise.resolve()
  const ATTEMPT = 1
  const signal = (payload: unknown) => {
    outgoing = outgoing.then(async () => {
      const data = await seal(key, `${VERSION} signal ${room} ${self} ${other.id}`, {
        n: ++sentCount,
        envelope: { attempt: ATTEMPT, signal: payload },
      })
      await post('/signal', { peer: self, to: other.id, data }, joined.token)
    })
  }

  const pc = new wrtc.RTCPeerConnection({ iceServers: joined.iceServers })
  const channel = pc.createDataChannel('parley') // label and options are free; the answerer takes any
  const send = (message: unknown) => channel.readyState === 'open' && channel.send(JSON.stringify(message))

  pc.onicecandidate = ({ candidate }) => {
    if (candidate)
      signal({
        type: 'candidate',
        candidate: { candidate: candidate.candidate, sdpMLineIndex: candidate.sdpMLineIndex, sdpMid: candidate.sdpMid },
      })
  }

  async function apply(sealed: string) {
    const opened = (await open(key, `${VERSION} signal ${room} ${other!.id} ${self}`, sealed)) as {
      n: number
      envelope: { attempt: number; signal?: TheirSignal }
    }
    if (opened.n <= heardCount) throw new Error('replayed signal')
    heardCount = opened.n
    const s = opened.envelope.signal
    if (!s || opened.envelope.attempt !== ATTEMPT) return
    if (s.type === 'answer') {
      state.theirFingerprint = fingerprint(s.sdp)
      await pc.setRemoteDescription({ type: 'answer', sdp: s.sdp })
    } else if (s.type === 'candidate') {
      await pc.addIceCandidate(s.candidate)
    }
  }

  let seq = 0
  let lamport = 0
  async function verify(chat: Omit<MinimalChat, 'verified' | 'history'>, key: string) {
    const imported = await crypto.subtle.importKey('raw', unb64url(key), { name: 'Ed25519' }, false, ['verify'])
    return crypto.subtle.verify({ name: 'Ed25519' }, imported, unb64url(chat.sig), signed(room, chat))
  }
  async function onMessage(raw: string) {
    const m = JSON.parse(raw) as TheirMessage
    if (m.type === 'ping') state.pings++
    else if (m.type === 'hello') {
      state.theirKey = m.key
      state.greeted = true
    } else if (m.type === 'chat') {
      const chat = m
      chats.push({ ...chat, verified: await verify(chat, state.theirKey), history: false })
      lamport = Math.max(lamport, chat.lamport)
      send({ type: 'ack', ids: [chat.id] })
    } else if (m.type === 'history') {
      // Each entry: the chat message exactly as its author sent it (type and sig included) and their key.
      for (const { message, key } of m.entries) {
        chats.push({ ...message, verified: await verify(message, key), history: true })
        lamport = Math.max(lamport, message.lamport)
      }
    }
    changed()
  }

  let pinger: ReturnType<typeof setInterval> | undefined
  channel.onopen = () => {
    state.open = true
    // The hello first: the other side checks our chat against the key it carries.
    send({ type: 'hello', name, have: 0, key: publicKey })
    pinger = setInterval(() => send({ type: 'ping' }), PING_MS)
    changed()
  }
  channel.onmessage = ({ data }) => {
    incoming = incoming.then(() => onMessage(String(data)))
  }
  channel.onclose = () => {
    state.closed = true
    clearInterval(pinger)
    changed()
  }

  const abort = new AbortController()
  const stream = await fetch(`${server}/stream?key=${encodeURIComponent(joined.key)}`, { signal: abort.signal })
  void readEvents(stream.body!, (type, raw) => {
    const data = JSON.parse(raw) as { from?: string; data?: string }
    if (type === 'signal' && data.from === other.id) incoming = incoming.then(() => apply(data.data!))
  }).catch(() => {})

  const offer = await pc.createOffer()
  await pc.setLocalDescription(offer)
  state.ourFingerprint = fingerprint(offer.sdp!)
  signal({ type: 'offer', sdp: pc.localDescription!.sdp })

  /** Resolves when `check` holds (checked on every message, open and close). */
  const until = (check: () => boolean) =>
    new Promise<void>((resolve) => {
      const w = () => {
        if (!check()) return
        waiters.delete(w)
        resolve()
      }
      waiters.add(w)
      w()
    })

  return {
    id: self,
    peer: other.id,
    state,
    chats,
    until,
    async say(text: string) {
      const message = { type: 'chat', id: crypto.randomUUID(), from: self, name, text, time: Date.now(), seq: ++seq, lamport: ++lamport }
      const sig = b64url(new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, signing.privateKey, signed(room, message))))
      send({ ...message, sig })
      return message.id
    },
    code: () => pairCode(state.ourFingerprint, state.theirFingerprint),
    async leave() {
      clearInterval(pinger)
      channel.close()
      pc.close()
      abort.abort()
      await post('/leave', {}, joined.token)
    },
  }
}
