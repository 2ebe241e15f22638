import { pino } from 'pino'

export type Logger = pino.Logger

/**
 * The one logger. JSON lines on stdout; silent unless a level is given. Never log tokens, stream keys,
 * signal payloads or chat text: request logging records method, path (without query) and status only.
 */
export function createLogger(level: string = 'silent'): Logger {
  return pino({ level, base: undefined, redact: ['req.headers.authorization', 'token', 'key'] })
}
