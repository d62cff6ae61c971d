import os from 'node:os';
import {
  CommandKind, EventKind, NO_EVENT,
  type Command, type Event, type HttpEvent, type InfoSnapshot, type Outcome, type InstanceResult, type InstanceSpec,
} from '@webdat/protocol';
import type { SandboxPool } from '@webdat/sandbox';
import type { Logger } from './log.js';
import type { ServerConfig } from './config/schema.js';
import { EngineError } from './errors.js';
import { checkTls } from './tls.js';
import type { Endpoint, Ws } from './endpoint.js';
import { Counters } from './counters.js';
import { InFlight, bareEvent, type InFlightEvent } from './in-flight.js';
import { writeOutcome, writeResponse } from './http/write-response.js';
import { Latency } from './http/latency.js';
import type { Listener } from './net/listener.js';
import type { Bus } from './cluster/bus.js';
import { WsEgress } from './ws/egress.js';
import { OperationQueue } from './operation-queue.js';

/** What a server needs from the engine that hosts it. */
export interface ServerHost {
  pool: SandboxPool;
  logger: Logger;
  nextId(): number;
  /** absolute folder of the servers' stored data */
  dataDir: string;
  /** the cluster's Redis, where storage lives in a cluster */
  storageRedis?: { url: string; cluster: string };
  /** called with the readiness line; the CLI prints it on stdout */
  announce(line: string): void;
  /** the listener for this server's host and port, shared with the servers that share them */
  listener(server: WebdatServer): Listener;
  /** the other engine processes (SPEC §12); null when this process is the only one */
  bus: Bus | null;
  /** compiles and links a callbacks file without running it; the engine checks each file once as it starts */
  check(entry: string): Promise<void>;
  /** a worker lane for an instance, not one of `avoid` (those of the server's other instances) if there are others */
  place(avoid: ReadonlySet<number>): number;
  /** the server has async events with a deadline: the engine sweeps it until it has none */
  awaiting(server: WebdatServer): void;
}

/** The lane of an instance of a server with idleSeconds before its first use. */
export const UNPLACED = -1;

/** One isolate of a server, pinned to one worker lane. `instances: N` gives a server N of them. */
export interface Instance {
  /** unique in the process: the pool, the workers and the thread messages know the instance by it */
  id: number;
  /** UNPLACED until a server with idleSeconds is first used */
  lane: number;
  generation: number;
  heapUsed: number;
  cpuTimeMs: number;
  memoryRestarts: number;
  headerBreaches: number;
  logLinesDropped: number;
  /** the worker holds an isolate for it (false before the first event of a server with idleSeconds, and once released) */
  live: boolean;
}

/**
 * One Web Server DAT: its config, its instances' places in the pool, its lifecycle, and where each
 * event goes and each result is applied. The events in flight are kept in in-flight.ts; everything
 * written to sockets goes through http/ and ws/.
 */
export class WebdatServer implements Endpoint {
  readonly config: ServerConfig;
  readonly name: string;
  readonly instances: Instance[];
  /** broadcasts reach this server's clients only, even on a shared listener */
  readonly topic: string;
  readonly counters = new Counters();
  readonly latency = new Latency();
  readonly clients = new Map<string, Ws>();
  /** this server's clients connected to other engine processes */
  readonly remote = new Set<string>();
  /** part of every client id, unique per process, so ids stay unique across processes */
  readonly clientTag: string;
  /** `webServer.primary`: the supervisor elects one process per server; alone, this one */
  primary: boolean;
  readonly inFlight: InFlight;
  readonly egress: WsEgress;
  /** whoever starts, stops, restarts, reloads or removes the server goes through this queue */
  readonly operations = new OperationQueue();
  private readonly host: ServerHost;
  private logger: Logger | null = null;
  private listener: Listener | null = null;
  private nextInstance = 0;
  running = false;
  accepting = false;
  port = 0;
  address = '';
  private source: string | undefined;
  /**
   * the isolate outlives stop/start (module state persists, as in TouchDesigner); reloads replace it.
   * With idleSeconds: the workers know the server (its isolate is built at its first event).
   */
  private loaded = false;
  /** removed from its engine: an operation queued behind the removal must not bring it back */
  removed = false;

