// Large response bodies travel from a worker to the I/O thread through shared memory, not inside the
// transferred result message. Profiled on 64 KiB responses: every transferred megabyte was external
// memory on the I/O thread, and V8 answered with ~27 full mark-compact GCs per second (≈30% of that
// thread); msgpackr and the fresh transfer buffer also copied each body twice more in the worker.
// Here a body is copied once into a ring the worker writes and the I/O thread frees, in order.
//
// A body a callback hands over as bytes does better still: the isolate writes it into its own outbox
// (sandbox worker/outbox.ts), a ring of the same kind, and the I/O thread writes it to the socket from
// there. Measured on 64 KiB responses, the worker's copy into the worker's ring cost ~4 µs of ~60 per
// request. The isolate writes its outbox and the I/O thread frees it; nobody else ever reads it.

/** Bodies below this stay inline in the message: a ring slot is not worth it. */
export const RING_MIN_BODY = 8 * 1024;
/** Per worker; a body that does not fit goes inline (never blocks, never fails). */
export const RING_BYTES = 16 * 1024 * 1024;

export interface RingMemory {
  data: SharedArrayBuffer;
  /** [written, freed]: absolute byte counts, so wrap-around never makes them ambiguous */
  cursors: SharedArrayBuffer;
}

/**
 * An outbox: `[freed: i32][4 unused bytes][data]`. `freed` is where the bytes the isolate has not yet
 * seen freed begin, in data; the I/O thread stores it, the isolate only loads it. Data begins 8-aligned.
 */
export const OUTBOX_DATA_AT = 8;
/** An isolate's first outbox, made at its first large body. */
export const OUTBOX_FIRST_BYTES = 1024 * 1024;
/**
 * The outbox of an isolate whose bodies found its first one full: two batches in flight of ~30 bodies
 * of 64 KiB fit. Measured on 64 KiB GETs, server CPU per request: 45–49 µs with 4 MiB, 57 with 2 MiB,
 * 62–66 with 1 MiB (a body that finds no room is copied out the ordinary way).
 */
export const OUTBOX_MAX_BYTES = 4 * 1024 * 1024;

export interface OutboxViews {
  data: Uint8Array;
  freed: Int32Array;
}

export function outboxViews(memory: SharedArrayBuffer): OutboxViews {
  return { data: new Uint8Array(memory, OUTBOX_DATA_AT), freed: new Int32Array(memory, 0, 1) };
}

export function createRingMemory(): RingMemory {
  return { data: new SharedArrayBuffer(RING_BYTES), cursors: new SharedArrayBuffer(16) };
}

class Ring {
  protected readonly bytes: Uint8Array;
  protected readonly cursors: BigInt64Array;

  constructor(m: RingMemory) {
    this.bytes = new Uint8Array(m.data);
    this.cursors = new BigInt64Array(m.cursors);
  }
}

/** The worker's side: copies a body in and says where it is, or returns null when it is full. */
export class RingWriter extends Ring {
  write(body: Uint8Array): number | null {
    const size = this.bytes.length;
    const written = Number(Atomics.load(this.cursors, 0));
    const freed = Number(Atomics.load(this.cursors, 1));
    let at = written + sameAlignment(written, body.byteOffset);
    // A body is kept contiguous: the tail of the ring is skipped when it does not fit there.
    if (at % size + body.length > size) at += size - at % size + sameAlignment(0, body.byteOffset);
    if (at % size + body.length > size || at + body.length - freed > size) return null;
    this.bytes.set(body, at % size);
    Atomics.store(this.cursors, 0, BigInt(at + body.length));
    return at;
  }
}

/**
 * How far past `at` a copy of bytes at `offset` must start to sit at the same place modulo 8. V8 copies
 * into or out of shared memory word by word only where source and target agree modulo 8, and byte by
 * byte otherwise: measured 21 µs against 3.8 µs for 64 KiB (a body ring or outbox copy).
 */
export function sameAlignment(at: number, offset: number): number {
  return (offset - at) & 7;
}

/** The I/O thread's side: views of bodies, and freeing them once written to their sockets. */
export class RingReader extends Ring {
  /** A view valid until `free` passes its end: whoever keeps it longer must copy it. */
  view(at: number, length: number): Uint8Array {
    const offset = at % this.bytes.length;
    return this.bytes.subarray(offset, offset + length);
  }

  free(upTo: number): void {
    Atomics.store(this.cursors, 1, BigInt(upTo));
  }

  /** The writer is gone with results nobody will read: everything it wrote is free. */
  freeAll(): void {
    Atomics.store(this.cursors, 1, Atomics.load(this.cursors, 0));
  }
}
