/**
 * A small, safe formatting subset for chat text, parsed into DOM nodes (never HTML): ```code blocks```,
 * `inline code`, **bold**, _italic_ or *italic*, and http(s) links. The markers stay in the DOM in
 * hidden spans, so an entry's textContent is exactly what was sent (copying, tests, search).
 */

// A link runs to the next space or angle bracket; trailing punctuation belongs to the sentence.
const URL_START = /https?:\/\/[^\s<>"]+/y
const TRAILING = /[.,;:!?'")\]]+$/
const FENCE = '```'
// Bold may wrap other formatting; italics are one line without their own marker inside.
const INLINE =
  /(https?:\/\/)|\*\*(?=\S)([\s\S]*?\S)\*\*|(?<![\w*])\*(?=[^\s*])([^*\n]*?[^\s*])\*(?![\w*])|(?<![\w_])_(?=[^\s_])([^_\n]*?[^\s_])_(?![\w_])|`([^`\n]+)`/g

const marker = (text: string) => {
  const span = document.createElement('span')
  span.className = 'md'
  span.textContent = text
  return span
}

const wrap = (tag: string, open: string, inner: Node[], close = open) => {
  const element = document.createElement(tag)
  element.append(marker(open), ...inner, marker(close))
  return element
}

function link(raw: string): Node {
  try {
    const url = new URL(raw)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return document.createTextNode(raw)
    const a = document.createElement('a')
    a.href = url.href
    a.target = '_blank'
    a.rel = 'noopener noreferrer'
    a.textContent = raw
    return a
  } catch {
    return document.createTextNode(raw)
  }
}

/** Where a link starting at `at` ends (its trailing punctuation and unopened parentheses left out). */
function linkEnd(text: string, at: number): number {
  URL_START.lastIndex = at
  const match = URL_START.exec(text)
  if (!match) return at
  let url = match[0].replace(TRAILING, '')
  let rest = match[0].slice(url.length)
  const count = (c: string) => url.split(c).length
  // "(see https://en.wikipedia.org/wiki/Foo_(bar))" keeps the parenthesis the link opened.
  while (rest.startsWith(')') && count('(') > count(')')) {
    url += ')'
    rest = rest.slice(1)
  }
  return at + url.length
}

function inline(text: string): Node[] {
  const nodes: Node[] = []
  let plain = 0
  INLINE.lastIndex = 0
  for (let match = INLINE.exec(text); match; match = INLINE.exec(text)) {
    const start = match.index
    let node: Node
    let end: number
    if (match[1]) {
      end = linkEnd(text, start)
      if (end - start <= match[1].length) continue
      node = link(text.slice(start, end))
    } else if (match[2] !== undefined) {
      node = wrap('strong', '**', inline(match[2]))
      end = start + match[0].length
    } else if (match[3] !== undefined || match[4] !== undefined) {
      node = wrap('em', match[0][0]!, inline((match[3] ?? match[4])!))
      end = start + match[0].length
    } else {
      const code = document.createElement('code')
      code.textContent = match[5]!
      node = wrap('span', '`', [code])
      end = start + match[0].length
    }
    if (start > plain) nodes.push(document.createTextNode(text.slice(plain, start)))
    nodes.push(node)
    plain = end
    INLINE.lastIndex = end
  }
  if (plain < text.length) nodes.push(document.createTextNode(text.slice(plain)))
  return nodes
}

/** The nodes for one message's text. */
export function formatText(text: string): Node[] {
  const nodes: Node[] = []
  let at = 0
  for (;;) {
    const open = text.indexOf(FENCE, at)
    const close = open === -1 ? -1 : text.indexOf(FENCE, open + FENCE.length)
    if (close === -1) break
    nodes.push(...inline(text.slice(at, open)))
    const pre = document.createElement('pre')
    const code = document.createElement('code')
    code.textContent = text.slice(open + FENCE.length, close).replace(/^\n/, '')
    const lead = text.slice(open + FENCE.length).startsWith('\n') ? '\n' : ''
    pre.append(code)
    nodes.push(marker(FENCE + lead), pre, marker(FENCE))
    at = close + FENCE.length
  }
  nodes.push(...inline(text.slice(at)))
  return nodes
}
