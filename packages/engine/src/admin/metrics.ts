import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { INFO_FIELDS, type InfoField, type InfoSnapshot } from '@webdat/protocol';
import type { WebdatServer } from '../server.js';
import { LATENCY_BOUNDS, type Latency } from '../http/latency.js';

// Prometheus metrics (SPEC §3, §7): nothing is counted twice. Each scrape reads every server's
// info() once and copies it into the metrics, labelled by server name; a server removed since the
// last scrape simply disappears. Process metrics (CPU, RSS, event-loop lag, GC) come from prom-client.
// The request-duration histogram is counted by the servers themselves (http/latency.ts, on the hot
// path, without prom-client's label lookups) and rendered here; with `perServer: false` the servers'
// counts are summed into one histogram without the `server` label, so thousands of servers cost 10
// series instead of 10 each.

type Read = (info: InfoSnapshot) => number;

interface Family {
  name: string;
  help: string;
  kind: 'counter' | 'gauge';
  read: Read;
}

/**
 * What each info channel (protocol info.ts) becomes: a family of its own, one kind of
 * `webdat_errors_total`, or nothing (a copy of another count, or not a counter). A new channel does
 * not compile until it is placed here.
 */
const CHANNELS: { [K in InfoField]: Omit<Family, 'read'> & { per?: number } | { error: string } | null } = {
  server_running: { name: 'webdat_server_running', help: '1 while the server is accepting connections', kind: 'gauge' },
  websocket_connections: { name: 'webdat_websocket_connections', help: 'Open WebSocket connections', kind: 'gauge' },
  requests: { name: 'webdat_requests_total', help: 'HTTP requests received', kind: 'counter' },
  errors_exception: { error: 'exception' },
  errors_timeout: { error: 'timeout' },
  errors_memory: { error: 'memory' },
  errors_overloaded: { error: 'overloaded' },
  errors_internal: { error: 'internal' },
  timeouts: null,
  memory_restarts: { name: 'webdat_memory_restarts_total', help: 'Isolates recreated after a memory-limit breach', kind: 'counter' },
  bytes_in: { name: 'webdat_received_bytes_total', help: 'Request body and WebSocket message bytes received', kind: 'counter' },
  bytes_out: { name: 'webdat_sent_bytes_total', help: 'Response body and WebSocket message bytes sent', kind: 'counter' },
  isolate_heap_bytes: { name: 'webdat_isolate_heap_bytes', help: 'Heap used by the server\'s isolate', kind: 'gauge' },
  cpu_time_ms: { name: 'webdat_cpu_seconds_total', help: 'CPU time spent in the server\'s callbacks', kind: 'counter', per: 1000 },
  errors_output: { error: 'output' },
  header_budget_breaches: { name: 'webdat_header_budget_breaches_total', help: 'Responses refused (500) for more header fields or bytes than limits.maxHeaders/maxHeaderBytes', kind: 'counter' },
  log_lines_dropped: { name: 'webdat_log_lines_dropped_total', help: 'Log lines dropped over limits.logLinesPerSecond/logBytesPerSecond', kind: 'counter' },
  body_too_large: { name: 'webdat_body_too_large_total', help: 'Requests answered 413 for a body over limits.maxBodyBytes', kind: 'counter' },
  connections_refused: { name: 'webdat_connections_refused_total', help: 'WebSocket upgrades answered 503: limits.maxConnections reached or the server stopping', kind: 'counter' },
  slow_readers_closed: { name: 'webdat_slow_readers_closed_total', help: 'WebSocket connections closed for 1 MiB of sends their reader had not taken', kind: 'counter' },
  primary: null,
  isolates: { name: 'webdat_isolates', help: 'Isolates the server holds now (0 while idle with limits.idleSeconds)', kind: 'gauge' },
};

const PER_SERVER: Family[] = [];
/** Error kinds as in `x-webdat-error`; `internal` also counts events canceled by a stop. */
const ERROR_KINDS: Array<[string, Read]> = [];
for (const field of INFO_FIELDS) {
  const c = CHANNELS[field];
  if (c === null) continue;
  if ('error' in c) ERROR_KINDS.push([c.error, (i) => i[field]]);
  else {
    const per = c.per ?? 1;
    PER_SERVER.push({ name: c.name, help: c.help, kind: c.kind, read: per === 1 ? (i) => i[field] : (i) => i[field] / per });
  }
}

/** One registry per engine; `scrape()` reads every server's info() once and renders the text format. */
export class AdminMetrics {
  readonly registry = new Registry();
  private snapshot: Array<[string, InfoSnapshot]> = [];

  /** `servers` reads every server's info, summed over the processes of the host; `local` are this process's servers */
  constructor(
    private readonly servers: () => Promise<Map<string, InfoSnapshot>>,
    private readonly local: () => WebdatServer[],
    private readonly perServer = true,
  ) {
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
    const servers = this.local();
    try {
      return await this.registry.metrics() + durations(servers, this.perServer);
    } finally {
      this.snapshot = [];
    }
  }
}

const DURATION = 'webdat_request_duration_seconds';
const LE = [...LATENCY_BOUNDS.map(String), '+Inf'];

/** Prometheus text for the request-duration histogram, per server or summed over them. */
function durations(servers: WebdatServer[], perServer: boolean): string {
  const lines = [
    `# HELP ${DURATION} HTTP requests from arrival on the I/O thread to the response written`,
    `# TYPE ${DURATION} histogram`,
  ];
  const series = (labels: string, l: Latency) => {
    const sep = labels === '' ? '' : ',';
    let cumulative = 0;
    l.counts.forEach((c, i) => {
      cumulative += c;
      lines.push(`${DURATION}_bucket{${labels}${sep}le="${LE[i]}"} ${cumulative}`);
    });
    const braces = labels === '' ? '' : `{${labels}}`;
    lines.push(`${DURATION}_sum${braces} ${l.sum}`, `${DURATION}_count${braces} ${cumulative}`);
  };
  if (perServer) {
    for (const s of servers) series(`server="${escapeLabel(s.name)}"`, s.latency);
  } else {
    const all: Latency = { counts: new Array<number>(LE.length).fill(0), sum: 0 };
    for (const s of servers) {
      s.latency.counts.forEach((c, i) => { all.counts[i] += c; });
      all.sum += s.latency.sum;
    }
    series('', all);
  }
  return lines.join('\n') + '\n';
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
