import type { HttpResponse } from 'uWebSockets.js';
import type { Latency } from './http/latency.js';

/** An event handed to the sandbox and not yet finished. `res` is set for HTTP events only, until answered. */
export interface InFlightEvent {
  res: HttpResponse | null;
  aborted: boolean;
  /** epoch ms after which an async callback is given up (0 while the worker still runs it synchronously) */
  deadline: number;
  /** which of the server's instances (isolates) runs it */
  instance: number;
  /** the HTTP request's arrival (performance.now() ms) and where its duration is recorded; null for other events */
  start: number;
  latency: Latency | null;
  /** a HEAD request: its answer carries no body */
  head: boolean;
  /** the WebSocket connection whose event this is (absent for HTTP and lifecycle events) */
  client?: string;
}

/** An entry for an event that answers no HTTP response; `client` for a WebSocket connection's event. */
export function bareEvent(instance: number, client?: string): InFlightEvent {
  const e: InFlightEvent = { res: null, aborted: false, deadline: 0, instance, start: 0, latency: null, head: false };
  if (client !== undefined) e.client = client;
  return e;
}

/**
 * A server's ledger of events in flight: what each instance runs (for least-loaded placement), which
 * are the server's own (onServerStart/Stop and peer-list updates, never bounded by maxQueue), the
 * deadlines of async callbacks, and who waits for some of them to finish.
 */
export class InFlight {
  private readonly events = new Map<number, InFlightEvent>();
  private readonly own = new Set<number>();
  /** events in flight per instance */
  private readonly load: number[];
  /** events in flight with a deadline: the engine sweeps the server while there are any */
  private withDeadline = 0;
  private watchers: Array<{ ids: Set<number>; done: () => void }> = [];

  constructor(instances: number) {
    this.load = new Array<number>(instances).fill(0);
  }

  add(id: number, e: InFlightEvent, own = false): void {
    this.events.set(id, e);
    this.load[e.instance]++;
    if (own) this.own.add(id);
  }

  get(id: number): InFlightEvent | undefined {
    return this.events.get(id);
  }

  /** The event leaves the ledger (answered or ended); undefined if it was not in it. */
  take(id: number): InFlightEvent | undefined {
    const e = this.events.get(id);
    if (e === undefined) return undefined;
    this.events.delete(id);
    this.load[e.instance]--;
    if (e.deadline !== 0) this.withDeadline--;
    this.own.delete(id);
    if (this.watchers.length > 0) this.unwatch(id);
    return e;
  }

  get size(): number {
    return this.events.size;
  }

  /** Client events waiting or running: the ones maxQueue bounds. */
  get queued(): number {
    return this.events.size - this.own.size;
  }

  /** Events in flight on instance `i`. */
  loadOf(i: number): number {
    return this.load[i];
  }

  /**
   * The worker reports the async callbacks still running as [id, ms run so far] pairs: each one's
   * deadline is set once, the time limit after its start. True when one was set.
   */
  setDeadlines(running: readonly number[], timeoutMs: number, now: number): boolean {
    let set = false;
    for (let i = 0; i < running.length; i += 2) {
      const e = this.events.get(running[i]);
      if (e === undefined || e.deadline !== 0) continue;
      e.deadline = now + Math.max(0, timeoutMs - running[i + 1]);
      this.withDeadline++;
      set = true;
    }
    return set;
  }

  /** Ids whose deadline has passed. */
  expired(now: number): number[] {
    const ids: number[] = [];
    if (this.withDeadline === 0) return ids;
    for (const [id, e] of this.events) if (e.deadline !== 0 && e.deadline <= now) ids.push(id);
    return ids;
  }

  /** Whether any event in flight has a deadline (those past it are taken out by whoever sweeps). */
  get awaiting(): boolean {
    return this.withDeadline > 0;
  }

  /** Every id in flight, or those of instance `i`, in the order they were added. */
  ids(i?: number): number[] {
    if (i === undefined) return [...this.events.keys()];
    const ids: number[] = [];
    for (const [id, e] of this.events) if (e.instance === i) ids.push(id);
    return ids;
  }

  /** Resolves once none of `ids` is in flight any more. */
  settled(ids: readonly number[]): Promise<void> {
    const waiting = new Set(ids.filter((id) => this.events.has(id)));
    if (waiting.size === 0) return Promise.resolve();
    return new Promise((done) => this.watchers.push({ ids: waiting, done }));
  }

  private unwatch(id: number): void {
    this.watchers = this.watchers.filter((w) => {
      if (!w.ids.delete(id) || w.ids.size > 0) return true;
      w.done();
      return false;
    });
  }
}
