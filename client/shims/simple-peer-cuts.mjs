// What the page's copy of simple-peer leaves out (simple-peer.mjs applies these cuts, in this order, to the
// 9.11.1 source it checks by hash), each group with why the page never runs it.
// https://github.com/feross/simple-peer/blob/v9.11.1/index.js

/** The text between a method's signature and its closing brace, at the class body's indentation. */
const method = (name) => new RegExp(`\\n  ${name} \\([^)]*\\) \\{\\n[\\s\\S]*?\\n  \\}\\n`, 'g')

/**
 * Media: Parley sends no audio or video, so nothing ever adds a track, a stream or a transceiver, and the
 * initiator never asks for one. A remote offer's media lines would only have fed 'track'/'stream' events
 * nobody listens for, and a 'transceiverRequest' signal (only a media peer sends one) is now ignored
 * rather than answered with an audio or video transceiver. 671 bytes gzipped.
 */
const MEDIA_METHODS = [
  'addTransceiver',
  'addStream',
  'addTrack',
  'replaceTrack',
  'removeTrack',
  'removeStream',
  '_requestMissingTransceivers',
  '_onTrack',
]
const MEDIA = {
  label: 'media',
  names: [...MEDIA_METHODS, '_senderMap', '_sendersAwaitingStable', '_remoteTracks', '_remoteStreams', 'streams', 'ontrack'],
  cuts: [
    ...MEDIA_METHODS.map(method),
    '    this.streams = opts.streams || (opts.stream ? [opts.stream] : []) // support old "stream" option\n',
    '    this._sendersAwaitingStable = []\n    this._senderMap = new Map()\n',
    '    this._remoteTracks = []\n    this._remoteStreams = []\n',
    `    if (this.streams) {
      this.streams.forEach(stream => {
        this.addStream(stream)
      })
    }
    this._pc.ontrack = event => {
      this._onTrack(event)
    }
`,
    `    if (data.transceiverRequest && this.initiator) {
      this._debug('got request for transceiver')
      this.addTransceiver(data.transceiverRequest.kind, data.transceiverRequest.init)
    }
`,
    '      this._remoteTracks = null\n      this._remoteStreams = null\n      this._senderMap = null\n',
    '        this._pc.ontrack = null\n',
    '          if (!this.initiator) this._requestMissingTransceivers()\n',
    `      // HACK: Firefox doesn't yet support removing tracks when signalingState !== 'stable'
      this._debug('flushing sender queue', this._sendersAwaitingStable)
      this._sendersAwaitingStable.forEach(sender => {
        this._pc.removeTrack(sender)
        this._queuedNegotiation = true
      })
      this._sendersAwaitingStable = []
`,
  ],
}

/**
 * getStats() in the callback style of pre-2018 Chrome and React Native: every browser the page targets
 * takes the standard, promise-based branch (RTCPeerConnection.prototype.getStats.length is 0). 101 bytes gzipped.
 */
const LEGACY_STATS = {
  label: 'legacy getStats',
  names: ['_isReactNativeWebrtc', '_peerConnectionId', 'stat'],
  cuts: [
    `    // We prefer feature detection whenever possible, but sometimes that's not
    // possible for certain implementations.
    this._isReactNativeWebrtc = typeof this._pc._peerConnectionId === 'number'
`,
    ['    if (this._pc.getStats.length === 0 || this._isReactNativeWebrtc) {\n', '    {\n'],
    [
      /\n {4}\/\/ Single-parameter callback-based getStats\(\) \(non-standard\)\n {4}\} else if [\s\S]*?\n {6}cb\(null, \[\]\)\n {4}\}\n/g,
      '\n    }\n',
    ],
  ],
}

