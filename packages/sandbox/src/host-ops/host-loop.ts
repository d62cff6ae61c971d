import { BroadcastChannel } from 'node:worker_threads';
import { PROTOCOL_VERSION, encode, type TenantResult } from '@webdat/protocol';

/** One piece of work that calls into an isolate outside a piscina task; null when it produced nothing. */
export type Job = () => TenantResult | null;

/** How long one turn of the loop runs jobs before it lets the worker's event loop (piscina's tasks) in. */
const SLICE_MS = 10;

/**
 * The worker's work outside piscina tasks: settling host operations and firing timers. Jobs queue
 * here and run on a later turn of the worker's event loop, a slice at a time, so a storm of timers
 * delays the next batch by at most a slice plus one call. What they produce goes to the I/O thread on
 * the lane's BroadcastChannel (a piscina task answers only what it was asked), encoded as a batch
 * result without body-ring bodies (the ring is freed in task order), and applied there exactly like
 * a task's results.
 */
export class HostLoop {
  private queue: Job[] = [];
  private scheduled = false;
  private readonly channel: BroadcastChannel | null;

  constructor(channelName: string | undefined) {
    this.channel = channelName === undefined ? null : new BroadcastChannel(channelName);
  }

  push(job: Job): void {
    this.queue.push(job);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  private drain(): void {
    this.scheduled = false;
    const until = Date.now() + SLICE_MS;
    const results: TenantResult[] = [];
    let n = 0;
    for (; n < this.queue.length && (n === 0 || Date.now() < until); n++) {
      const r = this.queue[n]();
      if (r !== null) results.push(r);
    }
    this.queue = this.queue.slice(n);
    if (this.queue.length > 0) this.schedule();
    if (results.length > 0 && this.channel !== null) {
      this.channel.postMessage(encode({ v: PROTOCOL_VERSION, results, ringEnd: -1 }));
    }
  }
}
