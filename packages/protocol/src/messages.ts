import type { TaskKind } from './kinds.js';
import type { CommandName, CommandOf, EventName, EventOf } from './wire-table.js';
import type { InfoSnapshot } from './info.js';

export type Body = string | Uint8Array;

/** Events and commands as they cross the thread boundary: derived from the wire table. */
export type HttpEvent = EventOf<'http'>;
export type Event = EventOf<EventName>;
export type Command = CommandOf<CommandName>;

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
export interface InstanceSpec {
  instance: number;
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

export interface InstanceBatch {
  instance: number;
  generation: number;
  info: InfoSnapshot;
  events: Event[];
  /** ids whose deadline passed on the engine side: the isolate forgets them */
  cancel: number[];
}

/** `lazy`: the isolate is built at the instance's first event that needs one, not now (`spec.idleMs` is set) */
export interface LoadTask { v: number; t: typeof TaskKind.load; spec: InstanceSpec; lazy?: boolean }
/** `entry`: absolute path of a callbacks module, compiled and linked but not run */
export interface CheckTask { v: number; t: typeof TaskKind.check; entry: string }
export interface UnloadTask { v: number; t: typeof TaskKind.unload; instance: number }
export interface BatchTask { v: number; t: typeof TaskKind.batch; batches: InstanceBatch[] }
export interface HoldTask { v: number; t: typeof TaskKind.hold }
/** The worker thread ends next: it drops every isolate and collects its own garbage first (sandbox worker.ts). */
export interface CloseTask { v: number; t: typeof TaskKind.close }
export type Task = LoadTask | UnloadTask | BatchTask | HoldTask | CheckTask | CloseTask;

export interface InstanceStats {
  heapUsed: number;
  cpuTimeMs: number;
  memoryRestarts: number;
  /** responses refused for more header fields or bytes than the limits allow, since the worker loaded the server */
  headerBreaches: number;
  /** log lines over the per-second budget, dropped */
  logLinesDropped: number;
  /** 1 while the instance has an isolate, 0 while it has none (released when idle, or not built yet) */
  live: number;
}

export interface InstanceResult {
  instance: number;
  generation: number;
  commands: Command[];
  /** async events still running after the batch: [id, ms already spent] pairs */
  pending: number[];
  /** events left waiting in the worker because this instance's turn ended; the engine schedules another turn */
  backlog: number;
  /** 0 when the turn stayed within the time and memory limits; otherwise how long it ran (ms, at
   * least 1), which sets how long the engine lets this instance rest before its next turn */
  breachedMs: number;
  stats: InstanceStats;
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
  results: InstanceResult[];
  /** end of the last body this batch put in the worker's body ring, -1 when it put none */
  ringEnd: number;
  /** [outbox, end] pairs: where each outbox this batch left bodies in is freed up to once it is applied */
  outboxEnds: number[];
  /** the worker has host work (timers, host operations) and needs a hold task to keep turning */
  hold: boolean;
}
