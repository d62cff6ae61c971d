import type { HttpResponse, WebSocket } from 'uWebSockets.js';
import type { Event, HttpEvent, InfoSnapshot, Outcome } from '@webdat/protocol';
import type { LimitsConfig, ServerConfig } from './config/schema.js';
import type { Latency } from './http/latency.js';

/** An event handed to the sandbox and not yet finished. `res` is set for HTTP events only, until answered. */
export interface PendingEvent {
  res: HttpResponse | null;
  aborted: boolean;
  /** epoch ms after which an async callback is given up (0 while the worker still runs it synchronously) */
  deadline: number;
  /** which of the server's instances (isolates) runs it */
  inst: number;
  /** the HTTP request's arrival (performance.now() ms) and where its duration is recorded; null for other events */
  start: number;
  latency: Latency | null;
  /** the WebSocket connection whose event this is (absent for HTTP and lifecycle events) */
  client?: string;
}

/**
 * A server as its listener, its request path and its WebSocket behaviour see it. server.ts implements
 * it; the socket side knows only this, so the server depends on its sockets and not the other way.
 */
export interface Endpoint {
  readonly config: ServerConfig;
  readonly name: string;
  readonly limits: LimitsConfig;
  readonly counters: Counters;
  readonly latency: Latency;
  readonly clients: Map<string, Ws>;
  /** part of every client id, unique per process */
  readonly clientTag: string;
  /** the uWS topic of the server's broadcasts */
  readonly topic: string;
  readonly accepting: boolean;
  readonly address: string;
  pickInstance(): number;
  submitHttp(p: PendingEvent, event: HttpEvent): void;
  submitWs(ws: Ws, event: Event, checkQueue?: boolean): void;
  joined(client: string): void;
  left(client: string): void;
}

export interface WsData {
  client: string;
  uri: string;
  closed: boolean;
  server: Endpoint;
  /** a connection's events all go to the instance that saw it open, so they stay in order */
  inst: number;
}
export type Ws = WebSocket<WsData>;

/** Counters behind the info channels and the metrics; plain numbers so a snapshot is a cheap copy. */
export class Counters {
  requests = 0;
  errors: Record<Exclude<Outcome, 'ok'>, number> = { exception: 0, timeout: 0, memory: 0, overloaded: 0, canceled: 0, internal: 0, output: 0 };
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
