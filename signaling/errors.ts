import type { ErrorCode } from './protocol'

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message)
  }
}

/** A backing store (Redis) is unreachable: the request may succeed in a moment, elsewhere or here. */
export class Unavailable extends Error {}

// ioredis retries a lost connection with backoff starting at tens of milliseconds: a second is
// about when a retry has a chance.
const UNAVAILABLE_RETRY_MS = 1_000

// Errors of Express's own machinery (static files: missing file, Range, If-Match) keep their status.
const STATUS_ERRORS: Record<number, [ErrorCode, string]> = {
  404: ['NOT_FOUND', 'not found'],
  405: ['METHOD_NOT_ALLOWED', 'method not allowed'],
  412: ['PRECONDITION_FAILED', 'precondition failed'],
  416: ['RANGE_NOT_SATISFIABLE', 'range not satisfiable'],
}

/** The one mapping of anything thrown to what the client is told; stack traces stay in the log. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err
  if (err instanceof Unavailable) {
    return new HttpError(503, 'UNAVAILABLE', 'signaling storage is unavailable; retry shortly', UNAVAILABLE_RETRY_MS)
  }
  const e = err as { status?: unknown; statusCode?: unknown }
  const status = Number(e?.status ?? e?.statusCode)
  const byStatus = STATUS_ERRORS[status]
  if (byStatus) return new HttpError(status, ...byStatus)
  if (status >= 400 && status < 500) return new HttpError(400, 'BAD_REQUEST', 'bad request')
  return new HttpError(500, 'INTERNAL', 'internal error')
}
