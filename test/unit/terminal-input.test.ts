import { describe, expect, it } from 'vitest'
import { parseRoomLink } from '../../client/node/index'
import { formatText, parseInput, resolvePeer } from '../../client/node/terminal-lines'

const SECRET = 'abcdefghijklmnopqrstuv'

describe('parseRoomLink', () => {
  it('reads server, room and secret from a link as the page makes it', () => {
    expect(parseRoomLink(`https://chat.example/r/AbC_12-x#${SECRET}`)).toEqual({
      server: 'https://chat.example/v1',
      room: 'AbC_12-x',
      secret: SECRET,
    })
    expect(parseRoomLink(` http://127.0.0.1:8080/r/room/#${SECRET} `)).toEqual({
      server: 'http://127.0.0.1:8080/v1',
      room: 'room',
      secret: SECRET,
    })
    expect(parseRoomLink(`https://chat.example/r/room#${SECRET}~Team%20chat`)?.secret).toBe(SECRET)
  })

  it('keeps a path prefix (Parley behind a proxy under /chat)', () => {
    expect(parseRoomLink(`https://example.org/chat/r/room#${SECRET}`)?.server).toBe('https://example.org/chat/v1')
  })

  it('refuses what is not a complete room link', () => {
    for (const link of [
      'not a url',
      `https://chat.example/r/room`, // no secret
      `https://chat.example/r/room#short`,
      `https://chat.example/r/room#${SECRET}=`, // padded: not base64url as made
      `https://chat.example/x/room#${SECRET}`,
      `https://chat.example/r/ro%20om#${SECRET}`,
      `ftp://chat.example/r/room#${SECRET}`,
    ]) {
      expect(parseRoomLink(link), link).toBeNull()
    }
  })
})

describe('terminal input', () => {
  it('sends plain lines and reads commands', () => {
    expect(parseInput('hello there', false)).toEqual({ send: 'hello there' })
    expect(parseInput('//not a command', false)).toEqual({ send: '/not a command' })
    expect(parseInput('/dm Ana see you at 5', false)).toEqual({ send: 'see you at 5', to: 'Ana' })
    expect(parseInput('/dm "Ana Lima" hi', false)).toEqual({ send: 'hi', to: 'Ana Lima' })
    expect(parseInput('/quit', false)).toEqual({ command: 'quit' })
    expect(parseInput('/name  Bot 2 ', false)).toEqual({ command: 'name', name: 'Bot 2' })
    expect(parseInput('   ', false)).toBeNull()
    expect(parseInput('/dm Ana', false)).toHaveProperty('error')
    expect(parseInput('/shrug', false)).toHaveProperty('error')
  })

  it('with --json reads one object a line, and says what is wrong with others', () => {
    expect(parseInput('{"text": "hi"}', true)).toEqual({ send: 'hi' })
    expect(parseInput('{"text": "hi", "to": "Ana"}', true)).toEqual({ send: 'hi', to: 'Ana' })
    expect(parseInput('/quit', true)).toHaveProperty('error') // no commands in JSON mode
    expect(parseInput('[1]', true)).toHaveProperty('error')
    expect(parseInput('{"text": 5}', true)).toHaveProperty('error')
    expect(parseInput('', true)).toBeNull()
  })

  it('finds a direct message’s recipient by id, or by a name only one person has', () => {
    const peers = [
      { id: 'p1', name: 'Ana', state: 'connected' as const },
      { id: 'p2', name: 'Ben', state: 'connected' as const },
      { id: 'p3', name: 'ben', state: 'connecting' as const },
    ]
    expect(resolvePeer(peers, 'p2')).toEqual({ id: 'p2' })
    expect(resolvePeer(peers, 'ana')).toEqual({ id: 'p1' })
    expect(resolvePeer(peers, 'Ben')).toHaveProperty('error')
    expect(resolvePeer(peers, 'Cleo')).toHaveProperty('error')
  })

  it('says plainly when earlier messages were taken back', () => {
    const names = (id: string) => id
    expect(formatText({ type: 'retracted', ids: ['a'] }, names)).toBe('! 1 earlier message was not by who they said: disregard it')
    expect(formatText({ type: 'retracted', ids: ['a', 'b'] }, names)).toBe('! 2 earlier messages were not by who they said: disregard them')
  })
})
