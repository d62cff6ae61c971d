// Runs inside the isolate. The one way callbacks reach asynchronous host capabilities (storage,
// fetch): `request(name, args)` asks the host through a synchronous copying callback, which answers
// an operation id at once, and returns a promise; the worker settles it later by calling `settle`
// (isolate-host.ts). Every operation belongs to the invocation that started it (`current`, set by
// the dispatcher before user code runs), so the host can charge its continuations to that invocation
// and cancel what it left running when it ends. Nothing here ever holds a host object.

import type { Intrinsics } from './intrinsics.js';

/** What the host sends for a failure; rebuilt here as the error class the callbacks expect. */
export interface HostError { name: string; message: string }

/**
 * Starts operation `name` for `invocation`: its id, 0 for a notification the host handled at once, or
 * a HostError when refused. The host cancels an invocation's operations itself once the invocation is
 * no longer running.
 */
export type OpHost = (name: string, args: unknown[], invocation: number) => number | HostError;

export interface HostOps {
  /** the invocation whose code runs now; 0 outside any (module top level) */
  current: number;
  request(name: string, args: unknown[]): Promise<unknown>;
  /** tells the host something that needs no answer (a fetch body was read) */
  notify(name: string, args: unknown[]): void;
  settle(id: number, ok: boolean, value: unknown): void;
  /** the invocation is over: its unfinished operations reject (the host cancels them on its side) */
  end(invocation: number): void;
  toError(e: unknown): Error;
}

export function createHostOps(I: Intrinsics, opHost: OpHost): HostOps {
  // Captured before user code runs: callbacks may replace the globals. The dispatcher calls `end` and
  // the host `settle` whatever the callbacks rewrote, so both use only what `I` captured.
  const P = Promise;
  const ErrorCtor = Error, TypeErrorCtor = TypeError, RangeErrorCtor = RangeError;
  const waiting: Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void; inv: number }> = new I.Map();
  const byInvocation: Map<number, Set<number>> = new I.Map();

  /** Sets an error's name as its own property: assigning it would run a setter, or throw on a frozen
   *  Error.prototype, that callbacks put there. */
  function named(err: Error, name: string): void {
    I.objectDefineProperty(err, 'name', I.setPrototypeOf({ value: name, writable: true, configurable: true }, null));
  }

  function toError(e: unknown): Error {
    const h = (e !== null && typeof e === 'object' ? e : {}) as Partial<HostError>;
    const name = typeof h.name === 'string' ? h.name : 'Error';
    const message = typeof h.message === 'string' ? h.message : 'host operation failed';
    if (name === 'TypeError') return new TypeErrorCtor(message);
    if (name === 'RangeError') return new RangeErrorCtor(message);
    const err = new ErrorCtor(message);
    named(err, name);
    return err;
  }

  const ops: HostOps = {
    current: 0,
    toError,
    request(name, args) {
      const inv = ops.current;
      if (inv === 0) return P.reject(new ErrorCtor(`${I.stringSlice(name, 0, I.indexOf(name, '.') < 0 ? name.length : I.indexOf(name, '.'))} can be used only while a callback runs, not at the top level of the module`));
      let r;
      try {
        r = opHost(name, args, inv);
      } catch (err) {
        // The arguments are copied on the way out; what V8 cannot clone is refused as the Web does.
        // Anything else (the time limit ran out inside the host) goes on as thrown.
        if (!(err instanceof ErrorCtor) || I.indexOf(I.String(err.message), 'could not be cloned') < 0) throw err;
        const e = new ErrorCtor(`${name}: ${err.message}`);
        named(e, 'DataCloneError');
        return P.reject(e);
      }
      if (typeof r !== 'number') return P.reject(toError(r));
      return new P((resolve, reject) => {
        I.mapSet(waiting, r, { resolve, reject, inv });
        let set: Set<number> | undefined = I.mapGet(byInvocation, inv);
        if (set === undefined) I.mapSet(byInvocation, inv, set = new I.Set());
        I.setAdd(set, r);
      });
    },
    notify(name, args) {
      if (ops.current === 0) return;
      try { opHost(name, args, ops.current); } catch { /* nothing to report: it needs no answer */ }
    },
    settle(id, ok, value) {
      const w = I.mapGet(waiting, id);
      if (w === undefined) return;
      I.mapDelete(waiting, id);
      const set = I.mapGet(byInvocation, w.inv);
      if (set !== undefined) I.setDelete(set, id);
      // Continuations run as microtasks right after this call: they belong to the awaiting invocation.
      ops.current = w.inv;
      if (ok) w.resolve(value); else w.reject(toError(value));
    },
    end(inv) {
      const set = I.mapGet(byInvocation, inv);
      if (set === undefined) return;
      I.mapDelete(byInvocation, inv);
      I.setForEach(set, (id: number) => {
        const w = I.mapGet(waiting, id);
        I.mapDelete(waiting, id);
        if (w === undefined) return;
        const e = new ErrorCtor('the callback invocation that started this operation has ended');
        named(e, 'AbortError');
        w.reject(e);
      });
    },
  };
  return ops;
}
