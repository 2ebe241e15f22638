import { parseArgs } from 'node:util'
import { parseRoomLink } from './index'
import { runChat } from './terminal-chat'

const USAGE = `Usage: parley chat '<room link>' [--name <name>] [--json] [--color #rrggbb] [--history-file <path>] [--server <url>]

Joins a Parley room from the terminal: prints messages as they arrive and sends each line typed.
  --name          your name in the room (default: your user name)
  --json          one JSON object a line in ({"text": "..."} or {"text": "...", "to": "<id or name>"}) and out
  --color         the colour shown with your name
  --history-file  keep the room's history in this JSON file between runs
  --server        the signaling API, when it is not <link origin>/v1
Typed commands: /dm <name> <text>, /who, /name <new>, /quit (or end of input).`

// Exit codes: 0 left normally, 1 the room refused us (e.g. ROOM_FULL), 2 a bad command line or link.
const EXIT_USAGE = 2
// After leaving, the goodbye request gets this long before the process ends regardless.
const EXIT_GRACE_MS = 3_000

function usage(message: string): never {
  process.stderr.write(`parley: ${message}\n\n${USAGE}\n`)
  process.exit(EXIT_USAGE)
}

export async function main(argv: string[]): Promise<void> {
  let parsed: ReturnType<typeof parseOptions>
  try {
    parsed = parseOptions(argv)
  } catch (err) {
    usage((err as Error).message)
  }
  const { values, positionals } = parsed
  if (values.help) return void process.stdout.write(`${USAGE}\n`)
  const [command, rawLink, ...extra] = positionals
  if (command !== 'chat') usage(command ? `unknown command "${command}"` : 'missing command')
  if (!rawLink || extra.length > 0) usage(rawLink ? 'one room link only' : 'missing room link')
  const link = parseRoomLink(rawLink)
  if (!link) usage(`not a room link: ${JSON.stringify(rawLink)} (expected https://host/r/<room>#<secret>, quoted)`)
  if (values.server) {
    if (!/^https?:\/\/[^/]/.test(values.server)) usage(`--server must be an http(s) URL, got ${JSON.stringify(values.server)}`)
    link.server = values.server.replace(/\/+$/, '')
  }
  if (values.color && !/^#[0-9a-f]{6}$/i.test(values.color)) usage(`--color must look like #3b5bdb`)
  const name = values.name ?? process.env.USER ?? 'terminal'

  const chat = runChat({
    link,
    name,
    json: values.json ?? false,
    ...(values.color ? { color: values.color } : {}),
    ...(values['history-file'] ? { historyFile: values['history-file'] } : {}),
    input: process.stdin,
    output: process.stdout,
    errors: process.stderr,
  })
  let signals = 0
  const stop = () => (++signals > 1 ? process.exit(130) : void chat.quit())
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  process.exitCode = await chat
  // stdin may still hold the event loop (a terminal); everything of ours is closed by now.
  process.stdin.destroy()
  setTimeout(() => process.exit(), EXIT_GRACE_MS).unref()
}

function parseOptions(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      json: { type: 'boolean' },
      color: { type: 'string' },
      'history-file': { type: 'string' },
      server: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}
