import { auditLogger, type Logger } from '../log.js';

// One JSON line per admin action (start, stop, restart, upload) and per refused request (401, 403),
// SPEC §7: who (the token's name, never its value), from where, on what, and the HTTP status it got.

export interface AuditEntry {
  /** start, stop, restart, upload; for a refused request to another route: list, server, metrics, latency, dashboard; null for an unknown route */
  action: string | null;
  server: string | null;
  /** the token's name; null when none was recognised (or the API has no tokens) */
  token: string | null;
  remote: string;
  method: string;
  path: string;
  result: number;
}

export class AuditLog {
  private readonly log: Logger;
  /** a token pasted into a URL is written as `[token]` (AdminAuth.redact) */
  private readonly redact: (text: string) => string;

  constructor(logger: Logger, redact: (text: string) => string) {
    this.log = auditLogger(logger);
    this.redact = redact;
  }

  write(entry: AuditEntry, msg: string): void {
    const line = { ...entry, path: this.redact(entry.path), server: entry.server === null ? null : this.redact(entry.server) };
    if (entry.result < 400) this.log.info(line, msg);
    else this.log.warn(line, msg);
  }
}
