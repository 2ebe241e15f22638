// simple-peer only calls randombytes(n).toString('hex') for local ids and channel names.
export default function randombytes(size: number): { toString(): string } {
  const bytes = crypto.getRandomValues(new Uint8Array(size))
  return {
    toString: () => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(''),
  }
}
