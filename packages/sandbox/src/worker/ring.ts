import { CommandKind, RING_MIN_BODY, RingWriter, type Command, type RingMemory } from '@webdat/protocol';

// The worker's writer of its lane's body ring (protocol body-ring.ts). The ring is freed in task order,
// so only a task's bodies go there, and only while it runs; results of the host loop (timers, settled
// operations) carry their bodies inline.

type Respond = Command & { c: typeof CommandKind.respond };

const NO_BYTES = new Uint8Array(0);
let writer: RingWriter | null = null;
let open = false;
let end = -1;

export function attachRing(memory: RingMemory | undefined): void {
  writer = memory === undefined ? null : new RingWriter(memory);
}

/** A task begins: its large bodies may go to the ring. */
export function openRing(): void {
  open = true;
  end = -1;
}

/** The task ends: the ring's end after its bodies, or -1 when it wrote none. */
export function closeRing(): number {
  open = false;
  return end;
}

/** Moves `r`'s body into the ring when it is large, a task runs and there is room; returns whether it did. */
export function bodyToRing(r: Respond): boolean {
  const body = r.body;
  if (!open || writer === null || typeof body === 'string' || body.length < RING_MIN_BODY) return false;
  const at = writer.write(body);
  if (at === null) return false;
  r.rb = [at, body.length];
  end = at + body.length;
  r.body = NO_BYTES;
  return true;
}

/** A body read in the isolate's outbox, which the isolate reuses at its next call: into the ring, or copied. */
export function keepOutboxBody(r: Respond): void {
  if (!bodyToRing(r)) r.body = (r.body as Uint8Array).slice();
}
