// Runs inside the isolate (shipped as source text, so it must stay self-contained). The server's log
// budget (limits.logLinesPerSecond / logBytesPerSecond), applied before a line is ever copied out:
// isolated-vm copies strings out of an isolate slowly (profiled: ~1 s for 1,000 lines of 16 KiB on a
// busy machine), so a flood dropped only on the worker would still hold it. The worker keeps its own
// bucket as well and counts what both drop. Only closure variables, operators and the clock the
// dispatcher took before user code are used, so rewritten built-ins cannot widen the budget.
import type { Intrinsics } from './intrinsics.js';

export function createLogAllowance(I: Intrinsics, linesPerSecond: number, bytesPerSecond: number) {
  const now = I.dateNow;
  let lines = linesPerSecond;
  let bytes = bytesPerSecond;
  let filledAt = now();
  /** Takes one line of `size` characters from the buckets; false when it must be dropped. */
  return function admit(size: number): boolean {
    const t = now();
    const elapsed = t - filledAt;
    if (elapsed > 0) {
      filledAt = t;
      lines += (elapsed * linesPerSecond) / 1000;
      if (lines > linesPerSecond) lines = linesPerSecond;
      bytes += (elapsed * bytesPerSecond) / 1000;
      if (bytes > bytesPerSecond) bytes = bytesPerSecond;
    }
    if (lines < 1 || bytes < size) return false;
    lines -= 1;
    bytes -= size;
    return true;
  };
}
