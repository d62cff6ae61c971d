import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { BroadcastChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import {
  CommandKind, PROTOCOL_VERSION, TaskKind, decodeBatchResult, decodeLoadResult, encode,
  type Event, type InfoSnapshot, type LoadResult, type Task, type InstanceBatch, type InstanceResult, type InstanceSpec,
} from '@webdat/protocol';

import { RingReader, createRingMemory } from '@webdat/protocol';
import { APPLY_SLICE_COST, commandCost } from './apply-cost.js';
import { FairShare } from './fair-share.js';
import { ProbationGate } from './probation.js';
import { Outboxes, free } from './outboxes.js';
import type { TaskReply } from '../shared/task-reply.js';

const WORKER = fileURLToPath(new URL('../worker/worker.js', import.meta.url));

export interface PoolHooks {
  /** one per instance per batch, in the order the worker produced them */
  onResult(result: InstanceResult): void;
  /** a worker thread died: its in-flight events are lost and its instances are being reloaded */
  onWorkerLost(lane: number, instances: number[], error: Error): void;
  /** the info channels to hand to an instance's callbacks with its next batch */
  snapshot(instance: number): InfoSnapshot;
  /** how many WebSocket clients a broadcast of this instance reaches */
  fanout(instance: number): number;
  /** the instance's open WebSocket connections, which an isolate rebuilt after a worker loss must know */
  clients(instance: number): string[];
}

interface Control {
  task: Task;
  resolve: (r: LoadResult) => void;
}

/** A decoded batch result being applied: result `r`, from its command `c` on. */
interface Applying {
  results: InstanceResult[];
  r: number;
  c: number;
  /** end of the batch's bodies in the ring, freed once all of it is applied; -1 when it has none */
  ringEnd: number;
  /** the same for the outboxes it left bodies in */
  outboxEnds: [Int32Array, number][];
  /** lets the lane send its next task */
  done: () => void;
}

/**
 * Tasks a lane keeps in flight. With one, the worker idles while the main thread handles a result
 * and gathers the next batch (profiled: both threads were over 50% idle at 64 connections). With two,
 * one batch is processed while the other travels; the single thread still runs them in order.
 */
const MAX_IN_FLIGHT = 2;

/**
 * One worker thread and everything queued for it. Affinity comes from construction (a lane is a
 * piscina pool of exactly one thread), so an instance's isolate never moves, and a lost thread is
 * replaced by piscina in the same lane. Events that arrive while the lane has MAX_IN_FLIGHT tasks out
 * wait and travel together in the next task, which is how batches grow under load.
 */
class Lane {
  readonly index: number;
  private readonly piscina: Piscina;
  private readonly ring: RingReader;
  private readonly outboxes = new Outboxes();
  private readonly hooks: PoolHooks;
  private readonly gate: ProbationGate;
  /** results the worker produces outside tasks: settled host operations, timers (host-ops/host-loop.ts) */
  private readonly channel: BroadcastChannel;
  private readonly control: Control[] = [];
  private readonly batches = new Map<number, InstanceBatch>();
  readonly specs = new Map<number, InstanceSpec>();
  /** whose turns go next, and who rests after a breach (fair-share.ts) */
  private readonly share = new FairShare();
  /** flushes when a rest or a grace ends; `wakeAt` is when */
  private wakeTimer: NodeJS.Timeout | null = null;
  private wakeAt = Infinity;
  private inFlight = 0;
  private scheduled = false;
  /** results waiting for the I/O thread, in arrival order; while any wait, the lane sends no new task */
  private readonly applying: Applying[] = [];
  private applyScheduled = false;
  private closed = false;
  /** a hold task is in flight (it takes none of the MAX_IN_FLIGHT batch slots) */
  private holding = false;
  /**
   * Which worker thread of the lane a task went to: every task in flight on a thread that exits is
   * rejected, and the loss must be handled once (its isolates rebuilt once, its events failed once).
   */
  private thread = 0;
  /** the instances reported with the last loss */
  private lostInstances = new Set<number>();

  constructor(index: number, hooks: PoolHooks, gate: ProbationGate, env: Record<string, string | undefined>) {
    this.index = index;
    this.hooks = hooks;
    this.gate = gate;
    const ring = createRingMemory();
    this.ring = new RingReader(ring);
    const channel = `webdat:${randomUUID()}:${index}`;
    this.channel = new BroadcastChannel(channel);
    this.channel.onmessage = (m) => this.onChannel((m as MessageEvent).data);
    this.channel.unref();
    this.piscina = new Piscina({
      workerData: { ring, lane: index, channel },
      filename: WORKER,
      minThreads: 1,
      maxThreads: 1,
      idleTimeout: Infinity,
      maxQueue: Infinity,
      env,
      // Workers must not inherit loaders from the parent (a test runner's tsx would rewrite the
      // prelude's function text); --no-node-snapshot is per-process and still applies.
      execArgv: [],
      // piscina's default atomics ('sync') parks an idle worker in Atomics.wait, the fastest way to
      // take the next task (measured: the hot path lost 15-25% CPU per request with 'disabled').
      // A worker with timers or host operations reports `hold` and gets a hold task, which keeps its
      // event loop turning until that work is done (see hold()).
      concurrentTasksPerWorker: MAX_IN_FLIGHT + 1,
      resourceLimits: { maxYoungGenerationSizeMb: 8 },
    });
    this.piscina.on('error', () => { /* reported through the rejected task */ });
  }

  /** instances placed here, counted from placement on (loading is asynchronous; placement is not) */
  placed = 0;

  push(instance: number, generation: number, event: Event): void {
    this.batchOf(instance, generation).events.push(event);
    this.share.want(instance, Date.now());
    this.schedule();
  }

  cancel(instance: number, generation: number, id: number): void {
    this.batchOf(instance, generation).cancel.push(id);
    this.share.want(instance, Date.now());
  }

  /** What waits for `instance`'s next turn. */
  private batchOf(instance: number, generation: number): InstanceBatch {
    let b = this.batches.get(instance);
    if (b === undefined) {
      b = { instance, generation, info: EMPTY_INFO, events: [], cancel: [] };
      this.batches.set(instance, b);
    }
    return b;
  }

  runControl(task: Task): Promise<LoadResult> {
    if (task.t === TaskKind.unload) {
      this.specs.delete(task.instance);
      this.share.forget(task.instance);
      // What was queued for it still goes (after the unload, which answers it), as an instance's first work.
      if (this.batches.has(task.instance)) this.share.want(task.instance, Date.now());
    }
    return new Promise((resolve) => {
      this.control.push({
        task,
        // Only code that loaded is what a replacement worker rebuilds; a rejected reload left the old one serving.
        resolve: (r) => {
          if (task.t === TaskKind.load && r.ok) this.specs.set(task.spec.instance, task.spec);
          resolve(r);
        },
      });
      this.schedule();
    });
  }

  private readonly wake = () => this.schedule();

  /** control tasks not yet sent */
  get waiting(): number {
    return this.control.length;
  }

  /** Whether work of `instance` may go now: at once, holding the probation gate (a suspect's), or not yet. */
  private admit(instance: number, now: number): 'go' | 'gated' | 'wait' {
    if (!this.gate.isSuspect(instance, now)) return 'go';
    return this.gate.enter(this.index, this.wake) ? 'gated' : 'wait';
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= MAX_IN_FLIGHT || this.closed) return;
    this.scheduled = true;
    // setImmediate runs after the poll phase, so everything uWS delivered in this loop turn is in.
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.inFlight >= MAX_IN_FLIGHT || this.closed) return;
    const ctl = this.control[0];
    if (ctl !== undefined) {
      // Loading runs the module's top-level code, so a suspect's load waits for the gate like its events.
      const admitted = this.gate.active && ctl.task.t === TaskKind.load ? this.admit(ctl.task.spec.instance, Date.now()) : 'go';
      if (admitted === 'wait') return;
      this.control.shift();
      this.inFlight++;
      const thread = this.thread;
      const sent = this.share.sent([], Date.now());
      this.send(ctl.task).then(
        (reply) => {
          this.share.returned(sent, [], Date.now());
          const r = decodeLoadResult(this.outboxes.bytesOf(reply));
          if (r.hold) this.hold();
          ctl.resolve(r);
        },
        (err: Error) => {
          this.share.lost(sent, Date.now());
          ctl.resolve({ v: PROTOCOL_VERSION, ok: false, error: { code: 'WEBDAT_ERR_WORKER_LOST', message: err.message }, commands: [], hold: false });
          this.lost(err, [], thread);
        },
      ).finally(() => {
        if (admitted === 'gated') this.gate.leave();
        this.next();
      });
      // The other slot carries what is queued already: a load may take seconds (a TypeScript compile
      // ahead), and events that came before it was sent would otherwise wait for its end, since only
      // a new event or a task's end sends the next task.
      this.schedule();
      return;
    }
    const now = Date.now();
    // One task carries suspects' batches only while it holds the probation gate; one thread runs them
    // in turn. While another lane holds it, suspects here wait (and hold back nobody).
    const shut = this.gate.active && !this.gate.isOpen(this.index);
    const pick = this.share.next(now, shut ? (t) => this.gate.isSuspect(t, now) : undefined);
    // Entering a shut gate fails and has the gate wake this lane once it is free.
    if (pick.skipped) this.gate.enter(this.index, this.wake);
    if (pick.instances.length === 0) {
      // A lane handed the gate with nothing it may send now passes it on, or other suspects wait for nothing.
      this.gate.decline(this.index);
      this.wakeLater(pick.wakeAt, now);
      return;
    }
    const batches: InstanceBatch[] = [];
    let gated = false;
    for (const instance of pick.instances) {
      if (!gated && this.gate.active && this.gate.isSuspect(instance, now)) gated = this.gate.enter(this.index, this.wake);
      // A turn with no batch here runs what waits in the worker (its backlog).
      batches.push(this.batches.get(instance) ?? { instance, generation: this.specs.get(instance)?.generation ?? 0, info: EMPTY_INFO, events: [], cancel: [] });
      this.batches.delete(instance);
    }
    if (!gated) this.gate.decline(this.index);
    for (const b of batches) b.info = this.hooks.snapshot(b.instance);
    this.inFlight++;
    const thread = this.thread;
    const sent = this.share.sent(batches.map((b) => b.instance), now);
    this.send({ v: PROTOCOL_VERSION, t: TaskKind.batch, batches }).then(
      (reply) => {
        // The gate is about which thread runs a suspect's code, which ended with the task.
        if (gated) this.gate.leave();
        let decoded;
        let outboxEnds;
        try {
          const { bytes, closed } = this.outboxes.receive(reply);
          decoded = decodeBatchResult(bytes);
          if (decoded.ringEnd >= 0 || decoded.outboxEnds.length > 0) this.viewSharedBodies(decoded.results);
          outboxEnds = this.outboxes.ends(decoded.outboxEnds);
          this.outboxes.forget(closed);
        } catch (err) {
          this.share.lost(sent, Date.now());
          this.lost(err as Error, batches.map((b) => b.instance), thread);
          this.next();
          return;
        }
        if (decoded.hold) this.hold();
        const ringEnd = decoded.ringEnd;
        this.share.returned(sent, decoded.results.map((r) => ({ instance: r.instance, cpuMs: r.stats.cpuTimeMs, breachedMs: r.breachedMs, backlog: r.backlog > 0 })), Date.now());
        this.applying.push({ results: this.cheapestFirst(decoded.results), r: 0, c: 0, ringEnd, outboxEnds, done: () => this.next() });
        if (this.applying.length === 1) this.apply();
      },
      (err: Error) => {
        if (gated) this.gate.leave();
        this.share.lost(sent, Date.now());
        this.lost(err, batches.map((b) => b.instance), thread);
        this.next();
      },
    );
  }

  /**
   * Hands results to the engine in slices of about APPLY_SLICE_COST of I/O work, continuing after
   * other sockets had their turn (setImmediate), so one server's huge result does not stall the
   * others. A result cut in two arrives as two results with the commands in order; its pending list
   * travels with the last part. Ring bodies stay valid until their whole batch is applied.
   */
  private apply(): void {
    this.applyScheduled = false;
    let room = APPLY_SLICE_COST;
    while (this.applying.length > 0) {
      const a = this.applying[0];
      while (a.r < a.results.length) {
        if (room <= 0) { this.applyLater(); return; }
        const res = a.results[a.r];
        const cmds = res.commands;
        const fanout = this.hooks.fanout(res.instance);
        let end = a.c;
        while (end < cmds.length && room > 0) room -= commandCost(cmds[end++], fanout);
        const whole = end === cmds.length;
        this.hooks.onResult(a.c === 0 && whole ? res : { ...res, commands: cmds.slice(a.c, end), pending: whole ? res.pending : [] });
        if (whole) { a.r++; a.c = 0; } else a.c = end;
      }
      // onResult wrote every body of the batch to its socket (uWS copies what it cannot send at once).
      if (a.ringEnd >= 0) this.ring.free(a.ringEnd);
      free(a.outboxEnds);
      this.applying.shift();
      a.done();
    }
  }

  /** Servers are independent: a quiet server's answers need not wait behind a loud one's output. */
  private cheapestFirst(results: InstanceResult[]): InstanceResult[] {
    if (results.length < 2) return results;
    const cost = new Map<InstanceResult, number>();
    for (const r of results) {
      const fanout = this.hooks.fanout(r.instance);
      let n = 0;
      for (const c of r.commands) n += commandCost(c, fanout);
      cost.set(r, n);
    }
    return results.sort((a, b) => cost.get(a)! - cost.get(b)!);
  }

  private applyLater(): void {
    if (this.applyScheduled) return;
    this.applyScheduled = true;
    setImmediate(() => this.apply());
  }

  /** Keeps the worker's event loop turning while it has timers or host operations (TaskKind.hold). */
  private hold(): void {
    if (this.holding || this.closed) return;
    this.holding = true;
    // A lost worker rejects it; the batch in flight reports the loss.
    // Its reply is the bare encoded result: outbox news waits for the next task's (worker.ts finish()).
    this.send({ v: PROTOCOL_VERSION, t: TaskKind.hold }).then(() => { this.holding = false; }, () => { this.holding = false; });
  }

  /** Results from the worker's host loop, applied exactly like a task's (never with ring bodies). */
  private onChannel(data: unknown): void {
    if (this.closed) return;
    let decoded;
    try {
      decoded = decodeBatchResult(data as Uint8Array);
    } catch {
      return;
    }
    for (const r of decoded.results) {
      this.share.used(r.instance, r.stats.cpuTimeMs);
      this.hooks.onResult(r);
    }
  }

  /** Bodies a result names in the worker's ring or in an outbox ([memory, position, length]; memory 0 is the ring). */
  private viewSharedBodies(results: InstanceResult[]): void {
    for (const r of results) {
      for (const c of r.commands) {
        if (c.c !== CommandKind.respond || c.rb === undefined) continue;
        const [memory, at, length] = c.rb;
        c.body = memory === 0 ? this.ring.view(at, length) : this.outboxes.view(memory, at, length);
      }
    }
  }

  /** Work waits for a rest or a grace that ends at `at` (batches held for the probation gate: the gate wakes the lane). */
  private wakeLater(at: number, now: number): void {
    if (at === Infinity || at >= this.wakeAt) return;
    if (this.wakeTimer !== null) clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = null;
      this.wakeAt = Infinity;
      this.schedule();
    }, Math.max(1, at - now));
  }

  private next(): void {
    this.inFlight--;
    this.flush();
  }

  private send(task: Task): Promise<TaskReply> {
    const bytes = encode(task);
    return this.piscina.run(bytes, { transferList: [bytes.buffer as ArrayBuffer] }) as Promise<TaskReply>;
  }

  /**
   * The thread is gone: report it, and rebuild every instance of this lane on its replacement first.
   * The other tasks it had in flight are rejected too; their instances are the lane's, already reported.
   */
  private lost(error: Error, inFlight: number[], thread: number): void {
    if (this.closed) return;
    if (thread !== this.thread) {
      const unreported = inFlight.filter((t) => !this.lostInstances.has(t));
      for (const t of unreported) this.lostInstances.add(t);
      if (unreported.length > 0) this.hooks.onWorkerLost(this.index, unreported, error);
      return;
    }
    this.thread++;
    // Results still being applied keep their bodies: the replacement worker reuses the ring.
    for (const a of this.applying) {
      for (const r of a.results) for (const c of r.commands) if (c.c === CommandKind.respond && c.rb !== undefined) c.body = c.body.slice();
      a.ringEnd = -1;
      a.outboxEnds = [];
    }
    this.ring.freeAll();
    this.outboxes.clear();
    const reload = [...this.specs.values()].map((spec): Control => ({
      // A server with idleSeconds gets its isolate back at its next event, as after an idle release.
      task: { v: PROTOCOL_VERSION, t: TaskKind.load, spec: { ...spec, clients: this.hooks.clients(spec.instance) }, lazy: spec.idleMs !== undefined },
      resolve: () => {},
    }));
    this.control.unshift(...reload);
    this.lostInstances = new Set([...inFlight, ...this.specs.keys()]);
    this.hooks.onWorkerLost(this.index, [...this.lostInstances], error);
  }

  async close(): Promise<void> {
    // A worker stuck in a callback never takes it: the thread is ended all the same after CLOSE_MS.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.runControl({ v: PROTOCOL_VERSION, t: TaskKind.close }),
      new Promise<void>((resolve) => { timer = setTimeout(resolve, CLOSE_MS); }),
    ]);
    clearTimeout(timer);
    this.closed = true;
    this.channel.close();
    if (this.wakeTimer !== null) clearTimeout(this.wakeTimer);
    await this.piscina.destroy();
  }
}

