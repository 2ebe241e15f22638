import { hex } from '../lib/crypto'

// simple-peer only calls randombytes(n).toString('hex') for local ids and channel names.
export default function randombytes(size: number): { toString(): string } {
  const bytes = crypto.getRandomValues(new Uint8Array(size))
  return {
    toString: () => hex(bytes),
  }
}
