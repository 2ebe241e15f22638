import SimplePeer from 'simple-peer'
import type { CreatePeer, PeerLike } from './mesh'

// The first RTCPeerConnection of a page pays for starting the browser's WebRTC machinery, and every
// connection generates a DTLS certificate. Both are done while the join request is in flight, so
// neither lands on the path from "someone joined" to "offer sent".
let certificate: RTCCertificate | undefined
let warming: Promise<void> | undefined

export function warmUp(): Promise<void> {
  if (warming || typeof RTCPeerConnection === 'undefined') return warming ?? Promise.resolve()
  const throwaway = new RTCPeerConnection()
  warming = RTCPeerConnection.generateCertificate({ name: 'ECDSA', namedCurve: 'P-256' } as EcKeyGenParams)
    .then((cert) => {
      certificate = cert
    })
    .catch(() => {}) // Chromium-only optimisation; connections generate their own otherwise.
    .finally(() => throwaway.close())
  return warming
}

/** simple-peer with trickle ICE and the page's shared certificate. */
export const createSimplePeer: CreatePeer = ({ initiator, iceServers }) =>
  new SimplePeer({
    initiator,
    trickle: true,
    config: { iceServers: iceServers as RTCIceServer[], ...(certificate ? { certificates: [certificate] } : {}) },
  }) as unknown as PeerLike
