import { CommandKind, RING_MIN_BODY, RingWriter, type Command, type RingMemory } from '@webdat/protocol';
import type { Outbox } from './outbox.js';

// The worker's writer of its lane's body ring (protocol body-ring.ts). The ring is freed in task order,
// so only a task's bodies go there, and only while it runs; results of the host loop (timers, settled
// operations) carry their bodies inline. The same holds for bodies left in isolates' outboxes: a task's
// go to the I/O thread where they are, as ring bodies do, and the others are copied.

type Respond = Command & { c: typeof CommandKind.respond };

const NO_BYTES = new Uint8Array(0);
let writer: RingWriter | null = null;
let open = false;
let end = -1;
/** outbox id → where this task's bodies in it end */
let outboxEnds = new Map<number, number>();

export function attachRing(memory: RingMemory | undefined): void {
  writer = memory === undefined ? null : new RingWriter(memory);
}

/** A task begins: its large bodies may go to the ring. */
export function openRing(): void {
  open = true;
  end = -1;
  outboxEnds = new Map();
}

/** Whether a task runs: bodies read now may stay where they are until the I/O thread wrote them. */
export function ringIsOpen(): boolean {
  return open;
}

/** The task ends: the ring's end after its bodies (-1 when it wrote none), and [outbox, end] pairs. */
export function closeRing(): { ringEnd: number; outboxEnds: number[] } {
  open = false;
  const pairs: number[] = [];
  for (const [id, at] of outboxEnds) pairs.push(id, at);
  return { ringEnd: end, outboxEnds: pairs };
}

/** Moves `r`'s body into the ring when it is large, a task runs and there is room; returns whether it did. */
export function bodyToRing(r: Respond): boolean {
  const body = r.body;
  if (!open || writer === null || typeof body === 'string' || body.length < RING_MIN_BODY) return false;
  const at = writer.write(body);
  if (at === null) return false;
  r.rb = [0, at, body.length];
  end = at + body.length;
  r.body = NO_BYTES;
  return true;
}

/** A body read in `box`: a task's is written from there by the I/O thread, which frees it; others are copied. */
export function keepOutboxBody(r: Respond, box: Outbox): void {
  const body = r.body as Uint8Array;
  if (!open) {
    r.body = body.slice();
    return;
  }
  const at = body.byteOffset - box.data.byteOffset;
  r.rb = [box.id, at, body.length];
  r.body = NO_BYTES;
  outboxEnds.set(box.id, at + body.length);
}
