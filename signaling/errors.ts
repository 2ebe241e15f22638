import type { ErrorRequestHandler, RequestHandler } from 'express'
import type { ErrorBody, ErrorCode } from './protocol'
import type { Logger } from './log'
import { NO_OBSERVER, type Observer } from './metrics'

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

// body-parser reports its failures as errors with a `type`; each maps to a stable code.
const BODY_ERRORS: Record<string, [number, ErrorCode, string]> = {
  'entity.parse.failed': [400, 'BAD_JSON', 'request body is not valid JSON'],
  'entity.too.large': [413, 'PAYLOAD_TOO_LARGE', 'request body is too large'],
  'encoding.unsupported': [415, 'UNSUPPORTED_MEDIA_TYPE', 'unsupported content encoding'],
  'charset.unsupported': [415, 'UNSUPPORTED_MEDIA_TYPE', 'unsupported charset'],
  'request.aborted': [400, 'BAD_REQUEST', 'request aborted'],
  'request.size.invalid': [400, 'BAD_REQUEST', 'request size did not match Content-Length'],
  'stream.encoding.set': [500, 'INTERNAL', 'internal error'],
}

// Errors of Express's own machinery (static files: missing file, Range, If-Match) keep their status.
const STATUS_ERRORS: Record<number, [ErrorCode, string]> = {
  404: ['NOT_FOUND', 'not found'],
  405: ['METHOD_NOT_ALLOWED', 'method not allowed'],
  412: ['PRECONDITION_FAILED', 'precondition failed'],
  416: ['RANGE_NOT_SATISFIABLE', 'range not satisfiable'],
}

export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err
  const e = err as { type?: unknown; status?: unknown; statusCode?: unknown }
  const mapped = typeof e?.type === 'string' ? BODY_ERRORS[e.type] : undefined
  if (mapped) return new HttpError(...mapped)
  const status = Number(e?.status ?? e?.statusCode)
  const byStatus = STATUS_ERRORS[status]
  if (byStatus) return new HttpError(status, ...byStatus)
  if (status >= 400 && status < 500) return new HttpError(400, 'BAD_REQUEST', 'bad request')
  return new HttpError(500, 'INTERNAL', 'internal error')
}

export function sendError(res: Parameters<RequestHandler>[1], error: HttpError): void {
  if (error.retryAfterMs !== undefined) res.setHeader('Retry-After', String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))))
  const body: ErrorBody = { error: error.code, message: error.message }
  // A failed file send may have set the file's type already; the error is JSON.
  res.removeHeader('Content-Type')
  res.status(error.status).json(body)
}

/** Last middleware: every failure leaves as `{error, message}`; stack traces stay in the log. */
export function errorHandler(log: Logger, observer: Observer = NO_OBSERVER): ErrorRequestHandler {
  return (err, req, res, next) => {
    const error = toHttpError(err)
    observer.refused(error.code)
    // Only bugs are errors; refusals (bad input, limits, shutting down) are routine, logged for debugging.
    // The route pattern, never the raw path or query: those can carry anything a client put there.
    const route = `${req.baseUrl}${(req.route as { path?: string } | undefined)?.path ?? ''}` || '(no route)'
    if (error.code === 'INTERNAL') log.error({ err, method: req.method, route }, 'request failed')
    else log.debug({ code: error.code, status: error.status, method: req.method, route }, 'request refused')
    if (res.headersSent) return next(err)
    sendError(res, error)
  }
}

export const notFound: RequestHandler = (req, _res, next) => {
  next(new HttpError(404, 'NOT_FOUND', `no route for ${req.method} ${req.path}`))
}