  constructor(config: ServerConfig, instances: Array<{ id: number; lane: number }>, host: ServerHost) {
    this.config = config;
    this.name = config.name;
    this.instances = instances.map((i) => ({ id: i.id, lane: i.lane, generation: 0, heapUsed: 0, cpuTimeMs: 0, memoryRestarts: 0, headerBreaches: 0, logLinesDropped: 0, live: false }));
    this.inFlight = new InFlight(instances.length);
    this.topic = `webdat/broadcast/${config.name}`;
    this.host = host;
    // the node, not the pid alone: two hosts of a cluster can run webdat under one pid (containers)
    this.clientTag = host.bus === null ? '' : `${host.bus.node}.`;
    this.primary = host.bus === null;
    this.egress = new WsEgress(this.name, this.clients, this.remote, this.counters, host.bus, (data, binary) => this.listener?.publish(this.topic, data, binary));
  }

  get limits() {
    return this.config.limits;
  }

  /** made at first use: a child logger costs more than the rest of a server, and most of ten thousand never log */
  private get log(): Logger {
    return this.logger ??= this.host.logger.child({ server: this.name });
  }

  /** `limits.idleSeconds` (SPEC §12): isolates exist from the first event until idle */
  get lazy(): boolean {
    return this.config.limits.idleSeconds !== undefined;
  }

  private spec(instance: Instance): InstanceSpec {
    const l = this.limits;
    // Log rates are per server: each instance (isolate) gets its share.
    const n = this.instances.length;
    return {
      instance: instance.id, generation: instance.generation, name: this.name, port: this.port || this.config.port,
      secure: this.config.secure, node: this.host.bus?.node ?? NODE, entry: this.config.callbacks!, source: this.source,
      limits: {
        timeoutMs: l.timeoutMs, memoryMb: l.memoryMb, cpuMs: l.cpuMs, maxTimers: l.maxTimers,
        storageMb: l.storageMb, maxFetches: l.maxFetches, maxFetchBytes: l.maxFetchBytes,
        maxOutputBytes: l.maxOutputBytes, maxHeaders: l.maxHeaders, maxHeaderBytes: l.maxHeaderBytes,
        logLinesPerSecond: Math.max(1, Math.floor(l.logLinesPerSecond / n)), logBytesPerSecond: Math.max(1, Math.floor(l.logBytesPerSecond / n)),
      },
      dataDir: this.host.dataDir, storageRedis: this.host.storageRedis, egress: this.config.egress,
      idleMs: l.idleSeconds === undefined ? undefined : l.idleSeconds * 1000,
    };
  }

  info(): InfoSnapshot {
    const c = this.counters;
    c.heapUsed = 0;
    c.cpuTimeMs = 0;
    c.memoryRestarts = 0;
    c.headerBreaches = 0;
    c.logLinesDropped = 0;
    let isolates = 0;
    for (const i of this.instances) {
      if (i.live) isolates++;
      c.heapUsed += i.heapUsed;
      c.cpuTimeMs += i.cpuTimeMs;
      c.memoryRestarts += i.memoryRestarts;
      c.headerBreaches += i.headerBreaches;
      c.logLinesDropped += i.logLinesDropped;
    }
    return c.snapshot(this.running, this.clients.size + this.remote.size, this.primary, isolates);
  }

  /** The instance with the fewest events in flight (round-robin among equals). */
  pickInstance(): number {
    const n = this.instances.length;
    if (n === 1) return 0;
    let best = this.nextInstance = (this.nextInstance + 1) % n;
    for (let k = 1; k < n; k++) {
      const i = (best + k) % n;
      if (this.inFlight.loadOf(i) < this.inFlight.loadOf(best)) best = i;
    }
    return best;
  }

