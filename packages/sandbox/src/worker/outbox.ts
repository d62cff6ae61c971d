import ivm from 'isolated-vm';
import { RING_MIN_BODY } from '@webdat/protocol';

// An isolate's outbox: shared memory its dispatcher writes large response bodies into, so that such a
// body leaves the isolate in one copy instead of four (a slice in the isolate, isolated-vm's
// serialization and the worker's copy of it, then the worker's copy into the body ring). Profiled on
// 64 KiB responses: isolated-vm's copy out alone cost ~17 µs per body against ~3 µs for writing it
// into shared memory, and every body left a 64 KiB ArrayBuffer for the worker's GC.
//
// Each isolate has its own outbox (it never sees another server's bytes) and only the worker reads it,
// before the isolate runs again: the dispatcher writes `[length: u32 LE][bytes]` at increasing
// positions and puts the position in the response's body slot; it starts over at the first dispatch
// of a turn, when every body of the previous turn is already in the ring or encoded. What the isolate
// writes there is as untrusted as its other output: positions and lengths are checked where the
// commands are read (isolate-wire.ts), and a lie can only garble that server's own responses.

/** Per isolate, made at its first body of RING_MIN_BODY bytes or more: an isolate that never sends one has none. */
export const OUTBOX_BYTES = 1024 * 1024;

/** Makes an outbox and hands its memory to the isolate's dispatcher (`attach(memory, minBytes)`). */
export function openOutbox(attach: ivm.Reference, timeoutMs: number): Uint8Array {
  const memory = new SharedArrayBuffer(OUTBOX_BYTES);
  attach.applySync(undefined, [new ivm.ExternalCopy(memory).copyInto({ release: true }), RING_MIN_BODY], { timeout: timeoutMs });
  return new Uint8Array(memory);
}
