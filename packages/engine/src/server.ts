import uWS, { type HttpResponse, type TemplatedApp, type us_listen_socket } from 'uWebSockets.js';
import {
  CommandKind, EventKind, WsOp,
  type Command, type Event, type HttpEvent, type InfoSnapshot, type Outcome, type TenantResult, type TenantSpec,
} from '@webdat/protocol';
import type { SandboxPool } from '@webdat/sandbox';
import type { Logger } from './log.js';
import type { ServerConfig } from './config/schema.js';
import { EngineError } from './errors.js';
import { checkTls } from './tls.js';
import { Counters, type PendingEvent, type Ws } from './server-state.js';
import { handleRequest } from './http/handle-request.js';
import { writeOutcome, writeResponse } from './http/write-response.js';
import { BROADCAST_TOPIC, wsBehavior } from './ws/behavior.js';

/** What a server needs from the engine that hosts it. */
export interface ServerHost {
  pool: SandboxPool;
  logger: Logger;
  nextId(): number;
  /** called with the readiness line; the CLI prints it on stdout */
  announce(line: string): void;
}

/**
 * One Web Server DAT: its listening socket, its isolate's place in the pool, the events it has in
 * flight, and its lifecycle. Everything it writes to sockets goes through http/ and ws/ helpers.
 */
export class WebdatServer {
  readonly config: ServerConfig;
  readonly name: string;
  readonly tenant: number;
  readonly lane: number;
  readonly counters = new Counters();
  readonly clients = new Map<string, Ws>();
  readonly pending = new Map<number, PendingEvent>();
  private readonly host: ServerHost;
  private readonly log: Logger;
  private generation = 0;
  private app: TemplatedApp | null = null;
  private listenSocket: us_listen_socket | null = null;
  private stopWaiters: Array<() => void> = [];
  private stopEventId = -1;
  running = false;
  accepting = false;
  port = 0;
  address = '';
  private source: string | undefined;
  /** the isolate outlives stop/start (module state persists, as in TouchDesigner); reloads replace it */
  private loaded = false;

  constructor(config: ServerConfig, tenant: number, lane: number, host: ServerHost) {
    this.config = config;
    this.name = config.name;
    this.tenant = tenant;
    this.lane = lane;
    this.host = host;
    this.log = host.logger.child({ server: config.name });
  }

  get limits() {
    return this.config.limits;
  }

  private spec(): TenantSpec {
    return {
      tenant: this.tenant, generation: this.generation, name: this.name, port: this.port || this.config.port,
      secure: this.config.secure, entry: this.config.callbacks!, source: this.source, limits: { timeoutMs: this.limits.timeoutMs, memoryMb: this.limits.memoryMb },
    };
  }

  info(): InfoSnapshot {
    return this.counters.snapshot(this.running, this.clients.size);
  }

  /** Loads (or reloads) the callbacks into the isolate; the old code keeps serving if this fails. */
  async load(source?: string): Promise<void> {
    const previous = this.source;
    this.source = source;
    this.generation++;
    const r = await this.host.pool.load(this.lane, this.spec());
    this.applyCommands(r.commands);
    if (!r.ok) {
      this.source = previous;
      throw new EngineError('WEBDAT_ERR_CALLBACKS_LOAD', `server "${this.name}": ${r.error?.message ?? 'callbacks failed to load'}`);
    }
    this.loaded = true;
  }

  async start(): Promise<void> {
    if (this.running) return;
    if (this.config.secure) {
      checkTls({ privateKey: this.config.privateKey!, certificate: this.config.certificate!, password: this.config.password });
    }
    if (!this.loaded) await this.load(this.source);
    const app = this.createApp();
    // onServerStart is queued before the socket listens, so it runs before any other event.
    this.submit(null, { k: EventKind.serverStart, id: 0 });
    await new Promise<void>((resolve, reject) => {
      app.listen(this.config.host, this.config.port, (socket) => {
        if (!socket) {
          reject(new EngineError('WEBDAT_ERR_LISTEN', `server "${this.name}" cannot listen on ${this.config.host}:${this.config.port} (address in use or not available)`));
          return;
        }
        this.listenSocket = socket;
        this.port = uWS.us_socket_local_port(socket as unknown as uWS.us_socket);
        resolve();
      });
    });
    this.app = app;
    this.address = `${this.config.host}:${this.port}`;
    this.running = true;
    this.accepting = true;
    const scheme = this.config.secure ? 'https' : 'http';
    this.host.announce(`webdat: server "${this.name}" listening on ${scheme}://${this.config.host}:${this.port}`);
  }

  private createApp(): TemplatedApp {
    let app: TemplatedApp;
    try {
      app = this.config.secure
        ? uWS.SSLApp({ key_file_name: this.config.privateKey, cert_file_name: this.config.certificate, passphrase: this.config.password })
        : uWS.App();
    } catch {
      throw new EngineError('WEBDAT_ERR_TLS', `server "${this.name}": TLS setup failed for ${this.config.privateKey} / ${this.config.certificate}`);
    }
    app.ws('/*', wsBehavior(this));
    app.any('/*', (res, req) => handleRequest(this, res, req));
    return app;
  }