const EMPTY_INFO = {} as InfoSnapshot;
/** How long a lane waits for its worker to drop its isolates (TaskKind.close) before it ends the thread. */
const CLOSE_MS = 2000;

export interface PoolOptions {
  workers: number;
  hooks: PoolHooks;
  /** environment for the worker threads (the fault-injection switch lives here) */
  env?: Record<string, string | undefined>;
}

/** The engine's handle on the worker threads: placement, loading, and batched event delivery. */
export class SandboxPool {
  private readonly lanes: Lane[];
  private readonly gate = new ProbationGate();

  constructor(opts: PoolOptions) {
    const env = opts.env ?? process.env;
    this.lanes = Array.from({ length: Math.max(1, opts.workers) }, (_, i) => new Lane(i, opts.hooks, this.gate, env));
  }

  /** Puts an instance on probation until `until` (ms since the epoch): it never runs beside another suspect. */
  suspect(instance: number, until: number): void {
    this.gate.suspect(instance, until);
  }

  get size(): number {
    return this.lanes.length;
  }

  /** The lane with the fewest instances, skipping `avoid` (instances of one server go to different lanes). */
  place(avoid: ReadonlySet<number> = new Set()): number {
    let best = -1;
    for (const lane of this.lanes) {
      if (avoid.has(lane.index) && avoid.size < this.lanes.length) continue;
      if (best < 0 || lane.placed < this.lanes[best].placed) best = lane.index;
    }
    this.lanes[best].placed++;
    return best;
  }

  /** `lazy`: the worker learns the instance now and builds its isolate at its first event that needs one. */
  load(lane: number, spec: InstanceSpec, lazy = false): Promise<LoadResult> {
    return this.lanes[lane].runControl({ v: PROTOCOL_VERSION, t: TaskKind.load, spec, lazy });
  }

  /** Compiles and links a callbacks module graph without running it, on the least busy lane. */
  check(entry: string): Promise<LoadResult> {
    let lane = this.lanes[0];
    for (const l of this.lanes) if (l.waiting < lane.waiting) lane = l;
    return lane.runControl({ v: PROTOCOL_VERSION, t: TaskKind.check, entry });
  }

  async unload(lane: number, instance: number): Promise<void> {
    this.lanes[lane].placed--;
    this.gate.forget(instance);
    await this.lanes[lane].runControl({ v: PROTOCOL_VERSION, t: TaskKind.unload, instance });
  }

  push(lane: number, instance: number, generation: number, event: Event): void {
    this.lanes[lane].push(instance, generation, event);
  }

  cancel(lane: number, instance: number, generation: number, id: number): void {
    this.lanes[lane].cancel(instance, generation, id);
  }

  async close(): Promise<void> {
    await Promise.all(this.lanes.map((l) => l.close()));
  }
}
