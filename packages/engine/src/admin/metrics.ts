import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { InfoSnapshot } from '@webdat/protocol';

// Prometheus metrics (SPEC §3, §7): nothing is counted twice. Each scrape reads every server's
// info() once and copies it into the metrics, labelled by server name; a server removed since the
// last scrape simply disappears. Process metrics (CPU, RSS, event-loop lag, GC) come from prom-client.

type Read = (info: InfoSnapshot) => number;

interface Family {
  name: string;
  help: string;
  kind: 'counter' | 'gauge';
  read: Read;
}

const PER_SERVER: Family[] = [
  { name: 'webdat_server_running', help: '1 while the server is accepting connections', kind: 'gauge', read: (i) => i.server_running },
  { name: 'webdat_websocket_connections', help: 'Open WebSocket connections', kind: 'gauge', read: (i) => i.websocket_connections },
  { name: 'webdat_requests_total', help: 'HTTP requests received', kind: 'counter', read: (i) => i.requests },
  { name: 'webdat_memory_restarts_total', help: 'Isolates recreated after a memory-limit breach', kind: 'counter', read: (i) => i.memory_restarts },
  { name: 'webdat_received_bytes_total', help: 'Request body and WebSocket message bytes received', kind: 'counter', read: (i) => i.bytes_in },
  { name: 'webdat_sent_bytes_total', help: 'Response body and WebSocket message bytes sent', kind: 'counter', read: (i) => i.bytes_out },
  { name: 'webdat_isolate_heap_bytes', help: 'Heap used by the server\'s isolate', kind: 'gauge', read: (i) => i.isolate_heap_bytes },
  { name: 'webdat_cpu_seconds_total', help: 'CPU time spent in the server\'s callbacks', kind: 'counter', read: (i) => i.cpu_time_ms / 1000 },
  { name: 'webdat_header_budget_breaches_total', help: 'Responses refused (500) for more header fields or bytes than limits.maxHeaders/maxHeaderBytes', kind: 'counter', read: (i) => i.header_budget_breaches },
  { name: 'webdat_log_lines_dropped_total', help: 'Log lines dropped over limits.logLinesPerSecond/logBytesPerSecond', kind: 'counter', read: (i) => i.log_lines_dropped },
];

/** Error kinds as in `x-webdat-error`; `internal` also counts events canceled by a stop. */
const ERROR_KINDS: Array<[string, Read]> = [
  ['exception', (i) => i.errors_exception],
  ['timeout', (i) => i.errors_timeout],
  ['memory', (i) => i.errors_memory],
  ['overloaded', (i) => i.errors_overloaded],
  ['internal', (i) => i.errors_internal],
  ['output', (i) => i.errors_output],
];

/** One registry per engine; `scrape()` reads every server's info() once and renders the text format. */
export class AdminMetrics {
  readonly registry = new Registry();
  private snapshot: Array<[string, InfoSnapshot]> = [];

  /** `servers` reads every server's info, summed over the processes of the host */
  constructor(private readonly servers: () => Promise<Map<string, InfoSnapshot>>) {
    const registry = this.registry;
    const snap = () => this.snapshot;
    collectDefaultMetrics({ register: registry });
    for (const f of PER_SERVER) {
      if (f.kind === 'gauge') {
        new Gauge({
          name: f.name, help: f.help, labelNames: ['server'], registers: [registry],
          collect() {
            this.reset();
            for (const [server, info] of snap()) this.set({ server }, f.read(info));
          },
        });
      } else {
        new Counter({
          name: f.name, help: f.help, labelNames: ['server'], registers: [registry],
          collect() {
            this.reset();
            for (const [server, info] of snap()) this.inc({ server }, f.read(info));
          },
        });
      }
    }
    new Counter({
      name: 'webdat_errors_total', help: 'Events that ended in an error, by kind (as in x-webdat-error)',
      labelNames: ['server', 'kind'], registers: [registry],
      collect() {
        this.reset();
        for (const [server, info] of snap()) for (const [kind, read] of ERROR_KINDS) this.inc({ server, kind }, read(info));
      },
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async scrape(): Promise<string> {
    this.snapshot = [...await this.servers()];
    try {
      return await this.registry.metrics();
    } finally {
      this.snapshot = [];
    }
  }
}
