import type { WebSocket } from 'uWebSockets.js';
import type { Event, HttpEvent } from '@webdat/protocol';
import type { LimitsConfig, ServerConfig } from './config/schema.js';
import type { Latency } from './http/latency.js';
import type { Counters } from './counters.js';
import type { InFlightEvent } from './in-flight.js';

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
  submitHttp(e: InFlightEvent, event: HttpEvent): void;
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
  instance: number;
}
export type Ws = WebSocket<WsData>;