/**
 * Node's stream.Writable side: the Duplex stand-in (readable-stream.ts) has no write() or end() callers
 * that reach _write or 'finish' while the peer lives, so no chunk or write callback is ever held, and the
 * backpressure interval (for channels without bufferedAmountLowThreshold, which every target browser has)
 * would only poll for one. The threshold itself stays: whenDrained (webrtc.ts) waits on the channel's
 * 'bufferedamountlow'. 229 bytes gzipped.
 */
const STREAM_WRITES = {
  label: 'stream writes',
  names: [
    '_read',
    '_write',
    '_chunk',
    '_cb',
    '_interval',
    '_onInterval',
    '_onChannelBufferedAmountLow',
    '_onFinish',
    '_onFinishBound',
    'onbufferedamountlow',
  ],
  cuts: [
    method('_write'),
    method('_onInterval'),
    method('_onChannelBufferedAmountLow'),
    '  _read () {}\n',
    `  // When stream finishes writing, close socket. Half open connections are not
  // supported.
  _onFinish () {
    if (this.destroyed) return

    // Wait a bit before destroying so the socket flushes.
    // TODO: is there a more reliable way to accomplish this?
    const destroySoon = () => {
      setTimeout(() => this.destroy(), 1000)
    }

    if (this._connected) {
      destroySoon()
    } else {
      this.once('connect', destroySoon)
    }
  }
`,
    '    this._chunk = null\n    this._cb = null\n    this._interval = null\n',
    `    this._onFinishBound = () => {
      this._onFinish()
    }
    this.once('finish', this._onFinishBound)
`,
    `      clearInterval(this._interval)
      this._interval = null
      this._chunk = null
      this._cb = null

      if (this._onFinishBound) this.removeListener('finish', this._onFinishBound)
      this._onFinishBound = null
`,
    `    this._channel.onbufferedamountlow = () => {
      this._onChannelBufferedAmountLow()
    }
`,
    `        if (this._chunk) {
          try {
            this.send(this._chunk)
          } catch (err) {
            return this.destroy(errCode(err, 'ERR_DATA_CHANNEL'))
          }
          this._chunk = null
          this._debug('sent chunk from "write before connect"')

          const cb = this._cb
          this._cb = null
          cb(null)
        }

        // If \`bufferedAmountLowThreshold\` and 'onbufferedamountlow' are unsupported,
        // fallback to using setInterval to implement backpressure.
        if (typeof this._channel.bufferedAmountLowThreshold !== 'number') {
          this._interval = setInterval(() => this._onInterval(), 150)
          if (this._interval.unref) this._interval.unref()
        }
`,
  ],
}

/**
 * The addresses of the selected candidate pair (localAddress, remotePort, address(), …), which simple-peer
 * reads out of the stats before 'connect': nothing in the page reads them (peer-link.ts asks getStats for
 * the route itself), and the finding of the pair, which 'connect' waits for, stays. 243 bytes gzipped.
 */
const ADDRESSES = {
  label: 'addresses',
  names: [
    'localAddress',
    'localPort',
    'localFamily',
    'remoteAddress',
    'remotePort',
    'remoteFamily',
    'googLocalAddress',
    'googRemoteAddress',
    'ipAddress',
    'portNumber',
  ],
  cuts: [
    method('address'),
    `    this.remoteAddress = undefined
    this.remoteFamily = undefined
    this.remotePort = undefined
    this.localAddress = undefined
    this.localFamily = undefined
    this.localPort = undefined
`,
    [
      /\n {10}let local = localCandidates\[selectedCandidatePair\.localCandidateId\]\n[\s\S]*?\n {12}this\.remotePort\n {10}\)\n/g,
      // A pair the transport names but the report lacks counts as found: simple-peer's reading of it threw
      // inside its stats callback, an unhandled rejection that left the peer never connecting.
      '\n',
    ],
  ],
}

/**
 * Trickle ICE, always: the page's only peer (createSimplePeer, webrtc.ts) passes `trickle: true` and no
 * `allowHalfTrickle` or `sdpTransform`, so a description is never stripped of its trickle line, never
 * transformed, and always signalled at once rather than after the last candidate.
 */
