// Runs inside the isolate (shipped as source text, so it must stay self-contained). Counts what one
// invocation makes the engine send: a broadcast looks small in the isolate (one string, many
// references) but costs the engine one copy per message and per recipient, so the bytes are counted
// here, before any of them is copied out. Only closure variables and operators are used, and the one
// built-in (the typed-array byteLength getter) is the dispatcher's copy taken before user code runs,
// so a callback that rewrites built-ins cannot make a send look cheaper.
import type { Intrinsics } from './intrinsics.js';

export function createOutputBudget(I: Intrinsics, maxBytes: number) {
  /** id of the synchronous invocation running, or -1 while promise continuations run (they are not attributable) */
  let current = -1;
  let used = 0;
  let breached = false;
  /** bytes charged to promise continuations since the host last read the output */
  let asyncUsed = 0;
  let asyncBreached = false;
  /** bytes since the host last read the output, to end a dispatch call early */
  let sinceRead = 0;

  return {
    begin(id: number): void { current = id; used = 0; breached = false; },
    /** Ends the synchronous part of an invocation; true when it went over its budget. */
    end(): boolean { const b = breached; current = -1; breached = false; return b; },
    /** the invocation charged, -1 for promise continuations */
    get current(): number { return current; },
    /**
     * Counts a message of `data` going to `copies` recipients: 0 when it fits, 1 when it is the one
     * that goes over the budget, 2 when the budget was already spent.
     */
    charge(data: string | Uint8Array, copies: number): 0 | 1 | 2 {
      const size = (typeof data === 'string' ? data.length : I.typedArrayByteLength(data)) * (copies > 1 ? copies : 1);
      if (current === -1) {
        if (asyncBreached) return 2;
        sinceRead += size;
        asyncUsed += size;
        if (asyncUsed <= maxBytes) return 0;
        asyncBreached = true;
        return 1;
      }
      if (breached) return 2;
      sinceRead += size;
      used += size;
      if (used <= maxBytes) return 0;
      breached = true;
      return 1;
    },
    /** true when this call's output already reached one budget: the dispatch call starts no more events */
    full(): boolean { return sinceRead >= maxBytes; },
    /** The host read the output: continuations get a fresh budget. */
    read(): void { sinceRead = 0; asyncUsed = 0; asyncBreached = false; },
  };
}
