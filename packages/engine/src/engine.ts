import os from 'node:os';
import uWS from 'uWebSockets.js';
import { SandboxPool } from '@webdat/sandbox';
import type { InfoSnapshot } from '@webdat/protocol';
import { createLogger, type Logger } from './log.js';
import { EngineError } from './errors.js';
import { parseConfig, parseServer } from './config/load.js';
import type { EngineConfig, EngineConfigInput, ServerConfig, ServerInput } from './config/schema.js';
import { UNPLACED, WebdatServer } from './server.js';
import { Listener } from './net/listener.js';
import type { AdminListener } from './admin/listener.js';
import type { Bus } from './cluster/bus.js';
import { peerEvents } from './cluster/peer-events.js';

/** What the log says of a server the supervisor quarantined (SPEC §5), in every process. */
const LEFT_INACTIVE = 'server left inactive: its callbacks repeatedly brought the engine down';

export interface EngineOptions {
  logger?: Logger;
  /** where readiness lines go, one call each; stdout by default */
  announce?: (line: string) => void;
  /** folder that relative paths of a config object are resolved against */
  baseDir?: string;
  /** names of servers to leave inactive (the supervisor's quarantine) */
  disabled?: ReadonlySet<string>;
  /** servers on probation (named together in an engine death), with when each is cleared (ms since the epoch) */
  suspects?: ReadonlyMap<string, number>;
  /** the other engine processes of this webdat (SPEC §12) */
  bus?: Bus;
  /** ports other processes already listen on, by server name: shared, never checked for being free */
  sharedPorts?: Map<string, number>;
}

const SWEEP_MS = 10;

/** Many servers in one process: one pool of worker threads, one uWS loop, one id space. */
export class Engine {
  readonly config: EngineConfig;
  readonly logger: Logger;
  readonly pool: SandboxPool;
  private readonly servers = new Map<string, WebdatServer>();
  private readonly byInstance = new Map<number, WebdatServer>();
  private readonly listeners = new Map<string, Listener>();
  private readonly announceLines: (lines: string[]) => void;
  /** readiness lines of the servers `start` started so far, written when it ends */
  private starting: string[] | null = null;
  private readonly baseDir: string;
  private readonly disabled: Set<string>;
  private readonly suspects: ReadonlyMap<string, number>;
  private seq = 0;
  private instanceSeq = 0;
  private sweeper: NodeJS.Timeout | null = null;
  /** servers with async events under a deadline: the only ones the sweeper visits (a host may have ten thousand servers) */
  private readonly awaiting = new Set<WebdatServer>();
  private admin: AdminListener | null = null;
  readonly bus: Bus | null;
  private readonly sharedPorts: Map<string, number>;
  /** callbacks files checked while the engine starts, so ten thousand servers of one file cost one check */
  private checks: Map<string, Promise<void>> | null = null;

  constructor(config: EngineConfig, opts: EngineOptions = {}) {
    if (typeof uWS.SSLApp !== 'function') {
      throw new EngineError('WEBDAT_ERR_UWS_NATIVE', 'uWebSockets.js loaded its JavaScript fallback; the native binary for this Node.js/glibc is missing');
    }
    this.config = config;
    this.logger = opts.logger ?? createLogger();
    const announce = opts.announce;
    this.announceLines = announce === undefined ? (lines) => process.stdout.write(lines.join('\n') + '\n') : (lines) => lines.forEach((l) => announce(l));
    this.baseDir = opts.baseDir ?? process.cwd();
    this.disabled = new Set(opts.disabled);
    this.suspects = opts.suspects ?? new Map();
    this.bus = opts.bus ?? null;
    this.sharedPorts = opts.sharedPorts ?? new Map();
    const isolates = config.servers.reduce((n, s) => n + s.instances, 0);
    const workers = config.workers ?? Math.max(1, Math.min(isolates, os.availableParallelism()));
    this.pool = new SandboxPool({
      workers,
      hooks: {
        onResult: (r) => this.byInstance.get(r.instance)?.applyResult(r),
        onWorkerLost: (lane, ids, err) => {
          this.logger.error({ lane, err: err.message }, 'worker thread lost; its events were answered 503 (WebSocket: closed with 1011) and its isolates are being rebuilt');
          for (const id of ids) this.byInstance.get(id)?.workerLost(id);
        },
        snapshot: (id) => this.byInstance.get(id)?.info() ?? ({} as InfoSnapshot),
        fanout: (id) => this.byInstance.get(id)?.clients.size ?? 0,
        clients: (id) => this.byInstance.get(id)?.clientsOf(id) ?? [],
      },
    });
    for (const s of config.servers) this.register(s);
    this.bus?.listen(peerEvents(this));
  }

