// The shared memory of workloads i and o's "shared ring" row (floor-ring.mjs): SLOTS request slots the I/O
// thread writes and SLOTS answer slots the worker writes, used in turn; a control word of batches
// sent and one of batches answered. A batch is a count and its records, each a kind and its fields;
// fields are length-prefixed UTF-8 or bytes.

export const SLOTS = 2;
export const SLOT_BYTES = 1024 * 1024;
export const CTL = { sent: 0, answered: 1 };
/** a request and its response; a WebSocket message and the message sent back */
export const Record = { request: 1, message: 2 };

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

  raw(b) {
    this.bytes.set(b, this.at + 4);
    this.view.setUint32(this.at, b.length, true);
    this.at += 4 + b.length;
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

  /** a view of the next field, valid until its slot is written again */
  raw() {
    const n = this.u32();
    const b = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return b;
  }
}
