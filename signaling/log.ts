import { pino } from 'pino'

export type Logger = pino.Logger

/**
 * The one logger. JSON lines on stdout; silent unless a level is given. Never log tokens, stream keys,
 * signal payloads or chat text: failed requests are logged with method and path (never the query).
 */
export function createLogger(level: string = 'silent'): Logger {
  return pino({ level, base: undefined, redact: ['req.headers.authorization', 'token', 'key'] })
}