const TRICKLE = {
  label: 'trickle',
  names: ['filterTrickle', 'allowHalfTrickle', 'sdpTransform', 'this\\.trickle'],
  cuts: [
    `// HACK: Filter trickle lines when trickle is disabled #354
function filterTrickle (sdp) {
  return sdp.replace(/a=ice-options:trickle\\s\\n/g, '')
}
`,
    '    this.sdpTransform = opts.sdpTransform || (sdp => sdp)\n',
    `    this.trickle = opts.trickle !== undefined ? opts.trickle : true
    this.allowHalfTrickle = opts.allowHalfTrickle !== undefined ? opts.allowHalfTrickle : false
`,
    `        if (!this.trickle && !this.allowHalfTrickle) offer.sdp = filterTrickle(offer.sdp)
        offer.sdp = this.sdpTransform(offer.sdp)
`,
    `        if (!this.trickle && !this.allowHalfTrickle) answer.sdp = filterTrickle(answer.sdp)
        answer.sdp = this.sdpTransform(answer.sdp)
`,
    [
      `          if (this.trickle || this._iceComplete) sendOffer()
          else this.once('_iceComplete', sendOffer) // wait for candidates
`,
      '          sendOffer()\n',
    ],
    [
      `          if (this.trickle || this._iceComplete) sendAnswer()
          else this.once('_iceComplete', sendAnswer)
`,
      '          sendAnswer()\n',
    ],
    ['    if (event.candidate && this.trickle) {\n', '    if (event.candidate) {\n'],
  ],
}

/**
 * Node's stream.Readable side: nothing in the page listens for 'end' or 'finish' (the mesh hears 'data' and
 * 'close'), so destroy() need not end either side, and a message is emitted as 'data' without push(). The
 * stand-in (readable-stream.ts) is then a bare EventEmitter.
 */
const STREAM_ENDS = {
  label: 'stream ends',
  names: ['allowHalfOpen', '_readableState', '_writableState', 'this\\.push', 'this\\.end'],
  cuts: [
    [
      `    opts = Object.assign({
      allowHalfOpen: false
    }, opts)

    super(opts)
`,
      '    super()\n',
    ],
    `      this.readable = this.writable = false

      if (!this._readableState.ended) this.push(null)
      if (!this._writableState.finished) this.end()
`,
    ['    this.push(data)\n', "    this.emit('data', data)\n"],
  ],
}

/**
 * Defaults the page's peer never falls back on: createSimplePeer (webrtc.ts) always passes `config` with its
 * own `iceServers` key (the room's list, possibly empty), which Object.assign copies over the public STUN
 * servers; it passes no `wrtc`; the page always has a window (only the browser's message can be thrown); and
 * nothing reads Peer.WEBRTC_SUPPORT.
 */
const DEFAULTS = {
  label: 'defaults',
  names: ['WEBRTC_SUPPORT', 'opts\\.wrtc', 'stun'],
  cuts: [
    [
      "    this._wrtc = (opts.wrtc && typeof opts.wrtc === 'object')\n      ? opts.wrtc\n      : getBrowserRTC()\n",
      '    this._wrtc = getBrowserRTC()\n',
    ],
    [
      `      if (typeof window === 'undefined') {
        throw errCode(new Error('No WebRTC support: Specify \`opts.wrtc\` option in this environment'), 'ERR_WEBRTC_SUPPORT')
      } else {
        throw errCode(new Error('No WebRTC support: Not a supported browser'), 'ERR_WEBRTC_SUPPORT')
      }
`,
      "      throw errCode(new Error('No WebRTC support: Not a supported browser'), 'ERR_WEBRTC_SUPPORT')\n",
    ],
    'Peer.WEBRTC_SUPPORT = !!getBrowserRTC()\n',
    `  iceServers: [
    {
      urls: [
        'stun:stun.l.google.com:19302',
        'stun:global.stun.twilio.com:3478'
      ]
    }
  ],
`,
  ],
}

