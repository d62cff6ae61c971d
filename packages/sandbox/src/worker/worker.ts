import { move, transferableSymbol, valueSymbol, workerData } from 'piscina';
import {
  CommandKind, PROTOCOL_VERSION, TaskKind, decodeTask, encode,
  type BatchResult, type Command, type LoadResult, type InstanceBatch, type InstanceResult,
} from '@webdat/protocol';
import { InstanceHost } from './isolate-host.js';
import { CallbacksLoadError, SandboxErrorCode } from '../shared/errors.js';
import { openActivity, reportIdle, reportRunning, setHangBound } from '@webdat/protocol';
import type { RingMemory } from '@webdat/protocol';
import { attachRing, bodyToRing, closeRing, openRing } from './ring.js';
import { takeOutboxNews } from './outbox.js';
import { HostLoop } from './host-ops/host-loop.js';
import { checkModuleGraph } from './check.js';
import { dropSpares, refillPending } from './fresh-isolates.js';
import vm from 'node:vm';
import { ModuleSources } from './module-loader.js';

// piscina entry: one task in, one encoded result out. Nothing here may throw back to piscina (that
// would read as a lost worker), so every failure becomes a result.

const instances = new Map<number, InstanceHost>();
const data = workerData as { ring?: RingMemory; lane?: number; channel?: string } | undefined;
const ring = data?.ring;
openActivity(data?.lane ?? 0);
const loop = new HostLoop(data?.channel);
attachRing(ring);

/** Large bodies still inline go to the shared ring while it has room. */
function moveBodiesToRing(results: InstanceResult[]): void {
  for (const r of results) for (const c of r.commands) if (c.c === CommandKind.respond) bodyToRing(c);
}

// Tests provoke a worker exit through this switch; it is off unless the engine was started with it.
const faultsEnabled = process.env.WEBDAT_TEST_FAULTS === '1';

type LoadTask = Extract<ReturnType<typeof decodeTask>, { t: typeof TaskKind.load }>;

function loadFailed(err: unknown, commands: Command[]): LoadResult {
  const e = err instanceof CallbacksLoadError ? err : new CallbacksLoadError(SandboxErrorCode.load, (err as Error).message);
  return { v: PROTOCOL_VERSION, ok: false, error: { code: e.code, message: e.message }, commands, hold: false };
}

function load(task: LoadTask, sources?: ModuleSources): LoadResult {
  const commands: Command[] = [];
  try {
    setHangBound(task.spec.name, Math.min(task.spec.limits.cpuMs, task.spec.limits.timeoutMs));
    reportRunning(task.spec.name);
    const previous = instances.get(task.spec.instance);
    // A replacement thread has no previous isolate: the engine names the connections still open.
    const host = new InstanceHost(task.spec, commands, loop, previous?.openClients() ?? task.spec.clients, task.lazy === true, previous?.openLocalClients(), sources);
    if (previous !== undefined) {
      previous.abandon(commands);
      previous.dispose();
    }
    instances.set(task.spec.instance, host);
    reportIdle();
    return { v: PROTOCOL_VERSION, ok: true, commands, hold: false };
  } catch (err) {
    reportIdle();
    return loadFailed(err, commands);
  }
}

function checkEntry(entry: string): LoadResult {
  try {
    checkModuleGraph(entry);
    return { v: PROTOCOL_VERSION, ok: true, commands: [], hold: false };
  } catch (err) {
    return loadFailed(err, []);
  }
}

/**
 * Per instance, its load or unload still waiting for a TypeScript compile: the instance's later control
 * tasks wait for it, so that they apply in the order sent, as everything else here does.
 */
const compiling = new Map<number, Promise<LoadResult>>();

function after(instance: number, run: () => Promise<LoadResult>): Promise<LoadResult> {
  const done = run();
  compiling.set(instance, done);
  void done.finally(() => { if (compiling.get(instance) === done) compiling.delete(instance); });
  return done;
}

/**
 * A TypeScript module graph is compiled ahead by esbuild processes while this thread serves its other
 * servers (a module that nests deep takes esbuild seconds); the instance's previous code serves meanwhile.
 */
function startLoad(task: LoadTask): LoadResult | Promise<LoadResult> {
  const instance = task.spec.instance;
  const before = compiling.get(instance);
  let sources: ModuleSources | undefined;
  if (before === undefined) {
    try {
      sources = new ModuleSources(task.spec.entry, task.spec.source);
    } catch (err) {
      return loadFailed(err, []);
    }
    if (!sources.needsCompiling) return load(task, sources);
  }
  return after(instance, async () => {
    await before;
    try {
      sources ??= new ModuleSources(task.spec.entry, task.spec.source);
      await sources.compileAhead();
    } catch (err) {
      return loadFailed(err, []);
    }
    return load(task, sources);
  });
}

