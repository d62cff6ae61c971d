/**
 * One server's timers (SPEC §9), kept by the worker: the isolate has no clock of its own. A timer
 * counts against `max` from its creation until it fires (a timeout) or is cleared (an interval). When
 * one is due, `due` queues its firing; the callback then runs as an invocation of its own.
 */
export class InstanceTimers {
  private seq = 0;
  /** pending timers by id: their handle and the invocation that created them */
  private readonly timers = new Map<number, { handle: NodeJS.Timeout; creator: number }>();
  /** timeouts due while the server's timers rest, fired when the rest ends: their creators */
  private readonly held = new Map<NodeJS.Timeout, number>();
  private readonly max: number;
  private readonly due: (id: number, creator: number, repeat: boolean) => void;

  /** `due` gets the timer, the invocation that created it (whose awaited continuation it may resume), and whether it repeats. */
  constructor(max: number, due: (id: number, creator: number, repeat: boolean) => void) {
    this.max = max;
    this.due = due;
  }

  /** pending timers: a timeout until its callback is queued, an interval until cleared */
  get size(): number {
    return this.timers.size + this.held.size;
  }

  /** Called from inside the isolate: the new timer's id, or -1 when `max` are pending. */
  create(ms: unknown, repeat: unknown, creator: unknown): number {
    if (this.size >= this.max) return -1;
    const delay = typeof ms === 'number' && ms >= 0 && ms <= 2_147_483_647 ? Math.floor(ms) : 0;
    const by = typeof creator === 'number' && Number.isInteger(creator) ? creator : 0;
    const id = ++this.seq;
    // An interval of 0 would fire on every turn of the worker's loop; browsers clamp too.
    const handle = repeat === 1
      ? setInterval(() => this.due(id, by, true), Math.max(1, delay))
      : setTimeout(() => { this.timers.delete(id); this.due(id, by, false); }, delay);
    this.timers.set(id, { handle, creator: by });
    return id;
  }

  clear(id: unknown): void {
    if (typeof id !== 'number') return;
    const timer = this.timers.get(id);
    if (timer === undefined) return;
    clearTimeout(timer.handle);
    this.timers.delete(id);
  }

  /** Runs `then` after `ms` unless the timers are cleared first (a timeout of `creator` held back while timers rest). */
  later(ms: number, creator: number, then: () => void): void {
    const handle = setTimeout(() => { this.held.delete(handle); then(); }, ms);
    this.held.set(handle, creator);
  }

  /** Stop, reload, isolate recreation: every timer goes, or every one `keep` did not create (a stop still running). */
  clearAll(keep?: number): void {
    for (const [id, timer] of this.timers) {
      if (timer.creator === keep) continue;
      clearTimeout(timer.handle);
      this.timers.delete(id);
    }
    for (const [handle, creator] of this.held) {
      if (creator === keep) continue;
      clearTimeout(handle);
      this.held.delete(handle);
    }
  }
}