  /** Loads (or reloads) the callbacks into the isolate; the old code keeps serving if this fails. */
  async load(source?: string): Promise<void> {
    this.assertPresent();
    const previous = this.source;
    this.source = source;
    const results = await Promise.all(this.instances.map((instance) => {
      instance.generation++;
      return this.host.pool.load(this.laneOf(instance), this.spec(instance));
    }));
    for (const r of results) this.applyCommands(r.commands);
    const failed = results.find((r) => !r.ok);
    if (failed !== undefined) {
      this.source = previous;
      throw new EngineError('WEBDAT_ERR_CALLBACKS_LOAD', `server "${this.name}": ${failed.error?.message ?? 'callbacks failed to load'}`);
    }
    this.loaded = true;
  }

  /** Loads the callbacks if they are not loaded yet (the isolate outlives stop/start). */
  async prepare(): Promise<void> {
    // A server with idleSeconds is only checked here (once per file as the engine starts): its
    // workers learn of it at its first event, which builds the isolate and runs onServerStart.
    if (this.lazy && !this.loaded && this.source === undefined) await this.host.check(this.config.callbacks!);
    else if (!this.loaded) await this.load(this.source);
  }

  async start(): Promise<void> {
    this.assertPresent();
    if (this.running) return;
    if (this.config.secure) {
      checkTls({ privateKey: this.config.privateKey!, certificate: this.config.certificate!, password: this.config.password });
    }
    await this.prepare();
    const listener = this.host.listener(this);
    this.port = await listener.attach(this);
    this.listener = listener;
    // Queued in the same turn as the socket starts listening (no request is taken before this
    // returns), so onServerStart runs before any other event, and knows the port (`--port 0`).
    if (this.loaded) {
      for (const client of this.remote) this.submitPeer(EventKind.peerJoin, client);
      for (let i = 0; i < this.instances.length; i++) this.submitOwn(i, { k: EventKind.serverStart, id: 0, port: this.port });
    }
    // An IPv6 host in brackets, as in a URL (`[::]:9980`).
    const host = this.config.host.includes(':') ? `[${this.config.host}]` : this.config.host;
    this.address = `${host}:${this.port}`;
    this.running = true;
    this.accepting = true;
    const scheme = this.config.secure ? 'https' : 'http';
    const line = `webdat: server "${this.name}" listening on ${scheme}://${host}:${this.port}`;
    // With several processes the supervisor prints it once, when every process serves (SPEC §12).
    if (this.host.bus === null) this.host.announce(line);
    else this.host.bus.serving(this.name, this.port, line);
  }

  /**
   * Stops accepting, gives what is in flight `graceMs` to finish, runs onServerStop (bounded by the
   * time limit), closes WebSockets with `closeCode`, and answers what is still in flight 503.
   */
  async stop(closeCode = 1001, graceMs = 2000): Promise<void> {
    if (!this.running) return;
    this.accepting = false;
    this.host.bus?.stopped(this.name);
    this.listener?.detach(this);
    // SPEC §2's order: what is in flight finishes (within the grace period; its timers and host
    // operations still run), then onServerStop, then the sockets close.
    const until = Date.now() + graceMs;
    while (this.inFlight.size > 0 && Date.now() < until) await delay(10);
    // A server with idleSeconds that never had an event has no isolate to run onServerStop in.
    if (this.loaded) {
      const stops = this.instances.map((_, i) => this.submitOwn(i, { k: EventKind.serverStop, id: 0 }));
      await Promise.race([this.inFlight.settled(stops), delay(this.limits.timeoutMs + 1000)]);
    }
    for (const ws of [...this.clients.values()]) {
      if (!ws.getUserData().closed) ws.end(closeCode, closeCode === 1012 ? 'Service Restart' : 'Going Away');
    }
    this.failAll('canceled');
    this.running = false;
    this.listener?.release();
    this.listener = null;
  }

  private assertPresent(): void {
    if (this.removed) throw new EngineError('WEBDAT_ERR_SERVER_UNKNOWN', `server "${this.name}" was removed`);
  }

  async restart(): Promise<void> {
    await this.stop(1012);
    await this.start();
  }