/**
 * Stats as the standard gives them in every browser the page targets: hyphenated report types, no report
 * with a `values` array to flatten, no `googCandidatePair` (Chrome before 58). The remote candidates were
 * kept for their addresses only (ADDRESSES). Firefox's `selected` pair stays.
 */
const STANDARD_STATS = {
  label: 'standard stats',
  names: [
    'flattenValues',
    'remoteCandidates',
    'googCandidatePair',
    'googActiveConnection',
    'remotecandidate',
    'localcandidate',
    'candidatepair',
  ],
  cuts: [
    `    // statreports can come with a value array instead of properties
    const flattenValues = report => {
      if (Object.prototype.toString.call(report.values) === '[object Array]') {
        report.values.forEach(value => {
          Object.assign(report, value)
        })
      }
      return report
    }

`,
    ['            reports.push(flattenValues(report))\n', '            reports.push(report)\n'],
    '        const remoteCandidates = {}\n',
    `          // TODO: Once all browsers support the hyphenated stats report types, remove
          // the non-hypenated ones
          if (item.type === 'remotecandidate' || item.type === 'remote-candidate') {
            remoteCandidates[item.id] = item
          }
`,
    [
      "          if (item.type === 'localcandidate' || item.type === 'local-candidate') {\n",
      "          if (item.type === 'local-candidate') {\n",
    ],
    [
      "          if (item.type === 'candidatepair' || item.type === 'candidate-pair') {\n",
      "          if (item.type === 'candidate-pair') {\n",
    ],
    [
      `          // Old implementations
          if (
            (item.type === 'googCandidatePair' && item.googActiveConnection === 'true') ||
            ((item.type === 'candidatepair' || item.type === 'candidate-pair') && item.selected)
          ) {
`,
      "          // Firefox\n          if (item.type === 'candidate-pair' && item.selected) {\n",
    ],
  ],
}

/**
 * What nothing in the page reads: the `bufferSize` and `connected` getters (the mesh keeps its own state),
 * and the events nobody listens for ('iceTimeout', 'negotiated', 'signalingStateChange'; an emit without
 * listeners does nothing).
 */
const UNREAD = {
  label: 'unread',
  names: ['bufferSize', 'get connected', 'iceTimeout', "this\\.emit\\('negotiated", 'signalingStateChange'],
  cuts: [
    `  get bufferSize () {
    return (this._channel && this._channel.bufferedAmount) || 0
  }

`,
    `  // HACK: it's possible channel.readyState is "closing" before peer.destroy() fires
  // https://bugs.chromium.org/p/chromium/issues/detail?id=882743
  get connected () {
    return (this._connected && this._channel.readyState === 'open')
  }

`,
    "        this.emit('iceTimeout')\n",
    [
      `      } else {
        this._debug('negotiated')
        this.emit('negotiated')
      }
`,
      '      }\n',
    ],
    `    this._debug('signalingStateChange %s', this._pc.signalingState)
    this.emit('signalingStateChange', this._pc.signalingState)
`,
  ],
}

/**
 * Options the page's peer never passes (createSimplePeer, webrtc.ts, passes `initiator`, `trickle` and
 * `config` only): each is its default, and an empty options dictionary is the same as none (WebIDL). The
 * data channel is never pre-negotiated, so the answerer takes it from 'datachannel' as before.
 */
