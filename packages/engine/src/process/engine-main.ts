import path from 'node:path';
import { EngineError, isEngineError } from '../errors.js';
import { createLogger } from '../log.js';
import { loadConfigFile, parseConfig } from '../config/load.js';
import { adminSchema, type EngineConfig } from '../config/schema.js';
import { Engine } from '../engine.js';
import { watchCallbacks } from '../reload/watch-callbacks.js';
import type { ServeOptions } from './serve-options.js';
import { IpcBus, PROCESSES_ENV } from '../cluster/ipc-bus.js';
import type { Init } from '../cluster/messages.js';
import type { RedisBus } from '../cluster/redis-bus.js';
import { HostInCluster } from '../cluster/host-in-cluster.js';
import type { Bus } from '../cluster/bus.js';
import { SUSPECTS_ENV } from './blame.js';

const SERVER_FLAGS: Array<keyof ServeOptions> = ['callbacks', 'port', 'host', 'name', 'secure', 'privateKey', 'certificate', 'password', 'timeoutMs', 'memoryMb', 'cpuMs'];

/** CLI flags become the same config object a file would give, and pass through the same schema. */
export function configFromOptions(opts: ServeOptions): EngineConfig {
  const password = opts.password ?? process.env.WEBDAT_TLS_PASSWORD;
  const admin = opts.adminPort === undefined ? undefined : adminSchema.parse({ port: opts.adminPort, host: '127.0.0.1' });
  if (opts.config !== undefined) {
    const used = SERVER_FLAGS.filter((k) => opts[k] !== undefined);
    if (used.length > 0) throw new EngineError('WEBDAT_ERR_USAGE', `--config cannot be combined with per-server flags (${used.join(', ')}); put them in the config file`);
    const c = loadConfigFile(opts.config);
    const dataDir = opts.dataDir === undefined ? c.dataDir : path.resolve(opts.dataDir);
    // --admin-port moves the file's admin listener and keeps the rest of it: a configured token is always enforced (SPEC §7).
    const fileAdmin = c.admin !== undefined && opts.adminPort !== undefined ? { ...c.admin, port: opts.adminPort } : admin ?? c.admin;
    return { ...c, workers: opts.workers ?? c.workers, processes: opts.processes ?? c.processes, admin: fileAdmin, dataDir };
  }
  const server = {
    name: opts.name ?? 'default',
    host: opts.host ?? '0.0.0.0',
    port: opts.port ?? 9980,
    secure: opts.secure ?? false,
    privateKey: opts.privateKey,
    certificate: opts.certificate,
    password,
    callbacks: opts.callbacks,
    limits: { timeoutMs: opts.timeoutMs ?? 100, memoryMb: opts.memoryMb ?? 128, cpuMs: opts.cpuMs },
  };
  return parseConfig({ servers: [server], workers: opts.workers, processes: opts.processes, admin, dataDir: opts.dataDir }, process.cwd(), 'command line');
}

/** The engine process: serves until SIGINT/SIGTERM, then stops gracefully and exits 0. */
export async function runEngine(opts: ServeOptions): Promise<number | null> {
  const logger = createLogger();
  let engine: Engine | null = null;
  let starting: Promise<void> = Promise.resolve();
  let stopping = false;
  // Handlers go in before anything starts: a signal that arrives right after the readiness line
  // must still run onServerStop, not kill the process with the default action.
  // A repeated signal changes nothing: a terminal's Ctrl-C or a service manager's stop signals the
  // whole process group, so the engine hears it from there and again from its supervisor, and the
  // graceful stop ends within its bounds anyway (a second signal to the supervisor forces it).
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping: finishing in-flight events');
    starting.then(() => engine?.stop()).then(() => process.exit(0), (err) => {
      logger.error({ err: (err as Error).message }, 'error while stopping');
      process.exit(0);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  try {
    const disabled = new Set<string>(JSON.parse(process.env.WEBDAT_DISABLED ?? '[]') as string[]);
    const suspects = new Map(Object.entries(JSON.parse(process.env[SUSPECTS_ENV] ?? '{}') as Record<string, number>));
    const cluster = Number(process.env[PROCESSES_ENV] ?? '1') > 1 && process.send !== undefined ? await IpcBus.connect() : null;
    // Without its supervisor, a process of several would serve alone and unannounced: it stops.
    process.on('disconnect', () => stop('disconnect'));
    const config = configFromOptions(opts);
    // Each engine process joins Redis itself before it starts a server (see HostInCluster).
    // ioredis is loaded only by a process of a cluster: one host without `cluster` pays nothing for it
    const redis: RedisBus | null = config.cluster === undefined ? null
      : await (await import('../cluster/redis-bus.js')).RedisBus.connect(config.cluster, logger, cluster === null ? announce : null);
    let bus: Bus | undefined = cluster?.bus;
    if (redis !== null) bus = cluster === null ? redis : new HostInCluster(cluster.bus, redis);
    engine = new Engine(cluster === null ? config : asProcessOf(config, cluster.init), {
      logger, disabled, suspects, bus, sharedPorts: new Map(cluster?.init.ports),
    });
    for (const o of cluster?.init.overrides ?? []) if (o.source !== undefined) await engine.server(o.server).load(o.source);
    starting = engine.start();
    await starting;
    cluster?.bus.started();
    if (opts.watch === true) watchCallbacks(engine);
  } catch (err) {
    const code = isEngineError(err) ? err.exitCode : 1;
    const tag = isEngineError(err) ? err.code : 'WEBDAT_ERR_INTERNAL';
    process.stderr.write(`webdat: ${tag}: ${(err as Error).message}\n`);
    // The worker threads drop the isolates already built before the process exits (pool.ts, close).
    await engine?.close().catch(() => {});
    process.exit(code);
  }
  return null;
}

function announce(line: string): void {
  process.stdout.write(line + '\n');
}

/**
 * One process of several (SPEC §12): the admin listener lives in the first, and the admin actions
 * the others saw since webdat started hold here too (the supervisor replays them in `init`).
 */
function asProcessOf(config: EngineConfig, init: Init): EngineConfig {
  const active = new Map(init.overrides.filter((o) => o.active !== undefined).map((o) => [o.server, o.active!]));
  return {
    ...config,
    admin: init.index === 0 ? config.admin : undefined,
    servers: config.servers.map((s) => ({ ...s, active: active.get(s.name) ?? s.active })),
  };
}
