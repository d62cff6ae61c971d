// Runs inside the isolate. The one way callbacks reach asynchronous host capabilities (storage,
// fetch): `request(name, args)` asks the host through a synchronous copying callback, which answers
// an operation id at once, and returns a promise; the worker settles it later by calling `settle`
// (isolate-host.ts). Every operation belongs to the invocation that started it (`current`, set by
// the dispatcher before user code runs), so the host can charge its continuations to that invocation
// and cancel what it left running when it ends. Nothing here ever holds a host object.

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

export function createHostOps(opHost: OpHost): HostOps {
  // Captured before user code runs: callbacks may replace the globals.
  const P = Promise;
  const ErrorCtor = Error, TypeErrorCtor = TypeError, RangeErrorCtor = RangeError;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void; inv: number }>();
  const byInvocation = new Map<number, Set<number>>();

  function toError(e: unknown): Error {
    const h = (e !== null && typeof e === 'object' ? e : {}) as Partial<HostError>;
    const name = typeof h.name === 'string' ? h.name : 'Error';
    const message = typeof h.message === 'string' ? h.message : 'host operation failed';
    if (name === 'TypeError') return new TypeErrorCtor(message);
    if (name === 'RangeError') return new RangeErrorCtor(message);
    const err = new ErrorCtor(message);
    err.name = name;
    return err;
  }

  const ops: HostOps = {
    current: 0,
    toError,
    request(name, args) {
      const inv = ops.current;
      if (inv === 0) return P.reject(new ErrorCtor(`${name.split('.')[0]} can be used only while a callback runs, not at the top level of the module`));
      let r;
      try {
        r = opHost(name, args, inv);
      } catch (err) {
        // The arguments are copied on the way out; what V8 cannot clone is refused as the Web does.
        // Anything else (the time limit ran out inside the host) goes on as thrown.
        if (!(err instanceof ErrorCtor) || !/could not be cloned/.test(err.message)) throw err;
        const e = new ErrorCtor(`${name}: ${err.message}`);
        e.name = 'DataCloneError';
        return P.reject(e);
      }
      if (typeof r !== 'number') return P.reject(toError(r));
      return new P((resolve, reject) => {
        waiting.set(r, { resolve, reject, inv });
        let set = byInvocation.get(inv);
        if (set === undefined) byInvocation.set(inv, set = new Set());
        set.add(r);
      });
    },
    notify(name, args) {
      if (ops.current === 0) return;
      try { opHost(name, args, ops.current); } catch { /* nothing to report: it needs no answer */ }
    },
    settle(id, ok, value) {
      const w = waiting.get(id);
      if (w === undefined) return;
      waiting.delete(id);
      byInvocation.get(w.inv)?.delete(id);
      // Continuations run as microtasks right after this call: they belong to the awaiting invocation.
      ops.current = w.inv;
      if (ok) w.resolve(value); else w.reject(toError(value));
    },
    end(inv) {
      const set = byInvocation.get(inv);
      if (set === undefined) return;
      byInvocation.delete(inv);
      for (const id of set) {
        const w = waiting.get(id);
        waiting.delete(id);
        if (w === undefined) continue;
        const e = new ErrorCtor('the callback invocation that started this operation has ended');
        e.name = 'AbortError';
        w.reject(e);
      }
    },
  };
  return ops;
}