  private register(config: ServerConfig): WebdatServer {
    if (this.servers.has(config.name)) throw new EngineError('WEBDAT_ERR_SERVER_EXISTS', `a server named "${config.name}" already exists`);
    const lanes = new Set<number>();
    // A server with idleSeconds is placed at its first use (WebdatServer.laneOf).
    const lazy = config.limits.idleSeconds !== undefined;
    const instances = Array.from({ length: config.instances }, () => {
      if (lazy) return { id: ++this.instanceSeq, lane: UNPLACED };
      const lane = this.pool.place(lanes);
      lanes.add(lane);
      return { id: ++this.instanceSeq, lane };
    });
    const server = new WebdatServer(config, instances, {
      pool: this.pool,
      logger: this.logger,
      nextId: () => ++this.seq,
      dataDir: this.config.dataDir,
      storageRedis: this.config.cluster === undefined ? undefined : { url: this.config.cluster.redis, cluster: this.config.cluster.name },
      announce: (line) => this.announce(line),
      listener: (s) => this.listenerFor(s),
      bus: this.bus,
      check: (entry) => this.check(entry, config.name),
      awaiting: (s) => this.awaiting.add(s),
      place: (avoid) => this.pool.place(avoid),
    });
    this.servers.set(config.name, server);
    for (const i of instances) this.byInstance.set(i.id, server);
    const until = this.suspects.get(config.name);
    if (until !== undefined) {
      for (const i of instances) this.pool.suspect(i.id, until);
      this.logger.warn({ server: config.name, until: new Date(until).toISOString() }, 'server on probation: its callbacks were running when the engine died, so they run apart from the other suspects');
    }
    return server;
  }

  /**
   * Servers on the same host and port share one listener (chosen by Host header). Port 0 means "any
   * free port" and is never shared. The listener admits the largest message any of them allows.
   */
  private listenerFor(server: WebdatServer): Listener {
    const c = server.config;
    const key = listenerKey(server);
    let l = this.listeners.get(key);
    if (l === undefined) {
      const sharing = [...this.servers.values()].filter((s) => s.config.host === c.host && s.config.port === c.port && (c.port !== 0 || s === server));
      const maxPayloadLength = Math.max(...sharing.map((s) => s.limits.maxMessageBytes));
      const shared = this.sharedPorts.get(server.name);
      l = new Listener({ host: c.host, port: shared ?? c.port, secure: c.secure, maxPayloadLength, shared: shared !== undefined, reusable: this.bus !== null });
      this.listeners.set(key, l);
    } else if (l.spec.secure !== c.secure) {
      throw new EngineError('WEBDAT_ERR_LISTEN', `server "${server.name}": ${c.host}:${c.port} is already served ${l.spec.secure ? 'with' : 'without'} TLS by another server`);
    } else {
      // Once a process opened the server's port, every process (that one too) opens it there again:
      // the others may still hold the socket, and `port: 0` stays one port for all.
      const shared = this.sharedPorts.get(server.name);
      if (shared !== undefined) l.share(shared);
    }
    return l;
  }

  private announce(line: string): void {
    if (this.starting === null) this.announceLines([line]);
    else this.starting.push(line);
  }

  /** Compiles and links `entry` on a worker without running it (servers with idleSeconds). */
  private check(entry: string, server: string): Promise<void> {
    let p = this.checks?.get(entry);
    if (p === undefined) {
      p = this.pool.check(entry).then((r) => {
        if (!r.ok) throw new EngineError('WEBDAT_ERR_CALLBACKS_LOAD', `server "${server}": ${r.error?.message ?? 'callbacks failed to load'}`);
      });
      this.checks?.set(entry, p);
    }
    return p;
  }

