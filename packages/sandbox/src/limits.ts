import type ivm from 'isolated-vm';
import type { Outcome } from '@webdat/protocol';

// The only place that reads isolated-vm's failure messages. Its errors carry no codes, so the text is
// matched here once; everything else works with outcomes.

const TIMED_OUT = 'Script execution timed out.';

export function classifyFailure(err: unknown, isolate: ivm.Isolate): Outcome {
  if (isolate.isDisposed) return 'memory';
  const msg = err instanceof Error ? err.message : String(err);
  if (msg === TIMED_OUT) return 'timeout';
  if (/memory limit|disposed/i.test(msg)) return 'memory';
  return 'internal';
}

/**
 * How long one dispatch call keeps starting new events. The call's own timeout is the time limit
 * plus this slice, so an event started late in a call still gets its whole limit.
 */
export function sliceMs(timeoutMs: number): number {
  return Math.max(1, Math.min(10, Math.floor(timeoutMs / 4)));
}

/** Deadline that host functions check, since isolated-vm does not count time spent inside them. */
let hostDeadline = Infinity;
export function armHostDeadline(ms: number): void { hostDeadline = Date.now() + ms; }
export function disarmHostDeadline(): void { hostDeadline = Infinity; }
export function checkHostDeadline(): void {
  if (Date.now() > hostDeadline) throw new Error('time limit exceeded inside a host function');
}
