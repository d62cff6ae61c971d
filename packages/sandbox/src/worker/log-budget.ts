// Log lines of one isolate per second (limits.logLinesPerSecond / logBytesPerSecond). Every line
// becomes a synchronous write on the I/O thread, so a flood from one server would slow every other;
// lines over the budget are dropped before they travel, and counted here: the isolate applies the
// same budget before a line is copied out (isolate/log-allowance.ts) and reports what it dropped; this
// bucket is the one the callbacks cannot touch.

/** How often, at most, a server's log says that lines were dropped. */
const SUMMARY_EVERY_MS = 1000;

/** Two token buckets (lines and bytes) refilled continuously, each holding one second's worth. */
export class LogBudget {
  private lines: number;
  private bytes: number;
  private filledAt: number;
  /** lines dropped since the worker loaded the server */
  dropped = 0;
  private unreported = 0;
  private reportedAt = 0;

  constructor(private readonly linesPerSecond: number, private readonly bytesPerSecond: number, now = Date.now()) {
    this.lines = linesPerSecond;
    this.bytes = bytesPerSecond;
    this.filledAt = now;
  }

  /** Takes one line of `size` bytes from the buckets; false when it must be dropped. */
  admit(size: number, now: number): boolean {
    const elapsed = now - this.filledAt;
    if (elapsed > 0) {
      this.filledAt = now;
      this.lines = Math.min(this.linesPerSecond, this.lines + (elapsed * this.linesPerSecond) / 1000);
      this.bytes = Math.min(this.bytesPerSecond, this.bytes + (elapsed * this.bytesPerSecond) / 1000);
    }
    if (this.lines >= 1 && this.bytes >= size) {
      this.lines -= 1;
      this.bytes -= size;
      return true;
    }
    this.countDropped(1);
    return false;
  }

  /** Lines dropped before they reached the worker (the isolate applies the same budget first). */
  countDropped(n: number): void {
    this.dropped += n;
    this.unreported += n;
  }

  /** One warning line about the lines dropped since the last one, at most once per second. */
  summary(now: number): string | null {
    if (this.unreported === 0 || now - this.reportedAt < SUMMARY_EVERY_MS) return null;
    const msg = `${this.unreported} log lines dropped: over limits.logLinesPerSecond or limits.logBytesPerSecond (or 1,000 lines in one call)`;
    this.unreported = 0;
    this.reportedAt = now;
    return msg;
  }
}
