import type { CommandKind, EventKind, LogLevel, Outcome, TaskKind, WsOp } from './kinds.js';

export type Body = string | Uint8Array;

export interface HttpEvent {
  k: typeof EventKind.http;
  id: number;
  method: string;
  uri: string;
  /** raw query string, without '?' */
  query: string;
  /** flat [name, value, name, value, ...], names lower-case as received */
  headers: string[];
  /** null when the request had no body */
  body: Uint8Array | null;
  clientAddress: string;
  serverAddress: string;
}

export interface WsOpenEvent { k: typeof EventKind.wsOpen; id: number; client: string; uri: string }
export interface WsTextEvent { k: typeof EventKind.wsText; id: number; client: string; data: string }
export interface WsBytesEvent {
  k: typeof EventKind.wsBinary | typeof EventKind.wsPing | typeof EventKind.wsPong;
  id: number;
  client: string;
  data: Uint8Array;
}
export interface WsCloseEvent { k: typeof EventKind.wsClose; id: number; client: string }
export interface PeerEvent { k: typeof EventKind.peerJoin | typeof EventKind.peerLeave; id: number; client: string }
export interface LifecycleEvent { k: typeof EventKind.serverStart | typeof EventKind.serverStop; id: number }

export type Event = HttpEvent | WsOpenEvent | WsTextEvent | WsBytesEvent | WsCloseEvent | PeerEvent | LifecycleEvent;

export interface RespondCommand {
  c: typeof CommandKind.respond;
  id: number;
  o: Outcome;
  status: number;
  reason: string;
  headers: string[];
  body: Body;
  /** [position, length] of a large body in the worker's shared body ring (body is then empty) */
  rb?: number[];
}
/**
 * An event or invocation ended. A negative id is an invocation the engine did not submit (a timer
 * callback): the engine answers nothing and only counts its outcome among the server's errors.
 */
export interface DoneCommand { c: typeof CommandKind.done; id: number; o: Outcome }
export interface WsSendCommand { c: typeof CommandKind.wsSend; client: string; op: WsOp; data: Body }
export interface WsCloseCommand { c: typeof CommandKind.wsClose; client: string; code: number; reason: string }
export interface BroadcastCommand { c: typeof CommandKind.broadcast; op: typeof WsOp.text | typeof WsOp.binary; data: Body }
export interface LogCommand { c: typeof CommandKind.log; level: LogLevel; msg: string }

export type Command = RespondCommand | DoneCommand | WsSendCommand | WsCloseCommand | BroadcastCommand | LogCommand;

export interface Limits {
  timeoutMs: number;
  memoryMb: number;
  /** per invocation: WebSocket bytes sent, a broadcast counting once per recipient */
  maxOutputBytes: number;
  /** per response: header fields and their bytes (names and values) */
  maxHeaders: number;
  maxHeaderBytes: number;
  /** per isolate (the engine divides a server's rate among its instances) */
  logLinesPerSecond: number;
  logBytesPerSecond: number;
  /** CPU per invocation, summed over its synchronous stretches (SPEC §5) */
  cpuMs: number;
  maxTimers: number;
  storageMb: number;
  maxFetches: number;
  maxFetchBytes: number;
}

/** Outbound fetch policy of one server (SPEC §10); nothing is allowed when `allow` is empty. */
export interface Egress {
  allow: string[];
  /** absolute path of an extra CA certificate file (PEM) */
  caFile?: string;
}

/** What a worker needs to (re)build one server's isolate. */
export interface TenantSpec {
  tenant: number;
  /** bumped on every reload; a worker drops events meant for another generation */
  generation: number;
  name: string;
  port: number;
  secure: boolean;
  /** `webServer.node`: this engine process's name, unique in the cluster */
  node: string;
  /** absolute path of the callbacks module */
  entry: string;
  /** source that replaces the file's content (admin upload); imports still resolve from disk */
  source?: string;
  limits: Limits;
  /** open WebSocket connections of this isolate, when it is rebuilt on a replacement worker thread */
  clients?: string[];
  /** absolute path of the folder holding every server's stored data (SPEC §8) */
  dataDir: string;
  /** in a cluster (SPEC §12), storage lives in its Redis instead of under `dataDir` */
  storageRedis?: { url: string; cluster: string };
  egress: Egress;
  /**
   * `limits.idleSeconds` in ms (SPEC §12): the isolate is built at the first event that needs it and
   * released after this long without events, open WebSockets of this process, timers or host operations
   */
  idleMs?: number;
}

