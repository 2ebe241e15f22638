// simple-peer tags its errors with err-code(err, 'ERR_…'). Its errors are never frozen, so the package's
// fallback (a copy of a frozen error) is not needed; defineProperty, as the package does, because a
// DOMException's inherited `code` is a getter that plain assignment would throw on.
export default function errCode(err: Error, code: string): Error {
  return Object.defineProperty(err, 'code', { value: code, enumerable: true, configurable: true })
}