  /** Queue an HTTP event, or answer 503 overloaded when the server already has maxQueue pending. */
  submitHttp(e: InFlightEvent, event: HttpEvent): void {
    this.counters.requests++;
    if (!this.accepting) { this.counters.errors.canceled++; writeOutcome(e, 'canceled'); return; }
    if (this.inFlight.queued >= this.limits.maxQueue) { this.counters.errors.overloaded++; writeOutcome(e, 'overloaded'); return; }
    e.instance = this.pickInstance();
    this.submit(event, e);
  }

  /** WebSocket events beyond maxQueue close the connection with 1013 (Try Again Later). */
  submitWs(ws: Ws, event: Event, checkQueue = true): void {
    if (checkQueue && this.inFlight.queued >= this.limits.maxQueue) {
      this.counters.errors.overloaded++;
      ws.end(1013, 'Server overloaded');
      return;
    }
    const d = ws.getUserData();
    this.submit(event, bareEvent(d.instance, d.client));
  }

  /** The server's own events (lifecycle, peer lists) on instance `i`: never bounded by maxQueue. */
  private submitOwn(i: number, event: Event): number {
    return this.submit(event, bareEvent(i), true);
  }

  /**
   * The first event of a server with idleSeconds tells its workers about it (they build its isolate
   * for the event); clients of other processes are listed before it. A spec the worker refused (the
   * file went away) is sent again with the next event.
   */
  private loadLazily(): void {
    this.loaded = true;
    for (const instance of this.instances) {
      instance.generation++;
      void this.host.pool.load(this.laneOf(instance), this.spec(instance), true).then((r) => {
        this.applyCommands(r.commands);
        if (r.ok) return;
        this.loaded = false;
        this.log.error(`callbacks failed to load: ${r.error?.message ?? 'unknown error'}`);
      });
    }
    for (const client of this.remote) this.submitPeer(EventKind.peerJoin, client);
  }

  /**
   * A server with idleSeconds takes its worker at its first use, the one with the fewest servers then:
   * of ten thousand configured, the ones in use spread evenly whatever their order in the config.
   */
  private laneOf(instance: Instance): number {
    if (instance.lane === UNPLACED) instance.lane = this.host.place(new Set(this.instances.map((i) => i.lane).filter((l) => l !== UNPLACED)));
    return instance.lane;
  }

  /** `e` says which instance runs the event and, for a request, carries the response to answer. */
  private submit(event: Event, e: InFlightEvent, own = false): number {
    if (!this.loaded && this.lazy) this.loadLazily();
    const instance = this.instances[e.instance];
    event.id = this.host.nextId();
    this.inFlight.add(event.id, e, own);
    this.host.pool.push(this.laneOf(instance), instance.id, instance.generation, event);
    return event.id;
  }

  /** Results from the worker, in the order the callbacks produced them. */
  applyResult(r: InstanceResult): void {
    const s = r.stats;
    const instance = this.instances.length === 1 ? this.instances[0] : this.instances.find((i) => i.id === r.instance)!;
    instance.heapUsed = s.heapUsed;
    instance.cpuTimeMs = s.cpuTimeMs;
    instance.memoryRestarts = s.memoryRestarts;
    instance.headerBreaches = s.headerBreaches;
    instance.logLinesDropped = s.logLinesDropped;
    instance.live = s.live === 1;
    this.applyCommands(r.commands);
    if (this.inFlight.setDeadlines(r.pending, this.limits.timeoutMs, Date.now())) this.host.awaiting(this);
  }

  private applyCommands(commands: Command[]): void {
    for (const c of commands) {
      switch (c.c) {
        case CommandKind.respond: {
          const e = this.inFlight.take(c.id);
          if (e !== undefined && e.res !== null) this.counters.bytesOut += writeResponse(e, c.status, c.reason, c.headers, c.body);
          break;
        }
        case CommandKind.done:
          if (c.id < 0) { if (c.o !== 'ok') this.counters.errors[c.o]++; break; }
          this.finish(c.id, c.o);
          break;
        case CommandKind.wsSend:
          this.egress.send(c.client, c.op, c.data);
          break;
        case CommandKind.wsClose:
          this.egress.close(c.client, c.code, c.reason);
          break;
        case CommandKind.broadcast:
          this.egress.broadcast(c.op, c.data);
          break;
        case CommandKind.log:
          this.logLine(c.level, c.msg);
          break;
      }
    }
  }

