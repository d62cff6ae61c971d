// The shared memory of workload i's "shared ring" row (floor-ring.mjs): SLOTS request slots the I/O
// thread writes and SLOTS answer slots the worker writes, used in turn; a control word of batches
// sent and one of batches answered. Fields are length-prefixed UTF-8.

export const SLOTS = 2;
export const SLOT_BYTES = 1024 * 1024;
export const CTL = { sent: 0, answered: 1 };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class Writer {
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.at = 0;
  }

  u32(n) {
    this.view.setUint32(this.at, n, true);
    this.at += 4;
  }

  str(s) {
    const { written } = encoder.encodeInto(s, this.bytes.subarray(this.at + 4));
    this.view.setUint32(this.at, written, true);
    this.at += 4 + written;
  }
}

export class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.at = 0;
  }

  u32() {
    const n = this.view.getUint32(this.at, true);
    this.at += 4;
    return n;
  }

  str() {
    const n = this.u32();
    const s = decoder.decode(this.bytes.subarray(this.at, this.at + n));
    this.at += n;
    return s;
  }
}
