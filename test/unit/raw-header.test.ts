import { createServer, type IncomingMessage } from 'node:http'
import { connect } from 'node:net'
import { describe, expect, it } from 'vitest'
import { rawHeader } from '../../signaling/http'

/** The request Node parses from `head`, handed over as it arrives at a real server on port 0. */
async function receive(head: string): Promise<IncomingMessage> {
  const server = createServer()
  const arrived = new Promise<IncomingMessage>((resolve) =>
    server.once('request', (req: IncomingMessage, res) => {
      resolve(req)
      res.end()
    }),
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  const socket = connect(port, '127.0.0.1', () => socket.write(head))
  try {
    return await arrived
  } finally {
    socket.destroy()
    server.close()
  }
}

describe('rawHeader', () => {
  it('reads a field as req.headers does: any case, repeats joined, absent as undefined', async () => {
    const req = await receive(
      'GET /v1/stream HTTP/1.1\r\nHost: x\r\nORIGIN: https://a.example\r\nlast-event-id: abc-1\r\nOrigin: https://b.example\r\n\r\n',
    )
    expect(rawHeader(req, 'origin')).toBe('https://a.example, https://b.example')
    expect(rawHeader(req, 'last-event-id')).toBe('abc-1')
    expect(rawHeader(req, 'authorization')).toBeUndefined()
    // The same answers as Node's own (built only now, after the reads above).
    expect(rawHeader(req, 'origin')).toBe(req.headers.origin)
    expect(rawHeader(req, 'last-event-id')).toBe(req.headers['last-event-id'])
  })
})
