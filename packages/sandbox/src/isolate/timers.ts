// Runs inside the isolate. SPEC §9 timers. The host keeps the clock (a bare isolate has none): each
// setTimeout/setInterval registers with the worker, which counts them against limits.maxTimers and
// later calls the dispatcher's `fire` with the timer id; the callback then runs as an invocation of
// its own. Here live only the functions and arguments to call.

import type { Intrinsics } from './intrinsics.js';

/**
 * op 0: create(ms, repeat 0|1, creating invocation) → id, or -1 when limits.maxTimers are pending;
 * op 1: clear(id).
 */
export type TimerHost = (op: 0 | 1, a: number, b?: number, c?: number) => number;

export interface Timer {
  fn: Function;
  args: unknown[];
  repeat: boolean;
  /** the invocation that created it, whose awaited continuations its firing may resume */
  creator: number;
}

export interface Timers {
  /** the timer to run now; a timeout is forgotten once taken, an interval stays */
  take(id: number): Timer | undefined;
  /** forgets every timer (the host cleared its side: stop, reload), or every one `keep` did not create */
  clear(keep?: number): void;
}

export function installTimers(g: any, I: Intrinsics, timerHost: TimerHost, maxTimers: number, creator: () => number): Timers {
  const P = Promise;
  const TypeErrorCtor = TypeError, RangeErrorCtor = RangeError;
  const MAX_DELAY = 2147483647;
  // The dispatcher takes and clears timers whatever the callbacks rewrote: only what `I` captured is used.
  const timers: Map<number, Timer> = new I.Map();

  function schedule(repeat: boolean, fn: unknown, ms: unknown, args: unknown[]): number {
    if (typeof fn !== 'function') throw new TypeErrorCtor(`${repeat ? 'setInterval' : 'setTimeout'} needs a function (code strings are not evaluated)`);
    let delay = Number(ms);
    // As in browsers: NaN, negative and overflowing delays mean 0.
    if (!(delay >= 0) || delay > MAX_DELAY) delay = 0;
    const by = creator();
    const id = timerHost(0, Math.floor(delay), repeat ? 1 : 0, by);
    if (id < 0) throw new RangeErrorCtor(`too many pending timers: limits.maxTimers is ${maxTimers}`);
    I.mapSet(timers, id, { fn, args, repeat, creator: by });
    return id;
  }

  function clear(id: unknown): void {
    if (typeof id !== 'number' || !I.mapDelete(timers, id)) return;
    timerHost(1, id);
  }

  function queueMicrotask(fn: unknown): void {
    if (typeof fn !== 'function') throw new TypeErrorCtor('queueMicrotask needs a function');
    P.resolve().then(() => fn());
  }

  Object.defineProperties(g, {
    setTimeout: { value: (fn: unknown, ms?: unknown, ...args: unknown[]) => schedule(false, fn, ms, args), writable: true, configurable: true },
    setInterval: { value: (fn: unknown, ms?: unknown, ...args: unknown[]) => schedule(true, fn, ms, args), writable: true, configurable: true },
    clearTimeout: { value: clear, writable: true, configurable: true },
    clearInterval: { value: clear, writable: true, configurable: true },
    queueMicrotask: { value: queueMicrotask, writable: true, configurable: true },
  });

  return {
    take(id) {
      const t: Timer | undefined = I.mapGet(timers, id);
      if (t !== undefined && !t.repeat) I.mapDelete(timers, id);
      return t;
    },
    clear(keep) {
      if (keep === undefined) { I.mapClear(timers); return; }
      I.mapForEach(timers, (t: Timer, id: number) => { if (t.creator !== keep) I.mapDelete(timers, id); });
    },
  };
}