function unload(instance: number): LoadResult {
  instances.get(instance)?.dispose();
  instances.delete(instance);
  return { v: PROTOCOL_VERSION, ok: true, commands: [], hold: false };
}

function notLoaded(b: InstanceBatch): InstanceResult {
  const commands: Command[] = b.events.map((e) => ({ c: CommandKind.done, id: e.id, o: 'internal' as const }));
  return { instance: b.instance, generation: b.generation, commands, pending: [], backlog: 0, breachedMs: 0, stats: { heapUsed: 0, cpuTimeMs: 0, memoryRestarts: 0, headerBreaches: 0, logLinesDropped: 0, live: 0 } };
}

function runBatches(batches: InstanceBatch[]): BatchResult {
  const results: InstanceResult[] = [];
  openRing();
  for (const b of batches) {
    const host = instances.get(b.instance);
    if (faultsEnabled && b.events.some((e) => e.k === 1 && e.headers.includes('x-webdat-test-fault'))) process.exit(70);
    if (host === undefined) { results.push(notLoaded(b)); continue; }
    reportRunning(host.spec.name);
    results.push(host.run(b));
    reportIdle();
  }
  moveBodiesToRing(results);
  const { ringEnd, outboxEnds } = closeRing();
  return { v: PROTOCOL_VERSION, results, ringEnd, outboxEnds, hold: false };
}

/**
 * Timers, host operations, their results or a spare isolate still to come: the worker's event loop
 * must turn. A compile ahead needs no hold: the task that waits for it is in flight until it ends, and
 * piscina parks a thread only with no task in flight.
 */
function hostWork(): boolean {
  if (loop.busy || refillPending()) return true;
  for (const t of instances.values()) if (t.hasHostWork()) return true;
  return false;
}

/** How often a hold task looks whether the host work is done. */
const HOLD_CHECK_MS = 50;

/** The hold task: while it is in flight piscina does not park this worker in Atomics.wait. */
function hold(): Promise<unknown> {
  return new Promise((resolve) => {
    const check = setInterval(() => {
      if (hostWork()) return;
      clearInterval(check);
      resolve(move(encode({ v: PROTOCOL_VERSION, ok: true, commands: [], hold: false })));
    }, HOLD_CHECK_MS);
  });
}

/**
 * Before the thread ends: every isolate goes, then a full collection of this thread's own heap. Node
 * collects a heap whose incremental marking is under way once more as it tears a worker down, after
 * isolated-vm let go of the thread, and isolated-vm's handles found then abort the whole process (an
 * assertion in isolated-vm, SIGABRT): seen when the engine exited right after other servers loaded.
 */
function close(): LoadResult {
  for (const host of instances.values()) host.dispose();
  instances.clear();
  dropSpares();
  // --expose-gc (fresh-isolates.ts) puts `gc` on contexts made after it: this thread's own is older.
  (vm.runInNewContext('gc') as () => void)();
  return { v: PROTOCOL_VERSION, ok: true, commands: [], hold: false };
}

/** The encoded result, with the outboxes opened and closed since the last one (shared/task-reply.ts). */
function finish(result: LoadResult | BatchResult): unknown {
  result.hold = hostWork();
  const bytes = encode(result);
  const news = takeOutboxNews();
  if (news === null) return move(bytes);
  return move({ [transferableSymbol]: [bytes.buffer], [valueSymbol]: { bytes, news } });
}

export default function handle(bytes: Uint8Array): unknown {
  let result: LoadResult | BatchResult | Promise<LoadResult | BatchResult>;
  try {
    const task = decodeTask(bytes);
    if (task.t === TaskKind.hold) return hold();
    if (task.t === TaskKind.close) return finish(close());
    if (task.t === TaskKind.load) result = startLoad(task);
    else if (task.t === TaskKind.check) result = checkEntry(task.entry);
    else if (task.t === TaskKind.unload) {
      const before = compiling.get(task.instance);
      result = before === undefined ? unload(task.instance) : after(task.instance, async () => { await before; return unload(task.instance); });
    } else {
      // An instance with no code yet whose first load is compiling: its events wait for that code.
      const first = task.batches.filter((b) => !instances.has(b.instance) && compiling.has(b.instance)).map((b) => compiling.get(b.instance));
      result = first.length === 0 ? runBatches(task.batches) : Promise.all(first).then(() => runBatches(task.batches));
    }
  } catch (err) {
    result = { v: PROTOCOL_VERSION, ok: false, error: { code: 'WEBDAT_ERR_PROTOCOL_DECODE', message: (err as Error).message }, commands: [], hold: false };
  }
  return result instanceof Promise ? result.then(finish) : finish(result);
}
