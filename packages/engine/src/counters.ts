import { OUTCOMES, type InfoSnapshot, type Outcome } from '@webdat/protocol';

/** Counters behind the info channels and the metrics; plain numbers so a snapshot is a cheap copy. */
export class Counters {
  requests = 0;
  /** one count per outcome but ok (protocol's OUTCOMES) */
  errors = Object.fromEntries(OUTCOMES.filter((o) => o !== 'ok').map((o) => [o, 0])) as Record<Exclude<Outcome, 'ok'>, number>;
  bodyTooLarge = 0;
  connectionsRefused = 0;
  slowReadersClosed = 0;
  memoryRestarts = 0;
  bytesIn = 0;
  bytesOut = 0;
  heapUsed = 0;
  cpuTimeMs = 0;
  headerBreaches = 0;
  logLinesDropped = 0;

  snapshot(running: boolean, connections: number, primary: boolean, isolates: number): InfoSnapshot {
    const e = this.errors;
    return {
      server_running: running ? 1 : 0,
      websocket_connections: connections,
      requests: this.requests,
      errors_exception: e.exception,
      errors_timeout: e.timeout,
      errors_memory: e.memory,
      errors_overloaded: e.overloaded,
      errors_internal: e.internal + e.canceled,
      timeouts: e.timeout,
      memory_restarts: this.memoryRestarts,
      bytes_in: this.bytesIn,
      bytes_out: this.bytesOut,
      isolate_heap_bytes: this.heapUsed,
      cpu_time_ms: Math.round(this.cpuTimeMs * 1000) / 1000,
      errors_output: e.output,
      header_budget_breaches: this.headerBreaches,
      log_lines_dropped: this.logLinesDropped,
      body_too_large: this.bodyTooLarge,
      connections_refused: this.connectionsRefused,
      slow_readers_closed: this.slowReadersClosed,
      primary: primary ? 1 : 0,
      isolates,
    };
  }
}
