import { BroadcastChannel } from 'node:worker_threads';
import { PROTOCOL_VERSION, encode, type InstanceResult } from '@webdat/protocol';
import { reportIdle, reportRunning } from '@webdat/protocol';

/** One piece of work that calls into an isolate outside a piscina task; null when it produced nothing. */
export type Job = () => InstanceResult | null;

interface Queued {
  /** the server whose callbacks the job runs, for the supervisor's activity file */
  server: string;
  run: Job;
}

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
  private queue: Queued[] = [];
  private scheduled = false;
  private readonly channel: BroadcastChannel | null;

  constructor(channelName: string | undefined) {
    this.channel = channelName === undefined ? null : new BroadcastChannel(channelName);
  }

  /** jobs queued or about to run */
  get busy(): boolean {
    return this.scheduled || this.queue.length > 0;
  }

  push(server: string, run: Job): void {
    this.queue.push({ server, run });
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
    const results: InstanceResult[] = [];
    let n = 0;
    // The activity file is written when the server changes, not per job: a write costs more than a
    // settled operation (measured under the supervisor: 0.6 ms against 60 µs per job).
    let reported = '';
    for (; n < this.queue.length && (n === 0 || Date.now() < until); n++) {
      const job = this.queue[n];
      if (job.server !== reported) reportRunning(reported = job.server);
      const r = job.run();
      if (r !== null) results.push(r);
    }
    reportIdle();
    this.queue = this.queue.slice(n);
    if (this.queue.length > 0) this.schedule();
    if (results.length > 0 && this.channel !== null) {
      this.channel.postMessage(encode({ v: PROTOCOL_VERSION, results, ringEnd: -1, outboxEnds: [], hold: false }));
    }
  }
}
