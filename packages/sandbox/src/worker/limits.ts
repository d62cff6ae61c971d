import type ivm from 'isolated-vm';

// The only place that decides what ended a call into an isolate. isolated-vm's errors carry no codes,
// and their text cannot be trusted: a callback can throw or reject with `new Error('Script execution
// timed out.')`, and its unhandled rejections surface as the error of whichever call was running. So
// a breach is read from the isolate and the clock: a disposed isolate hit its memory limit; a call
// that ran for its whole time limit was cut; any other error came from the callbacks' own code.

/** What ended a call that threw. */
export type CallFailure = 'memory' | 'timeout' | 'rejection';

/** `startedAt` is the `performance.now()` taken before the call; `timeoutMs` the limit it was given. */
export function classifyFailure(isolate: ivm.Isolate, startedAt: number, timeoutMs: number): CallFailure {
  if (isolate.isDisposed) return 'memory';
  // isolated-vm's cut of an unhandled rejection's read (patches/) ends at the limit or after it.
  if (performance.now() - startedAt >= timeoutMs) return 'timeout';
  return 'rejection';
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