  /**
   * Stops accepting, runs onServerStop (bounded by the time limit), closes WebSockets with `closeCode`
   * and gives in-flight requests `graceMs` to finish before they are answered 503.
   */
  async stop(closeCode = 1001, graceMs = 2000): Promise<void> {
    if (!this.running) return;
    this.accepting = false;
    if (this.listenSocket) uWS.us_listen_socket_close(this.listenSocket);
    this.listenSocket = null;
    const stopDone = new Promise<void>((resolve) => this.stopWaiters.push(resolve));
    this.stopEventId = this.submit(null, { k: EventKind.serverStop, id: 0 });
    await Promise.race([stopDone, delay(this.limits.timeoutMs + 1000)]);
    for (const ws of [...this.clients.values()]) {
      if (!ws.getUserData().closed) ws.end(closeCode, closeCode === 1012 ? 'Service Restart' : 'Going Away');
    }
    const until = Date.now() + graceMs;
    while (this.pending.size > 0 && Date.now() < until) await delay(10);
    this.failAll('canceled');
    this.running = false;
    (this.app as unknown as { close?: () => void } | null)?.close?.();
    this.app = null;
  }

  async restart(): Promise<void> {
    await this.stop(1012);
    await this.start();
  }

  /** Queue an HTTP event, or answer 503 overloaded when the server already has maxQueue pending. */
  submitHttp(p: PendingEvent, event: HttpEvent): void {
    this.counters.requests++;
    if (!this.accepting) { this.counters.errors.canceled++; writeOutcome(p, 'canceled'); return; }
    if (this.pending.size >= this.limits.maxQueue) { this.counters.errors.overloaded++; writeOutcome(p, 'overloaded'); return; }
    event.id = this.host.nextId();
    this.pending.set(event.id, p);
    this.host.pool.push(this.lane, this.tenant, this.generation, event);
  }

  /** WebSocket events beyond maxQueue close the connection with 1013 (Try Again Later). */
  submitWs(ws: Ws | null, event: Event): void {
    if (ws !== null && this.pending.size >= this.limits.maxQueue) {
      this.counters.errors.overloaded++;
      ws.end(1013, 'Server overloaded');
      return;
    }
    this.submit(null, event);
  }

  private submit(res: HttpResponse | null, event: Event): number {
    event.id = this.host.nextId();
    this.pending.set(event.id, { res, aborted: false, deadline: 0 });
    this.host.pool.push(this.lane, this.tenant, this.generation, event);
    return event.id;
  }

  /** Results from the worker, in the order the callbacks produced them. */
  applyResult(r: TenantResult): void {
    const s = r.stats;
    this.counters.heapUsed = s.heapUsed;
    this.counters.cpuTimeMs = s.cpuTimeMs;
    this.counters.memoryRestarts = s.memoryRestarts;
    this.applyCommands(r.commands);
    const p = r.pending;
    const now = Date.now();
    for (let i = 0; i < p.length; i += 2) {
      const e = this.pending.get(p[i]);
      if (e !== undefined && e.deadline === 0) e.deadline = now + Math.max(0, this.limits.timeoutMs - p[i + 1]);
    }
  }

  private applyCommands(commands: Command[]): void {
    for (const c of commands) {
      switch (c.c) {
        case CommandKind.respond: {
          const e = this.pending.get(c.id);
          if (e === undefined) break;
          this.pending.delete(c.id);
          if (e.res !== null) this.counters.bytesOut += writeResponse(e, c.status, c.reason, c.headers, c.body);
          break;
        }
        case CommandKind.done:
          this.finish(c.id, c.o);
          break;
        case CommandKind.wsSend: {
          const ws = this.clients.get(c.client);
          if (ws === undefined || ws.getUserData().closed) break;
          const data = c.data;
          this.counters.bytesOut += typeof data === 'string' ? data.length : data.length;
          const sent = c.op === WsOp.ping ? ws.ping(data) : ws.send(data, c.op === WsOp.binary);
          // 2 = dropped at maxBackpressure. uWS v20.30 does not close such a reader itself, and a
          // connection that silently loses messages is worse than a closed one (README: slow readers).
          if (sent === 2) {
            this.counters.slowReadersClosed++;
            ws.getUserData().closed = true;
            ws.close();
          }
          break;
        }
        case CommandKind.wsClose: {
          const ws = this.clients.get(c.client);
          if (ws !== undefined && !ws.getUserData().closed) ws.end(c.code, c.reason);
          break;
        }
        case CommandKind.broadcast:
          this.app?.publish(BROADCAST_TOPIC, c.data, c.op === WsOp.binary);
          break;
        case CommandKind.log:
          this.logLine(c.level, c.msg);
          break;
      }
    }
  }

  private logLine(level: string, msg: string): void {
    if (level === 'error') this.log.error(msg);
    else if (level === 'warn') this.log.warn(msg);
    else this.log.info(msg);
  }

  private finish(id: number, outcome: Outcome): void {
    const e = this.pending.get(id);
    if (e === undefined) return;
    this.pending.delete(id);
    if (outcome !== 'ok') this.counters.errors[outcome]++;
    if (id === this.stopEventId) { this.stopWaiters.forEach((w) => w()); this.stopWaiters = []; }
    if (e.res !== null) writeOutcome(e, outcome === 'ok' ? 'internal' : outcome);
  }

  /** Gives up on async events whose time ran out; the isolate is told to forget them. */
  sweep(now: number): void {
    for (const [id, e] of this.pending) {
      if (e.deadline !== 0 && e.deadline <= now) {
        this.host.pool.cancel(this.lane, this.tenant, this.generation, id);
        this.finish(id, 'timeout');
      }
    }
  }

  /** Every event in flight ends with `outcome` (the worker was lost, or the server is stopping). */
  failAll(outcome: Exclude<Outcome, 'ok'>): void {
    for (const id of [...this.pending.keys()]) this.finish(id, outcome);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
