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

  constructor(logger: Logger) {
    this.log = auditLogger(logger);
  }

  write(entry: AuditEntry, msg: string): void {
    if (entry.result < 400) this.log.info(entry, msg);
    else this.log.warn(entry, msg);
  }
}