/** The info channels a callback sees as `webServer.info`; the engine sends a fresh copy with each batch. */
export interface InfoSnapshot {
  server_running: number;
  websocket_connections: number;
  requests: number;
  errors_exception: number;
  errors_timeout: number;
  errors_memory: number;
  errors_overloaded: number;
  errors_internal: number;
  timeouts: number;
  memory_restarts: number;
  bytes_in: number;
  bytes_out: number;
  isolate_heap_bytes: number;
  cpu_time_ms: number;
  errors_output: number;
  header_budget_breaches: number;
  log_lines_dropped: number;
  /** requests answered 413: a body over `limits.maxBodyBytes` */
  body_too_large: number;
  /** WebSocket upgrades answered 503: `limits.maxConnections` reached, or the server stopping */
  connections_refused: number;
  /** WebSocket connections closed for reading too slowly (1 MiB unsent) */
  slow_readers_closed: number;
  /** 1 where this process is the server's `webServer.primary` (SPEC §12); not an info channel of callbacks */
  primary: number;
  /** isolates the server holds now: fewer than its instances while idle with `limits.idleSeconds`; not an info channel of callbacks */
  isolates: number;
}

export interface TenantBatch {
  tenant: number;
  generation: number;
  info: InfoSnapshot;
  events: Event[];
  /** ids whose deadline passed on the engine side: the isolate forgets them */
  cancel: number[];
}

/** `lazy`: the isolate is built at the tenant's first event that needs one, not now (`spec.idleMs` is set) */
export interface LoadTask { v: number; t: typeof TaskKind.load; spec: TenantSpec; lazy?: boolean }
/** `entry`: absolute path of a callbacks module, compiled and linked but not run */
export interface CheckTask { v: number; t: typeof TaskKind.check; entry: string }
export interface UnloadTask { v: number; t: typeof TaskKind.unload; tenant: number }
export interface BatchTask { v: number; t: typeof TaskKind.batch; batches: TenantBatch[] }
export interface HoldTask { v: number; t: typeof TaskKind.hold }
export type Task = LoadTask | UnloadTask | BatchTask | HoldTask | CheckTask;

export interface TenantStats {
  heapUsed: number;
  cpuTimeMs: number;
  memoryRestarts: number;
  /** responses refused for more header fields or bytes than the limits allow, since the worker loaded the server */
  headerBreaches: number;
  /** log lines over the per-second budget, dropped */
  logLinesDropped: number;
  /** 1 while the tenant has an isolate, 0 while it has none (released when idle, or not built yet) */
  live: number;
}

export interface TenantResult {
  tenant: number;
  generation: number;
  commands: Command[];
  /** async events still running after the batch: [id, ms already spent] pairs */
  pending: number[];
  /** events left waiting in the worker because this tenant's turn ended; the engine schedules another turn */
  backlog: number;
  /** 0 when the turn stayed within the time and memory limits; otherwise how long it ran (ms, at
   * least 1), which sets how long the engine lets this tenant rest before its next turn */
  breachedMs: number;
  stats: TenantStats;
}

export interface LoadResult {
  v: number;
  ok: boolean;
  error?: { code: string; message: string };
  commands: Command[];
  /** the worker has host work (timers, host operations) and needs a hold task to keep turning */
  hold: boolean;
}
export interface BatchResult {
  v: number;
  results: TenantResult[];
  /** end of the last body this batch put in the worker's body ring, -1 when it put none */
  ringEnd: number;
  /** the worker has host work (timers, host operations) and needs a hold task to keep turning */
  hold: boolean;
}