  /** A client connected to this process: the other processes list it. */
  joined(client: string): void {
    this.host.bus?.join(this.name, client);
  }

  left(client: string): void {
    this.host.bus?.leave(this.name, client);
  }

  /** A client of another process joined or left: the isolates' lists follow, no callback runs. */
  peer(kind: typeof EventKind.peerJoin | typeof EventKind.peerLeave, client: string): void {
    if (kind === EventKind.peerJoin) this.remote.add(client);
    else this.remote.delete(client);
    if (this.loaded) this.submitPeer(kind, client);
  }

  private submitPeer(kind: typeof EventKind.peerJoin | typeof EventKind.peerLeave, client: string): void {
    for (let i = 0; i < this.instances.length; i++) this.submitOwn(i, { k: kind, id: 0, client });
  }

  private logLine(level: string, msg: string): void {
    if (level === 'error') this.log.error(msg);
    else if (level === 'warn') this.log.warn(msg);
    else this.log.info(msg);
  }

  private finish(id: number, outcome: Outcome): void {
    const e = this.inFlight.take(id);
    if (e === undefined) {
      if (id === NO_EVENT && outcome !== 'ok') this.counters.errors[outcome]++;
      return;
    }
    if (outcome !== 'ok') this.counters.errors[outcome]++;
    if (e.res !== null) writeOutcome(e, outcome === 'ok' ? 'internal' : outcome);
    // A WebSocket event that went with its isolate (or was lost by the engine) will never be answered:
    // like one lost with its worker thread, its connection is closed rather than left waiting.
    else if (e.client !== undefined && (outcome === 'memory' || outcome === 'internal')) this.egress.closeLocal(e.client, INTERNAL_ERROR_CLOSE, 'Event Lost');
  }

  /** Gives up on async events whose time ran out; the isolate is told to forget them. True while others still await. */
  sweep(now: number): boolean {
    for (const id of this.inFlight.expired(now)) {
      const e = this.inFlight.get(id);
      if (e === undefined) continue;
      const instance = this.instances[e.instance];
      this.host.pool.cancel(instance.lane, instance.id, instance.generation, id);
      this.finish(id, 'timeout');
    }
    return this.inFlight.awaiting;
  }

  /** Every event in flight ends with `outcome` (the server is stopping). */
  failAll(outcome: Exclude<Outcome, 'ok'>): void {
    for (const id of this.inFlight.ids()) this.finish(id, outcome);
  }

  /** Ids of the open WebSocket connections served by the instance `id`. */
  clientsOf(id: number): string[] {
    const i = this.instances.findIndex((x) => x.id === id);
    return [...this.clients].filter(([, ws]) => ws.getUserData().instance === i).map(([id]) => id);
  }

  /**
   * The worker thread of instance `id` was lost, and with it every event of the instance not yet
   * finished: HTTP requests are answered 503 `canceled`; a WebSocket connection whose message (or
   * open, ping, pong) went with it is closed with 1011, since nothing will ever answer it. Its other
   * connections stay open for the rebuilt isolate.
   */
  workerLost(id: number): void {
    const i = this.instances.findIndex((x) => x.id === id);
    const orphaned = new Set<string>();
    for (const id of this.inFlight.ids(i)) {
      const client = this.inFlight.get(id)?.client;
      if (client !== undefined) orphaned.add(client);
      this.finish(id, 'canceled');
    }
    for (const client of orphaned) this.egress.closeLocal(client, INTERNAL_ERROR_CLOSE, 'Worker Lost');
  }
}

/** RFC 6455 "Internal Error": the server met a condition that kept it from answering. */
const INTERNAL_ERROR_CLOSE = 1011;

/** `webServer.node` of a process alone: nothing else names it */
const NODE = `${os.hostname()}:${process.pid}`;

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
