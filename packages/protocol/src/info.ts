// The one list of a server's info channels (`webServer.info` inside callbacks, the admin API, the
// metrics): the engine fills a snapshot in this order and sends it with every batch, so it travels as
// one msgpackr record (shapes.ts). The types below, the admin's sum over processes and the metrics'
// mapping derive from it; callbacks.d.ts names the same type for callbacks authors.

export const INFO_CHANNELS = {
  /** 1 while the server accepts connections */
  server_running: { across: 'max' },
  /** open WebSocket connections (with several engine processes, of every process: each already counts them all) */
  websocket_connections: { across: 'max' },
  requests: { across: 'sum' },
  errors_exception: { across: 'sum' },
  errors_timeout: { across: 'sum' },
  errors_memory: { across: 'sum' },
  errors_overloaded: { across: 'sum' },
  /** internal errors, and events canceled by a stop */
  errors_internal: { across: 'sum' },
  /** the same count as errors_timeout, under the Web Server DAT's name */
  timeouts: { across: 'sum' },
  memory_restarts: { across: 'sum' },
  bytes_in: { across: 'sum' },
  bytes_out: { across: 'sum' },
  isolate_heap_bytes: { across: 'sum' },
  cpu_time_ms: { across: 'sum' },
  /** invocations stopped for sending more than `limits.maxOutputBytes` */
  errors_output: { across: 'sum' },
  /** responses refused (500) for more header fields or bytes than the limits allow */
  header_budget_breaches: { across: 'sum' },
  /** log lines dropped over `limits.logLinesPerSecond` / `logBytesPerSecond` */
  log_lines_dropped: { across: 'sum' },
  /** requests answered 413: a body over `limits.maxBodyBytes` */
  body_too_large: { across: 'sum' },
  /** WebSocket upgrades answered 503: `limits.maxConnections` reached, or the server stopping */
  connections_refused: { across: 'sum' },
  /** WebSocket connections closed for reading too slowly (1 MiB unsent) */
  slow_readers_closed: { across: 'sum' },
  /** 1 where this process is the server's `webServer.primary` (SPEC §12); not an info channel of callbacks */
  primary: { across: 'max' },
  /** isolates the server holds now: fewer than its instances while idle with `limits.idleSeconds`; not an info channel of callbacks */
  isolates: { across: 'sum' },
} as const satisfies Record<string, { across: 'sum' | 'max' }>;

export type InfoField = keyof typeof INFO_CHANNELS;
export const INFO_FIELDS = Object.freeze(Object.keys(INFO_CHANNELS)) as readonly InfoField[];

/** What the engine sends with each batch; the admin API and the metrics read the same. */
export type InfoSnapshot = { [K in InfoField]: number };

/** `webServer.info` as callbacks see it. */
export type InfoChannels = Omit<InfoSnapshot, 'primary' | 'isolates'> & { server_running: 0 | 1 };
