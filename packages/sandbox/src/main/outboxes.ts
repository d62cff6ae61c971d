import { outboxViews, type OutboxViews } from '@webdat/protocol';
import type { OutboxNews, TaskReply } from '../shared/task-reply.js';

// The I/O thread's side of one lane's outboxes (sandbox worker/outbox.ts): the memory of each, views of
// the bodies task results name in them, and freeing them once those results are applied.

export class Outboxes {
  private readonly byId = new Map<number, OutboxViews>();

  /** Takes in what a reply tells of outboxes; returns its result bytes and the outboxes to forget once it is read. */
  receive(reply: TaskReply): { bytes: Uint8Array; closed: number[] } {
    if (reply instanceof Uint8Array) return { bytes: reply, closed: NONE };
    this.open(reply.news);
    return { bytes: reply.bytes, closed: reply.news.closed };
  }

  private open(news: OutboxNews): void {
    for (const [id, memory] of news.opened) this.byId.set(id, outboxViews(memory));
  }

  /** A reply whose result names no bodies (a control task's): takes in its news and returns its bytes. */
  bytesOf(reply: TaskReply): Uint8Array {
    const { bytes, closed } = this.receive(reply);
    this.forget(closed);
    return bytes;
  }

  /** The isolate is gone: no later result names this outbox. Views already taken keep their memory. */
  forget(closed: number[]): void {
    for (const id of closed) this.byId.delete(id);
  }

  /** A body in outbox `id`, valid until that outbox is freed past its end. */
  view(id: number, at: number, length: number): Uint8Array {
    const box = this.known(id, at + length);
    if (at < 0) throw new Error(`a result names bytes outside outbox ${id}`);
    return box.data.subarray(at, at + length);
  }

  /** [outbox, end] pairs of a result, as the memory to free once it is applied. */
  ends(pairs: number[]): [Int32Array, number][] {
    const out: [Int32Array, number][] = [];
    for (let i = 0; i < pairs.length; i += 2) out.push([this.known(pairs[i], pairs[i + 1]).freed, pairs[i + 1]]);
    return out;
  }

  /** Outbox `id`, which must hold `end` bytes: a result naming anything else comes from a broken worker. */
  private known(id: number, end: number): OutboxViews {
    const box = this.byId.get(id);
    if (box === undefined || end > box.data.length) throw new Error(`a result names bytes outside the outboxes (${id}: up to ${end})`);
    return box;
  }

  /** The worker is gone and with it every isolate. */
  clear(): void {
    this.byId.clear();
  }
}

const NONE: number[] = [];

/** Lets the isolates write over what the I/O thread is done with. */
export function free(ends: [Int32Array, number][]): void {
  for (const [freed, end] of ends) Atomics.store(freed, 0, end);
}