  /**
   * Another engine process died of the server's callbacks once too often (SPEC §5): this process stops
   * it too, and leaves it inactive if it is still starting.
   */
  quarantine(name: string): void {
    const s = this.servers.get(name);
    if (s === undefined || this.disabled.has(name)) return;
    this.disabled.add(name);
    s.operations.run(() => s.stop()).then(
      () => this.logger.warn({ server: name }, LEFT_INACTIVE),
      (err: Error) => this.logger.error({ server: name, err: err.message }, 'stopping a quarantined server failed'),
    );
  }

  /** Another process shares `port` for the server; a listener opened from now on uses it. */
  sharePort(name: string, port: number): void {
    this.sharedPorts.set(name, port);
  }

  server(name: string): WebdatServer {
    const s = this.servers.get(name);
    if (s === undefined) throw new EngineError('WEBDAT_ERR_SERVER_UNKNOWN', `no server named "${name}"`);
    return s;
  }

  list(): WebdatServer[] {
    return [...this.servers.values()];
  }

  /** Starts every active server; the first failure stops the engine and is thrown. */
  async start(): Promise<void> {
    this.sweeper ??= setInterval(() => {
      const now = Date.now();
      for (const s of this.awaiting) if (!s.sweep(now)) this.awaiting.delete(s);
    }, SWEEP_MS).unref();
    // Built first: its config and TLS files are checked before any server announces itself.
    // Loaded only when configured: prom-client alone costs a tenth of a second of CPU at start.
    const admin = this.config.admin !== undefined && this.admin === null
      ? new (await import('./admin/listener.js')).AdminListener(this, this.config.admin, { announce: (line) => this.announce(line) })
      : null;
    const active = [...this.servers.values()].filter((s) => s.config.active);
    for (const s of active) {
      if (this.disabled.has(s.name)) this.logger.warn({ server: s.name }, LEFT_INACTIVE);
    }
    const starting = active.filter((s) => !this.disabled.has(s.name));
    // One check per callbacks file while the engine starts (servers with idleSeconds).
    this.checks = new Map();
    // The readiness lines go out together: on a pipe each write is a system call, and ten thousand of
    // them were half a second of a start profiled under load (a write blocks while the reader is behind).
    this.starting = [];
    try {
      // Every server loads before the first one listens: servers sharing a port then all attach in one
      // turn of the loop, and no request for one still loading is answered 421 by the port.
      await Promise.all(starting.map((s) => s.prepare()));
      for (const s of starting) await s.start();
    } finally {
      this.checks = null;
      const lines = this.starting;
      this.starting = null;
      if (lines.length > 0) this.announceLines(lines);
    }
    if (admin !== null) {
      await admin.start();
      this.admin = admin;
    }
  }

  async addServer(input: ServerInput): Promise<WebdatServer> {
    const s = this.register(parseServer(input, this.baseDir));
    if (s.config.active) {
      try {
        await s.operations.run(() => s.start());
      } catch (err) {
        await this.forget(s);
        throw err;
      }
    }
    return s;
  }

  async removeServer(name: string): Promise<void> {
    const s = this.server(name);
    await s.operations.run(async () => {
      await s.stop();
      await this.forget(s);
    });
  }

  private async forget(s: WebdatServer): Promise<void> {
    s.removed = true;
    await Promise.all(s.instances.filter((i) => i.lane !== UNPLACED).map((i) => this.pool.unload(i.lane, i.id)));
    for (const i of s.instances) this.byInstance.delete(i.id);
    this.servers.delete(s.name);
    const key = listenerKey(s);
    const l = this.listeners.get(key);
    if (l === undefined) return;
    l.forget(s);
    if (l.empty) this.listeners.delete(key);
  }

  /** Ends the worker threads and what they hold, without stopping the servers: after a start that failed. */
  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    await this.pool.close();
  }

  async stop(): Promise<void> {
    this.admin?.close();
    this.admin = null;
    await Promise.all([...this.servers.values()].map((s) => s.operations.run(() => s.stop())));
    await this.close();
  }
}

function listenerKey(s: WebdatServer): string {
  const c = s.config;
  return c.port === 0 ? `${c.host}:0:${s.name}` : `${c.host}:${c.port}`;
}

/** Builds an engine from a config object (validated here) or an already parsed one. */
export function createEngine(config: EngineConfigInput | EngineConfig, opts: EngineOptions = {}): Engine {
  const parsed = parseConfig(config, opts.baseDir ?? process.cwd());
  return new Engine(parsed, opts);
}
