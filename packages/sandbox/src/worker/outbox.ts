import ivm from 'isolated-vm';
import { OUTBOX_DATA_AT, RING_MIN_BODY, outboxViews } from '@webdat/protocol';
import type { OutboxNews } from '../shared/task-reply.js';

// An isolate's outbox: shared memory its dispatcher writes large response bodies into, so that such a
// body leaves the isolate in one copy instead of four (a slice in the isolate, isolated-vm's
// serialization and the worker's copy of it, then the worker's copy into the body ring). Profiled on
// 64 KiB responses: isolated-vm's copy out alone cost ~17 µs per body against ~3 µs for writing it
// into shared memory, and every body left a 64 KiB ArrayBuffer for the worker's GC.
//
// Each isolate has its own outbox (it never sees another server's bytes). It is a ring (protocol
// body-ring.ts): the dispatcher writes `[length: u32 LE][bytes]` after the last body, and the I/O
// thread, which writes a body of a task's responses to its socket straight from there, frees it. What
// the isolate writes there is as untrusted as its other output: positions and lengths are checked where
// the commands are read (isolate-wire.ts) and travel from there, so a lie, or bytes changed after the
// fact, can only garble that server's own responses.
//
// An isolate gets a small outbox at its first large body and a larger one, in its place, once a body
// found the small one full (body-ring.ts has the sizes), so servers that send a large body now and then
// hold 1 MiB and only busy ones 4 MiB.
//
// The I/O thread learns of an outbox with the next task result (worker.ts), and that it is gone with
// the result after its isolate went, when nothing can name it any more.

export interface Outbox {
  /** > 0: memory 0 is the worker's body ring */
  id: number;
  memory: SharedArrayBuffer;
  data: Uint8Array;
}

let lastId = 0;
let opened: Outbox[] = [];
let closed: number[] = [];

/** Makes an outbox of `bytes` and hands its memory to the isolate's dispatcher (`attach(memory, dataAt, minBytes)`). */
export function openOutbox(attach: ivm.Reference, timeoutMs: number, bytes: number): Outbox {
  const memory = new SharedArrayBuffer(bytes);
  attach.applySync(undefined, [new ivm.ExternalCopy(memory).copyInto({ release: true }), OUTBOX_DATA_AT, RING_MIN_BODY], { timeout: timeoutMs });
  const box = { id: ++lastId, memory, data: outboxViews(memory).data };
  opened.push(box);
  return box;
}

/** Its isolate is gone. */
export function closeOutbox(box: Outbox): void {
  closed.push(box.id);
}

/** Outboxes opened and closed since the last call, for the I/O thread. */
export function takeOutboxNews(): OutboxNews | null {
  if (opened.length === 0 && closed.length === 0) return null;
  const news: OutboxNews = { opened: opened.map((b) => [b.id, b.memory]), closed };
  opened = [];
  closed = [];
  return news;
}
