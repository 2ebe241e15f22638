// simple-peer's WebRTC lookup: every browser the page targets has the unprefixed constructors.
export default function getBrowserRTC() {
  if (!globalThis.RTCPeerConnection) return null
  return { RTCPeerConnection, RTCSessionDescription, RTCIceCandidate }
}
