// simple-peer wraps incoming binary messages with Buffer.from(arrayBuffer); a Uint8Array view serves.
export const Buffer = {
  from: (data: ArrayBuffer) => new Uint8Array(data),
}
