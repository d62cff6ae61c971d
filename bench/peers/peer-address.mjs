// The client's address as the engine reads it (engine net/remote-address.ts), for the floor peers
// (floor.mjs, floor-ring.mjs): uWS gives it as ASCII bytes, decoded with fromCharCode.
export function peerAddress(res) {
  return String.fromCharCode.apply(null, new Uint8Array(res.getRemoteAddressAsText()));
}