const OPTIONS = {
  label: 'options',
  names: ['channelConfig', 'channelNegotiated', 'offerOptions', 'answerOptions', 'opts\\.channelName', 'iceCompleteTimeout'],
  cuts: [
    ["      ? opts.channelName || randombytes(20).toString('hex')\n", "      ? randombytes(20).toString('hex')\n"],
    '    this.channelConfig = opts.channelConfig || Peer.channelConfig\n    this.channelNegotiated = this.channelConfig.negotiated\n',
    '    this.offerOptions = opts.offerOptions || {}\n    this.answerOptions = opts.answerOptions || {}\n',
    '    this.iceCompleteTimeout = opts.iceCompleteTimeout || ICECOMPLETE_TIMEOUT\n',
    ['    }, this.iceCompleteTimeout)\n', '    }, ICECOMPLETE_TIMEOUT)\n'],
    ['    if (this.initiator || this.channelNegotiated) {\n', '    if (this.initiator) {\n'],
    ['this._pc.createDataChannel(this.channelName, this.channelConfig)', 'this._pc.createDataChannel(this.channelName)'],
    ['this._pc.createOffer(this.offerOptions)', 'this._pc.createOffer()'],
    ['this._pc.createAnswer(this.answerOptions)', 'this._pc.createAnswer()'],
    `
/**
 * Expose peer and data channel config for overriding all Peer
 * instances. Otherwise, just set opts.config or opts.channelConfig
 * when constructing a Peer.
 */
`,
    '\nPeer.channelConfig = {}\n',
  ],
}

/**
 * An ES module rather than CommonJS, importing ES-module shims: esbuild then needs none of its CommonJS
 * interop (the require wrappers and the runtime chunk that carries them) anywhere in the page. Its
 * queueMicrotask is the platform's own, as the shim it required was. 740 bytes gzipped.
 */
export const DEBUG_AND_MODULE = {
  label: 'debug and module',
  names: ['_debug', 'debug', 'require', 'module', '_id'],
  cuts: [
    method('_debug'),
    // The peer's name in its debug lines, and nowhere else.
    "    this._id = randombytes(4).toString('hex').slice(0, 7)\n",
    [
      `const debug = require('debug')('simple-peer')
const getBrowserRTC = require('get-browser-rtc')
const randombytes = require('randombytes')
const stream = require('readable-stream')
const queueMicrotask = require('queue-microtask') // TODO: remove when Node 10 is not supported
const errCode = require('err-code')
const { Buffer } = require('buffer')
`,
      `import getBrowserRTC from 'get-browser-rtc'
import randombytes from 'randombytes'
import stream from 'readable-stream'
import errCode from 'err-code'
import { Buffer } from 'buffer'
`,
    ],
    ['\nmodule.exports = Peer\n', '\nexport default Peer\n'],
  ],
}

/**
 * simple-peer's poll of every channel each 5 s for a Chrome bug of 2018 that left a channel in 'closing'
 * (https://bugs.chromium.org/p/chromium/issues/detail?id=882743): the page drops a link whose channel
 * carried nothing for 5 s, its pings included (SILENCE_MS, peer-link.ts), stuck or not. And the console
 * warning for a remote mDNS candidate this browser cannot resolve, which is still ignored.
 */
const WORKAROUNDS = {
  label: 'workarounds',
  names: ['_closingInterval', 'CHANNEL_CLOSING_TIMEOUT', 'isClosing', 'warn'],
  cuts: [
    '      clearInterval(this._closingInterval)\n      this._closingInterval = null\n',
    '    this._closingInterval = null\n',
    'const CHANNEL_CLOSING_TIMEOUT = 5 * 1000\n',
    /\n {4}\/\/ HACK: Chrome will sometimes get stuck in readyState "closing"[\s\S]*?\}, CHANNEL_CLOSING_TIMEOUT\)\n/g,
    'function warn (message) {\n  console.warn(message)\n}\n',
    ["          warn('Ignoring unsupported ICE candidate.')\n", '          // An mDNS name this browser cannot resolve.\n'],
  ],
}

/** In the order they apply: a later cut may match text an earlier one left. */
export const CUTS = [
  MEDIA,
  LEGACY_STATS,
  STREAM_WRITES,
  ADDRESSES,
  TRICKLE,
  STREAM_ENDS,
  DEFAULTS,
  OPTIONS,
  STANDARD_STATS,
  UNREAD,
  WORKAROUNDS,
]
