// What a worker answers a task with. Mostly the encoded result alone; with it, when the worker's
// isolates opened or closed outboxes (worker/outbox.ts) since its last answer, their memory and
// numbers, which the msgpackr encoding cannot carry. The I/O thread learns of an outbox before any
// result names it and forgets it with the result after its isolate went (main/outboxes.ts).

export interface OutboxNews {
  opened: [id: number, memory: SharedArrayBuffer][];
  closed: number[];
}

export type TaskReply = Uint8Array | { bytes: Uint8Array; news: OutboxNews };
