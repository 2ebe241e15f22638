import type { Credentials } from './credentials'
import { HttpError } from './errors'
import type { JoinRequest, LeaveRequest, SignalItem } from './protocol'

export const MAX_ID_CHARS = 64
export const MAX_META_CHARS = 1024
export const MAX_BATCH = 64
const ID = /^[A-Za-z0-9_-]+$/
// A verifier is at least 128 bits (22 base64url characters); Parley clients send 256 (43).
const VERIFIER = /^[A-Za-z0-9_-]{22,128}$/
// At least 96 bits of base64url, so that nobody guesses another page's join to cancel it.
const NONCE = /^[A-Za-z0-9_-]{16,64}$/

/** Room and peer ids: URL-safe, 1–64 chars (they appear in links and are spliced into JSON unescaped). */
export function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_CHARS && ID.test(value)
}

/** A JSON object (not null, not an array): the one check every parser here starts from. */
export const isObject = (body: unknown): body is Record<string, unknown> =>
  typeof body === 'object' && body !== null && !Array.isArray(body)

function object(body: unknown): Record<string, unknown> {
  if (body === undefined) {
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send a JSON body with Content-Type: application/json')
  }
  if (!isObject(body)) throw new HttpError(400, 'BAD_REQUEST', 'body must be a JSON object')
  return body
}

function nonceField(body: Record<string, unknown>): string | undefined {
  const { nonce } = body
  if (nonce === undefined) return undefined
  if (typeof nonce !== 'string' || !NONCE.test(nonce)) throw new HttpError(400, 'BAD_REQUEST', 'nonce must be 16-64 base64url characters')
  return nonce
}

function peerField(body: Record<string, unknown>, name: string, required: boolean): string | undefined {
  const value = body[name]
  if (value === undefined && !required) return undefined
  if (value === undefined) throw new HttpError(400, 'BAD_REQUEST', `missing field "${name}"`)
  if (!isId(value)) throw new HttpError(400, 'BAD_PEER', `"${name}" must be a peer id`)
  return value
}

export function parseJoin(input: unknown): JoinRequest {
  const body = object(input)
  if (body.room === undefined) throw new HttpError(400, 'BAD_REQUEST', 'missing field "room"')
  if (!isId(body.room)) {
    throw new HttpError(400, 'BAD_ROOM', `room must be 1-${MAX_ID_CHARS} characters of A-Z a-z 0-9 _ -`)
  }
  const meta = body.meta
  if (meta !== undefined && (typeof meta !== 'string' || meta.length > MAX_META_CHARS)) {
    throw new HttpError(400, 'BAD_REQUEST', `meta must be a string of at most ${MAX_META_CHARS} characters`)
  }
  const request: JoinRequest = { room: body.room }
  const peer = peerField(body, 'peer', false)
  if (peer !== undefined) request.peer = peer
  if (meta !== undefined) request.meta = meta
  if (body.verifier !== undefined) {
    if (typeof body.verifier !== 'string' || !VERIFIER.test(body.verifier)) {
      throw new HttpError(400, 'BAD_REQUEST', 'verifier must be 22-128 base64url characters')
    }
    request.verifier = body.verifier
  }
  const nonce = nonceField(body)
  if (nonce !== undefined) request.nonce = nonce
  return request
}

function signalItem(body: Record<string, unknown>): SignalItem {
  const to = peerField(body, 'to', true)!
  if (body.data === undefined || body.data === null) throw new HttpError(400, 'BAD_REQUEST', 'missing field "data"')
  return { to, data: body.data }
}

/** One signal or a batch, normalised to a list. */
export function parseSignal(input: unknown): { peer: string; items: SignalItem[]; batch: boolean } {
  const body = object(input)
  const peer = peerField(body, 'peer', true)!
  if (body.batch === undefined) return { peer, items: [signalItem(body)], batch: false }
  const { batch } = body
  if (!Array.isArray(batch) || batch.length === 0 || batch.length > MAX_BATCH) {
    throw new HttpError(400, 'BAD_REQUEST', `"batch" must be an array of 1-${MAX_BATCH} {to, data}`)
  }
  return {
    peer,
    batch: true,
    items: batch.map((item) => {
      if (!isObject(item)) throw new HttpError(400, 'BAD_REQUEST', 'each batch item must be an object')
      return signalItem(item)
    }),
  }
}

export function parseLeave(input: unknown): LeaveRequest {
  const body = object(input)
  const request: LeaveRequest = {}
  const peer = peerField(body, 'peer', false)
  if (peer !== undefined) request.peer = peer
  if (body.token !== undefined) {
    if (typeof body.token !== 'string') throw new HttpError(400, 'BAD_REQUEST', '"token" must be a string')
    request.token = body.token
  }
  const nonce = nonceField(body)
  if (nonce !== undefined) request.nonce = nonce
  return request
}

/** The session a bearer token names; UNAUTHORIZED when it is missing or not ours. */
export function sessionFrom(credentials: Credentials, token: string | undefined): string {
  const id = token === undefined ? null : credentials.verifyToken(token)
  if (id !== null) return id
  if (token !== undefined && credentials.expired('token', token)) {
    throw new HttpError(401, 'EXPIRED', 'session token expired; renew before it does, or join afresh')
  }
  throw new HttpError(401, 'UNAUTHORIZED', 'missing or invalid session token')
}
