import ivm from 'isolated-vm';
import {
  CommandKind, OUTBOX_FIRST_BYTES, OUTBOX_MAX_BYTES, RING_MIN_BODY, EventKind, ISOLATE_KINDS, NO_EVENT,
  type Command, type Event, type Outcome, type InstanceBatch, type InstanceResult, type InstanceSpec,
} from '@webdat/protocol';
import { freshIsolate } from './fresh-isolates.js';
import { hostCallback, hostCallbacks } from './host-functions.js';
import { ModuleSources, isolateStack, linkModuleGraph } from './module-loader.js';
import { CallbacksLoadError, SandboxErrorCode } from '../shared/errors.js';
import { armHostDeadline, checkHostDeadline, classifyFailure, disarmHostDeadline, sliceMs } from './limits.js';
import { checkResponse, headerBudgetProblem } from './http-message.js';
import { LogBudget } from './log-budget.js';
import { WireError, flattenEvents, readCommands, readIndex, readInts } from './isolate-wire.js';
import { closeOutbox, openOutbox, type Outbox } from './outbox.js';
import { ringIsOpen } from './ring.js';
import { InstanceOps } from './host-ops/instance-ops.js';
import { InstanceTimers } from './host-ops/instance-timers.js';
import { openCapabilities, type OpResult } from './host-ops/capabilities.js';
import type { HostLoop } from './host-ops/host-loop.js';

const COPY = { arguments: { copy: true }, result: { copy: true } } as const;
const HEAP_READ_INTERVAL_MS = 100;
/**
 * An isolate whose heap grew this much past what its last full collection left (or by half of that,
 * when more) is collected between tasks. V8 left a quiet server's heap climbing from 1.5 to 9 MiB
 * over 160 s before its own major collection (README, "Fuzzing and soak"): with many servers per
 * process that is RSS on V8's schedule. A collection of such a heap takes a few ms of the worker.
 */
const GC_GROWTH_BYTES = 2 * 1024 * 1024;
/** At most one such collection per isolate this often: a tenant churning garbage is left to V8's own. */
const GC_MIN_INTERVAL_MS = 1000;
const TEXT_AS_BYTES = 8 * 1024;
const MAX_LOG_CHARS = 16384;

/** A call into the isolate ended by a limit, or one that left the isolate in a state not to be trusted. */
class Breach {
  constructor(readonly outcome: 'timeout' | 'memory' | 'internal') {}
}

/** The kind of call a time limit cut, so that a reply it had already given can be read: `other` replies carry nothing to read. */
type Phase = 'dispatch' | 'collect' | 'other';

interface Live {
  isolate: ivm.Isolate;
  context: ivm.Context;
  dispatch: ivm.Reference;
  collect: ivm.Reference;
  recover: ivm.Reference;
  fire: ivm.Reference;
  settle: ivm.Reference;
  expire: ivm.Reference;
  clearTimers: ivm.Reference;
  again: ivm.Reference;
  collectGarbage: ivm.Reference;
  attachOutbox: ivm.Reference;
  /** where the isolate leaves large bodies (outbox.ts), once it sent one */
  outbox: Outbox | null;
}

/** An async invocation the isolate still runs: when it began and the CPU its stretches took so far. */
interface Running {
  start: number;
  cpuMs: number;
}

/**
 * One server's isolate inside a worker: creation from the callbacks file, the batch loop with its
 * time slicing, and recycling after a memory-limit breach. Every call ends in commands, never in a
 * thrown host error.
 */
export class InstanceHost {
  readonly spec: InstanceSpec;
  private readonly sources: ModuleSources;
  private live: Live | null = null;
  private memoryRestarts = 0;
  /**
   * async invocations the isolate still runs (events by their engine id, timer callbacks by negative
   * ids), so their time and CPU can be bounded and a lost isolate can answer them
   */
  private pending = new Map<number, Running>();
  private readonly ops: InstanceOps;
  private readonly timers: InstanceTimers;
  private readonly loop: HostLoop;
  /** ids of the host's own invocations (timers, onServerStart of a lazily built isolate) count down from -2: -1 is the output budget's "none" */
  private timerInvocations = 1;
  /** timer callbacks rest until then after one breached a limit (see timerDue) */
  private timersRestUntil = 0;
  private timerBreaches = 0;
  /** the onServerStop invocation still running: the timers it made live until it ends (SPEC §9) */
  private stopping: number | null = null;
  /** intervals whose firing is queued on the host loop and has not run yet */
  private readonly intervalsQueued = new Set<number>();
  private deadlineTimer: NodeJS.Timeout | null = null;
  private deadlineAt = Infinity;
  /** events whose turn had ended before they started (see run) */
  private backlog: Event[] = [];
  /** open WebSocket connections, to re-seed a rebuilt isolate */
  private readonly clients = new Set<string>();
  private cpuBase = 0;
  private headerBreaches = 0;
  private readonly logs: LogBudget;
  private heapUsed = 0;
  private heapReadAt = 0;
  /** the heap the last full collection left (or the isolate's first reading), and whether one is queued */
  private heapFloor = -1;
  private collectQueued = false;
  private collectedAt = 0;
  /** open WebSocket connections of this process (not of other processes): they keep an idle isolate */
  private readonly localClients = new Set<string>();
  /** with `spec.idleMs`: when the last turn ended, and the timer that releases the isolate after it */
  private lastTurn = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  /** the isolate was built for a lazy server outside its first event (a reload): onServerStart runs before the next event */
  private startPending = false;

  /**
   * Loads the module graph; throws CallbacksLoadError with a message naming the file. `lazy` (a server
   * with `spec.idleMs`) only finds the entry file: the isolate is built at the first event that needs it.
   * `clients` are the open connections to list; `local` those of this process (by default all of them).
   */
  constructor(spec: InstanceSpec, out: Command[], loop: HostLoop, clients: Iterable<string> = [], lazy = false, local?: Iterable<string>, sources?: ModuleSources) {
    this.spec = spec;
    this.logs = new LogBudget(spec.limits.logLinesPerSecond, spec.limits.logBytesPerSecond);
    this.loop = loop;
    for (const c of clients) this.clients.add(c);
    for (const c of local ?? this.clients) this.localClients.add(c);
    this.sources = sources ?? new ModuleSources(spec.entry, spec.source);
    this.ops = new InstanceOps(openCapabilities(spec), (id, inv, r) => loop.push(spec.name, () => this.settleOp(id, inv, r)));
    this.timers = new InstanceTimers(spec.limits.maxTimers, (id, creator, repeat) => this.timerDue(id, creator, repeat));
    if (lazy) return;
    try {
      this.live = this.build(out);
    } catch (err) {
      this.dispose();
      throw err;
    }
    if (spec.idleMs !== undefined) {
      this.startPending = true;
      this.armIdle();
    }
  }

  /** The most one synchronous stretch of an invocation may run: its CPU budget, within its time limit. */
  private get stretchMs(): number {
    return Math.min(this.spec.limits.cpuMs, this.spec.limits.timeoutMs);
  }

  private build(out: Command[]): Live {
    const { timeoutMs, memoryMb } = this.spec.limits;
    const { isolate, context, factory } = freshIsolate(memoryMb, this.spec.idleMs !== undefined);
    try {
      const { maxOutputBytes, maxHeaders, logLinesPerSecond, logBytesPerSecond, maxTimers } = this.spec.limits;
      const meta = { name: this.spec.name, port: this.spec.port, secure: this.spec.secure, node: this.spec.node, maxTimers, maxOutputBytes, maxHeaders, logLinesPerSecond, logBytesPerSecond };
      const opHost = hostCallback((name: unknown, args: unknown, inv: unknown) => { checkHostDeadline(); return this.ops.start(name, args, inv); });
      const timerHost = hostCallback((op: unknown, a: unknown, b: unknown, c: unknown) => {
        checkHostDeadline();
        if (op === 0) return this.timers.create(a, b, c);
        this.timers.clear(a);
        return 0;
      });
      const api = factory.applySync(undefined, [...hostCallbacks(), opHost, timerHost, new ivm.ExternalCopy(ISOLATE_KINDS).copyInto(), new ivm.ExternalCopy(meta).copyInto()],
        { result: { reference: true } }) as ivm.Reference;
      const fn = (name: string) => api.getSync(name, { reference: true }) as ivm.Reference;
      const live: Live = {
        isolate, context, dispatch: fn('dispatch'), collect: fn('collect'), recover: fn('recover'),
        fire: fn('fire'), settle: fn('settle'), expire: fn('expire'), clearTimers: fn('clearTimers'), again: fn('again'),
        collectGarbage: fn('collectGarbage'), attachOutbox: fn('attachOutbox'), outbox: null,
      };
      const entry = linkModuleGraph(isolate, context, this.sources);
      armHostDeadline(timeoutMs);
      const t0 = performance.now();
      try {
        entry.evaluateSync({ timeout: timeoutMs });
      } catch (err) {
        const o = classifyFailure(isolate, t0, timeoutMs);
        const why = o === 'timeout' ? `top-level code ran past the ${timeoutMs} ms limit`
          : o === 'memory' ? `top-level code exceeded the ${memoryMb} MB memory limit` : this.sources.mapStack(isolateStack(err));
        throw new CallbacksLoadError(SandboxErrorCode.load, `callbacks failed to evaluate: ${why}`);
      } finally {
        disarmHostDeadline();
      }
      const install = fn('install');
      const t1 = performance.now();
      try {
        install.applySync(undefined, [entry.namespace.derefInto(), [...this.clients]], { arguments: { copy: true }, timeout: timeoutMs });
      } catch (err) {
        // Only microtasks the top-level code left behind run here: a loop among them, or a rejection.
        const o = classifyFailure(isolate, t1, timeoutMs);
        if (o !== 'rejection') throw new CallbacksLoadError(SandboxErrorCode.load, `callbacks failed to evaluate: top-level code left work that ${o === 'timeout' ? `ran past the ${timeoutMs} ms limit` : `exceeded the ${memoryMb} MB memory limit`}`);
        this.rejected(err, out);
      }
      this.take(live, out);
      return live;
    } catch (err) {
      if (!isolate.isDisposed) isolate.dispose();
      throw err;
    }
  }

  /** Reads the commands the isolate produced (module-level console.log during load, for example). */
  private take(live: Live, out: Command[]): void {
    try {
      const read = readCollectReply(this.call(live, live.collect, [ringIsOpen()], this.stretchMs, out), out, live.outbox);
      this.logs.countDropped(read.dropped);
    } catch (err) {
      const why = err instanceof Breach ? `${err.outcome}` : (err as Error).message;
      throw new CallbacksLoadError(SandboxErrorCode.load, `callbacks failed to evaluate: their output could not be read (${why})`);
    }
  }

  /**
   * One call into the isolate, bounded by `timeoutMs`. An unhandled rejection of the callbacks
   * surfaces as the error of the call running when it happened, after that call returned: it is logged
   * and counted as an exception of the server, and the call's reply, which the dispatcher keeps, is
   * read again. Limits throw a Breach.
   */
  private call(live: Live, fn: ivm.Reference, args: unknown[], timeoutMs: number, out: Command[]): unknown {
    const t0 = performance.now();
    try {
      return fn.applySync(undefined, args, { ...COPY, timeout: timeoutMs });
    } catch (err) {
      const why = classifyFailure(live.isolate, t0, timeoutMs);
      if (why !== 'rejection') throw new Breach(why);
      const reply = this.again(live, timeoutMs);
      this.rejected(err, out);
      return reply;
    }
  }

  /** The reply of the call that just failed after returning; a Breach when it never returned. */
  private again(live: Live, timeoutMs: number): unknown {
    let reply: unknown = null;
    try {
      reply = live.again.applySync(undefined, [], { result: { copy: true }, timeout: timeoutMs });
    } catch {
      throw new Breach(live.isolate.isDisposed ? 'memory' : 'internal');
    }
    if (reply === null) throw new Breach('internal');
    return reply;
  }

  /** An unhandled rejection: logged with what the callbacks gave, and counted as an exception. */
  private rejected(err: unknown, out: Command[]): void {
    out.push({ c: CommandKind.log, level: 'error', msg: `unhandled rejection: ${errorText(err)}` });
    out.push({ c: CommandKind.done, id: NO_EVENT, o: 'exception' });
  }

  /** Timers, host operations, async invocations with a deadline or an isolate to release: the worker's loop must turn. */
  hasHostWork(): boolean {
    return this.timers.size > 0 || this.ops.size > 0 || this.pending.size > 0 || this.idleTimer !== null;
  }

  /** What keeps an isolate of a server with `idleSeconds` (SPEC §12), besides recent events. */
  private holdsIsolate(): boolean {
    return this.localClients.size > 0 || this.timers.size > 0 || this.ops.size > 0 || this.pending.size > 0 || this.backlog.length > 0;
  }

  /** After a turn of a server with `idleSeconds`: its isolate is released once it stays idle that long. */
  private armIdle(): void {
    this.lastTurn = Date.now();
    if (this.spec.idleMs === undefined || this.live === null || this.idleTimer !== null) return;
    this.idleTimer = setTimeout(this.idleDue, this.spec.idleMs);
  }

  // One timer per live isolate, moved on only when it fires (a turn just notes its time).
  private readonly idleDue = (): void => {
    this.idleTimer = null;
    if (this.live === null) return;
    const wait = this.lastTurn + this.spec.idleMs! - Date.now();
    if (wait > 0) { this.idleTimer = setTimeout(this.idleDue, wait); return; }
    // A connection, timer or operation ends in a turn of its own, which arms the timer again.
    if (this.holdsIsolate()) return;
    this.loop.push(this.spec.name, () => this.release());
  };

  /** The isolate goes while idle; the next event that needs one builds it afresh (storage stays). */
  private release(): InstanceResult | null {
    if (this.live === null || this.holdsIsolate() || Date.now() - this.lastTurn < this.spec.idleMs!) return null;
    this.cpuBase += Number(this.cpuTime());
    this.discard();
    this.heapReadAt = 0;
    return this.result(this.spec, [], [], -1);
  }

  /** Open connections, handed to the next generation on a reload so they stay usable. */
  openClients(): string[] {
    return [...this.clients];
  }

  /** The open connections of this process among them. */
  openLocalClients(): string[] {
    return [...this.localClients];
  }

  /** Async events that die with this isolate when it is replaced. */
  abandon(out: Command[]): void {
    for (const id of this.pending.keys()) if (id > 0) out.push({ c: CommandKind.done, id, o: 'canceled' });
    for (const e of this.backlog) out.push({ c: CommandKind.done, id: e.id, o: 'canceled' });
    this.pending.clear();
    this.backlog = [];
  }

  /** This server's code is replaced or unloaded. */
  dispose(): void {
    this.discard();
    this.ops.close();
  }

  /** The isolate goes, and with it everything it scheduled or started on the host (SPEC §9). */
  private discard(): void {
    this.timers.clearAll();
    this.ops.cancelAll();
    this.armDeadline(true);
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.startPending = false;
    this.stopping = null;
    if (this.live !== null && !this.live.isolate.isDisposed) this.live.isolate.dispose();
    if (this.live?.outbox) closeOutbox(this.live.outbox);
    this.live = null;
  }

  /**
   * One turn of this instance on the worker. A turn ends after its slice of time or after a call cut by
   * the time limit; events not started by then wait here for the next turn, so a server stuck in
   * timeouts holds its worker for at most one time limit per turn and the other instances of the worker
   * go on between its turns.
   */
  run(batch: InstanceBatch): InstanceResult {
    const out: Command[] = [];
    const began = Date.now();
    this.track(batch.events);
    let events = this.backlog.length === 0 ? batch.events : this.backlog.concat(batch.events);
    this.backlog = [];
    const lazy = this.spec.idleMs !== undefined;
    let live = this.live;
    if (live === null && lazy && !events.some(needsIsolate)) {
      // Lifecycle and membership events of a server without an isolate build none (SPEC §12).
      for (const e of events) out.push({ c: CommandKind.done, id: e.id, o: 'ok' });
      return this.result(batch, out, [], -1);
    }
    if (live === null) {
      live = this.rebuild(out);
      this.startPending = lazy;
    }
    if (live === null) {
      // A lazy server's isolate failed at its first event: its top-level code threw or ran past a limit.
      for (const e of events) out.push({ c: CommandKind.done, id: e.id, o: lazy ? 'exception' : 'memory' });
      return this.result(batch, out, [], began);
    }
    if (this.startPending) {
      this.startPending = false;
      // The isolate was built for this event: onServerStart runs first, as an invocation of the host's own.
      if (!events.some((e) => e.k === EventKind.serverStart)) events = [{ k: EventKind.serverStart, id: -++this.timerInvocations, port: this.spec.port }, ...events];
    }
    for (const id of batch.cancel) this.pending.delete(id);
    if (this.stopping !== null && events.some((e) => e.k === EventKind.serverStart)) {
      // A start after a stop the engine gave up waiting for: the stop's timers do not outlive it into the new run.
      this.stopping = null;
      this.clearTimers(live, out);
    }
    const { flat, at } = flattenEvents(events);
    const stretch = this.stretchMs;
    const slice = sliceMs(this.spec.limits.timeoutMs);
    let start = 0;
    let end = events.length;
    const turnEnds = Date.now() + slice;
    let cancel = batch.cancel;
    let pendingPairs: number[] | null = null;
    /** CPU of the first stretch of events that went asynchronous, by id */
    const firstStretch = new Map<number, number>();
    // After a cut call, microtasks of async events started in it run later; always read them out.
    let recovered = false;
    let breached = false;
    let phase: Phase = 'dispatch';
    while (true) {
      const done = start >= end;
      armHostDeadline(stretch + slice);
      try {
        let open = this.pending.size;
        if (!done) {
          phase = 'dispatch';
          const cpu = this.cpuMs();
          const read = readDispatchReply(this.call(live, live.dispatch, [flat, at, batch.info, cancel, start, slice], stretch + slice, out), start, end, out, live.outbox);
          cancel = [];
          this.logs.countDropped(read.dropped);
          start = read.next;
          open += read.open;
          // The call ended with the one event that went asynchronous: its first stretch is the
          // call's CPU, less what the synchronous events before it took (bounded by the wall time).
          if (read.asyncAt > 0) firstStretch.set(events[start - 1].id, Math.min(this.cpuMs() - cpu, Math.max(0, Date.now() - read.asyncAt)));
          if (start < end && Date.now() >= turnEnds) end = start;
          if (start < end) continue;
        }
        if (open > 0 || recovered) {
          phase = 'collect';
          const read = readCollectReply(this.call(live, live.collect, [true], stretch, out), out, live.outbox);
          this.logs.countDropped(read.dropped);
          pendingPairs = read.pairs;
        }
        if (live.isolate.isDisposed) throw new Breach('memory');
        break;
      } catch (err) {
        if (err instanceof WireError) {
          out.push({ c: CommandKind.log, level: 'error', msg: `the callbacks' output could not be read (${err.message}); was a built-in the dispatcher uses replaced?` });
          live = this.lose(out, events, 'internal');
          end = events.length;
          break;
        }
        const outcome = err instanceof Breach ? err.outcome : 'internal';
        breached = outcome === 'timeout' || outcome === 'memory';
        if (outcome === 'timeout') {
          const cut = this.recoverFromTimeout(live, out, events, phase, start, end);
          if (cut === null) { live = this.lose(out, events, 'internal'); end = events.length; break; }
          recovered = true;
          pendingPairs = null;
          start = end = Math.min(cut, end);
          continue;
        }
        live = this.lose(out, events, outcome);
        end = events.length;
        break;
      } finally {
        disarmHostDeadline();
      }
    }
    if (end < events.length) this.backlog = events.slice(end);
    if (pendingPairs !== null) this.reconcile(pendingPairs, firstStretch);
    if (recovered) this.answerStragglers(out, events, end, pendingPairs ?? []);
    const stop = events.find((e) => e.k === EventKind.serverStop);
    if (stop !== undefined) {
      // The server's timers go now, but those of an onServerStop still awaiting one: they go when it ends (afterTurn).
      this.stopping = stop.id;
      if (this.pending.has(stop.id)) this.clearTimers(live, out, stop.id);
    }
    this.afterTurn(out);
    return this.result(batch, out, pendingPairs ?? [], breached ? began : -1);
  }

  /**
   * The call made in `phase` was cut by the time limit: answer the event that was running with
   * timeout, or, when the cut fell among microtasks (no event running), the invocation they belong to
   * (`hint`, or the one the isolate knows as running; every async one when it cannot tell). Returns
   * the index of the first event not started.
   */
  private recoverFromTimeout(live: Live, out: Command[], events: Event[], phase: Phase, start: number, end: number, hint?: number): number | null {
    const timeoutMs = this.stretchMs;
    let reply: unknown = null;
    // A second call only when the first was cut before it returned: recover runs none of the callbacks'
    // code before it returns (their leftover microtasks run after), so only a thread starved for the
    // whole bound cuts it there, and recover is restartable (prelude/dispatcher.ts).
    for (let attempt = 0; reply === null && attempt < 2; attempt++) {
      try {
        reply = this.call(live, live.recover, hint === undefined ? [] : [hint], timeoutMs, out);
      } catch (err) {
        if (!(err instanceof Breach) || err.outcome !== 'timeout') return null;
        // Microtasks left queued by the cut ran after recover returned and were cut in turn; its reply is kept.
        try { reply = this.again(live, timeoutMs); } catch { if (live.isolate.isDisposed) return null; }
      }
    }
    try {
      if (!Array.isArray(reply) || reply.length !== 5) throw new WireError('the recovery reply is not a list of five');
      const [lost, cmds, rawCursor, rawGiven, dropped] = reply as unknown[];
      let resume = events.length;
      if (lost !== null && phase === 'dispatch') {
        const read = readDispatchReply(lost, start, end, out, live.outbox);
        resume = read.next;
        this.logs.countDropped(read.dropped);
      } else if (lost !== null && phase === 'collect') {
        this.logs.countDropped(readCollectReply(lost, out, live.outbox).dropped);
      }
      readCommands(cmds, out, live.outbox);
      this.logs.countDropped(readDropped(dropped));
      const cursor = readIndex(rawCursor, -1, events.length - 1, 'the running event index');
      const given = readInts(rawGiven, 'the async events given up');
      if (cursor >= 0) {
        out.push({ c: CommandKind.done, id: events[cursor].id, o: 'timeout' });
        return cursor + 1;
      }
      for (const id of given) out.push({ c: CommandKind.done, id, o: 'timeout' });
      return resume;
    } catch {
      return null;
    }
  }

  /**
   * After a cut, events of this turn that started but were neither answered nor left running would
   * wait forever; each is answered `internal` (the dispatcher's bookkeeping is the only way there).
   */
  private answerStragglers(out: Command[], events: Event[], started: number, pendingPairs: number[]): void {
    const answered = new Set<number>();
    for (const c of out) if (c.c === CommandKind.respond || c.c === CommandKind.done) answered.add(c.id);
    for (let i = 0; i < pendingPairs.length; i += 2) answered.add(pendingPairs[i]);
    for (let i = 0; i < started; i++) {
      if (answered.has(events[i].id)) continue;
      out.push({ c: CommandKind.done, id: events[i].id, o: 'internal' });
      out.push({ c: CommandKind.log, level: 'error', msg: 'an event was lost after a cut by the time limit; answered as internal' });
    }
  }

  /** The isolate's list of running async invocations is the truth; what the host knew of them stays. */
  private reconcile(pairs: number[], firstStretch?: ReadonlyMap<number, number>): void {
    const now = Date.now();
    const next = new Map<number, Running>();
    for (let i = 0; i < pairs.length; i += 2) {
      const id = pairs[i];
      next.set(id, this.pending.get(id) ?? { start: now - pairs[i + 1], cpuMs: firstStretch?.get(id) ?? 0 });
    }
    this.pending = next;
  }

  /** After every call sequence: operations of invocations that ended are canceled, the next deadline armed. */
  private afterTurn(out: Command[]): void {
    if (this.stopping !== null && !this.pending.has(this.stopping)) {
      this.stopping = null;
      this.clearTimers(this.live, out);
    }
    this.settle(out);
    this.ops.keepOnly(this.pending);
    this.armDeadline(false);
    this.armIdle();
  }

  /** The server stopped: its timers are cleared on both sides (SPEC §9), but those `keep` created when given. */
  private clearTimers(live: Live | null, out: Command[], keep?: number): void {
    this.timers.clearAll(keep);
    if (live === null) return;
    try { this.call(live, live.clearTimers, keep === undefined ? [] : [keep], this.stretchMs, out); } catch { /* a lost isolate has no timers either */ }
  }

  /** Settles host operation `id` inside the isolate; its continuations run as part of `invocation`. */
  private settleOp(id: number, invocation: number, result: OpResult): InstanceResult | null {
    const running = this.pending.get(invocation);
    if (running === undefined || this.live === null) return null;
    const budget = this.budgetOf(running);
    if (budget <= 0) return this.expire([invocation]);
    const value = result.ok ? result.value : result.error;
    return this.outside(invocation, budget, (live, timeout, out) => {
      this.call(live, live.settle, [id, result.ok, value], timeout, out);
      return invocation;
    });
  }

  /** What is left of an async invocation's CPU budget and time limit, in ms. */
  private budgetOf(r: Running): number {
    const { cpuMs, timeoutMs } = this.spec.limits;
    return Math.min(cpuMs - r.cpuMs, r.start + timeoutMs - Date.now());
  }

  /**
   * Runs a due timer's callback as an invocation of its own (SPEC §9). If the invocation that created
   * the timer still awaits, the call also runs its continuation, within what is left of its budget.
   */
  private fireTimer(timerId: number, creator: number): InstanceResult | null {
    this.intervalsQueued.delete(timerId);
    if (this.live === null) return null;
    const id = -++this.timerInvocations;
    const awaiting = this.pending.get(creator);
    const budget = awaiting === undefined ? this.stretchMs : Math.min(this.stretchMs, this.budgetOf(awaiting));
    if (budget <= 0) return this.expire([creator]);
    const began = Date.now();
    const r = this.outside(id, budget, (live, timeout, out) => {
      const owner = this.call(live, live.fire, [id, timerId], timeout, out);
      return typeof owner === 'number' ? owner : id;
    });
    // As the lanes rest an instance whose turn breached a limit (fair-share.ts), timer callbacks that keep
    // looping into theirs rest as long as they ran, twice as long after each breach in a row (up to
    // 8 times): a timer storm then takes a small share of a worker its neighbours share.
    if (r !== null && r.breachedMs > 0) {
      this.timerBreaches = Math.min(this.timerBreaches + 1, 4);
      this.timersRestUntil = Date.now() + (Date.now() - began) * 2 ** (this.timerBreaches - 1);
    } else {
      this.timerBreaches = 0;
    }
    return r;
  }

  /** A timer is due: its callback is queued, or, while timers rest, an interval skips a beat and a timeout waits. */
  private timerDue(timerId: number, creator: number, repeat: boolean): void {
    const wait = this.timersRestUntil - Date.now();
    if (wait <= 0) {
      // An interval whose last firing has not run yet skips this one, as browsers skip missed ticks:
      // 50 intervals of 1 ms whose callbacks run slower than that would grow the loop's queue for good.
      if (repeat) {
        if (this.intervalsQueued.has(timerId)) return;
        this.intervalsQueued.add(timerId);
      }
      this.loop.push(this.spec.name, () => this.fireTimer(timerId, creator));
      return;
    }
    if (repeat) return;
    this.timers.later(wait, creator, () => this.timerDue(timerId, creator, false));
  }

  /** Gives up async invocations past their time limit (`ids`, or every one that is due). */
  private expire(ids?: number[]): InstanceResult | null {
    const now = Date.now();
    const due = ids ?? [...this.pending].filter(([, r]) => r.start + this.spec.limits.timeoutMs <= now).map(([id]) => id);
    if (due.length === 0 || this.live === null) { this.armDeadline(false); return null; }
    return this.outside(0, this.stretchMs, (live, timeout, out) => {
      this.call(live, live.expire, [due], timeout, out);
      return 0;
    });
  }

  /**
   * One call into the isolate outside a piscina task (a settled operation, a timer, an expiry), then
   * the `collect` that reads what it and its microtasks produced. `call` gets the call's timeout and
   * returns the invocation whose code ran, which is charged the CPU the calls took. A call cut by the
   * time limit ends that invocation with `timeout` (the one `hint` names when no async one ran).
   */
  private outside(hint: number, budgetMs: number, call: (live: Live, timeout: number, out: Command[]) => number): InstanceResult | null {
    const live = this.live;
    if (live === null) return null;
    const out: Command[] = [];
    const began = Date.now();
    const cpu = this.cpuMs();
    let charged = hint;
    let pairs: number[] | null = null;
    let breached = false;
    let phase: Phase = 'other';
    const timeout = Math.max(1, Math.ceil(budgetMs));
    armHostDeadline(timeout);
    try {
      charged = call(live, timeout, out);
      phase = 'collect';
      pairs = this.collectPairs(live, out);
    } catch (err) {
      const outcome = err instanceof Breach ? err.outcome : 'internal';
      breached = outcome === 'timeout' || outcome === 'memory';
      if (err instanceof WireError) out.push({ c: CommandKind.log, level: 'error', msg: `the callbacks' output could not be read (${err.message}); was a built-in the dispatcher uses replaced?` });
      if (outcome === 'timeout' && this.recoverFromTimeout(live, out, [], phase, 0, 0, hint) !== null) {
        if (hint !== 0 && !out.some((c) => (c.c === CommandKind.done || c.c === CommandKind.respond) && c.id === hint)) out.push({ c: CommandKind.done, id: hint, o: 'timeout' });
        try { pairs = this.collectPairs(live, out); } catch { this.lose(out, [], 'internal'); }
      } else {
        this.lose(out, [], outcome === 'timeout' ? 'internal' : outcome);
      }
    } finally {
      disarmHostDeadline();
    }
    if (pairs !== null) this.reconcile(pairs);
    const r = this.pending.get(charged);
    if (r !== undefined) {
      r.cpuMs += this.cpuMs() - cpu;
      // The stretch that spent the rest of the budget ran within its call's timeout; the invocation ends here.
      if (this.budgetOf(r) <= 0) this.giveUp(live, charged, out);
    }
    this.afterTurn(out);
    if (out.length === 0) return null;
    return this.result(this.spec, out, pairs ?? [], breached ? began : -1);
  }

  /** Ends one async invocation whose CPU budget is spent, as a time-limit breach. */
  private giveUp(live: Live, id: number, out: Command[]): void {
    try {
      this.call(live, live.expire, [[id]], this.stretchMs, out);
      this.reconcile(this.collectPairs(live, out));
    } catch {
      this.lose(out, [], 'internal');
    }
  }

  private collectPairs(live: Live, out: Command[]): number[] {
    const read = readCollectReply(this.call(live, live.collect, [ringIsOpen()], this.stretchMs, out), out, live.outbox);
    this.logs.countDropped(read.dropped);
    if (live.isolate.isDisposed) throw new Breach('memory');
    return read.pairs;
  }

  /** One timer at the earliest time limit among the running async invocations. */
  private armDeadline(off: boolean): void {
    let next = Infinity;
    if (!off) for (const r of this.pending.values()) next = Math.min(next, r.start + this.spec.limits.timeoutMs);
    if (next === this.deadlineAt) return;
    if (this.deadlineTimer !== null) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
    this.deadlineAt = next;
    if (next === Infinity) return;
    this.deadlineTimer = setTimeout(() => {
      this.deadlineTimer = null;
      this.deadlineAt = Infinity;
      this.loop.push(this.spec.name, () => this.expire());
    }, Math.max(0, next - Date.now()));
  }

  /** The isolate is gone (memory) or unusable: every unanswered event of it ends with `outcome`. */
  private lose(out: Command[], events: Event[], outcome: Outcome): Live | null {
    const answered = new Set<number>();
    for (const c of out) if (c.c === CommandKind.respond || c.c === CommandKind.done) answered.add(c.id);
    for (const e of events) if (!answered.has(e.id)) out.push({ c: CommandKind.done, id: e.id, o: outcome });
    for (const id of this.pending.keys()) if (!answered.has(id)) out.push({ c: CommandKind.done, id, o: outcome });
    this.pending.clear();
    if (this.live !== null) this.cpuBase += Number(this.cpuTime());
    this.discard();
    if (outcome === 'memory') {
      this.memoryRestarts++;
      out.push({ c: CommandKind.log, level: 'error', msg: `isolate exceeded the ${this.spec.limits.memoryMb} MB memory limit; recreated from the callbacks file (module state was reset)` });
    } else {
      out.push({ c: CommandKind.log, level: 'error', msg: 'isolate became unusable; recreated from the callbacks file' });
    }
    return this.rebuild(out);
  }

  private rebuild(out: Command[]): Live | null {
    this.heapFloor = -1;
    try {
      this.live = this.build(out);
    } catch (err) {
      this.live = null;
      out.push({ c: CommandKind.log, level: 'error', msg: `cannot recreate the isolate: ${(err as Error).message}` });
    }
    return this.live;
  }

  /**
   * Validates responses (header budget first, so an oversized list is not scanned further), keeps the
   * log lines that fit the server's log budget with their stack traces mapped to TypeScript lines,
   * and turns large text messages into bytes.
   */
  private settle(out: Command[]): void {
    const kept: Command[] = [];
    const now = Date.now();
    const { maxHeaders, maxHeaderBytes } = this.spec.limits;
    for (const c of out) {
      if (c.c === CommandKind.respond || c.c === CommandKind.done) this.pending.delete(c.id);
      // A timer callback that ended well is nothing the engine needs to hear about.
      if (c.c === CommandKind.done && c.id < 0 && c.o === 'ok') continue;
      if (c.c === CommandKind.log) {
        if (this.logs.admit(c.msg.length, now)) { c.msg = this.sources.mapStack(c.msg); kept.push(c); }
        continue;
      }
      // Large text messages travel as their UTF-8 bytes: msgpack then copies them as one block instead
      // of decoding a string on the I/O thread (profiled: 5 ms per MiB there, under load).
      if ((c.c === CommandKind.wsSend || c.c === CommandKind.broadcast) && typeof c.data === 'string' && c.data.length >= TEXT_AS_BYTES) {
        c.data = Buffer.from(c.data, 'utf8');
      }
      if (c.c === CommandKind.respond) {
        const overBudget = headerBudgetProblem(c.headers, maxHeaders, maxHeaderBytes);
        if (overBudget !== null) this.headerBreaches++;
        const problem = overBudget ?? checkResponse(c);
        if (problem !== null) {
          const msg = `onHTTPRequest returned an invalid response: ${problem}`;
          if (this.logs.admit(msg.length, now)) kept.push({ c: CommandKind.log, level: 'error', msg });
          kept.push({ c: CommandKind.done, id: c.id, o: 'exception' });
          continue;
        }
      }
      kept.push(c);
    }
    const summary = this.logs.summary(now);
    if (summary !== null) kept.push({ c: CommandKind.log, level: 'warn', msg: summary });
    out.length = 0;
    for (const c of kept) out.push(c);
  }

  private track(events: Event[]): void {
    for (const e of events) {
      if (e.k === EventKind.wsOpen) { this.clients.add(e.client); this.localClients.add(e.client); }
      else if (e.k === EventKind.wsClose) { this.clients.delete(e.client); this.localClients.delete(e.client); }
      else if (e.k === EventKind.peerJoin) this.clients.add(e.client);
      else if (e.k === EventKind.peerLeave) this.clients.delete(e.client);
    }
  }

  /** The isolate's CPU time so far, in ms. */
  private cpuMs(): number {
    return Number(this.cpuTime()) / 1e6;
  }

  private cpuTime(): bigint {
    try { return this.live !== null && !this.live.isolate.isDisposed ? this.live.isolate.cpuTime : 0n; } catch { return 0n; }
  }

  /**
   * Queues a full collection of the isolate on the worker's loop when its heap grew past GC_GROWTH_BYTES
   * since the last one, and no async invocation runs (a collection's call would run their leftover
   * microtasks; outside() bounds and recovers it like any call all the same).
   */
  private collectIfGrown(): void {
    if (this.live === null || this.collectQueued) return;
    if (this.heapFloor < 0) { this.heapFloor = this.heapUsed; return; }
    if (this.pending.size > 0 || this.heapUsed - this.heapFloor <= Math.max(GC_GROWTH_BYTES, this.heapFloor / 2)) return;
    if (Date.now() - this.collectedAt < GC_MIN_INTERVAL_MS) return;
    this.collectQueued = true;
    this.loop.push(this.spec.name, () => {
      this.collectQueued = false;
      this.collectedAt = Date.now();
      const result = this.outside(0, this.stretchMs, (live, timeout, out) => {
        this.call(live, live.collectGarbage, [], timeout, out);
        return 0;
      });
      try { this.heapFloor = this.live === null ? -1 : this.live.isolate.getHeapStatisticsSync().used_heap_size; } catch { this.heapFloor = -1; }
      return result;
    });
  }

  /** `breachedSince`: when the turn that breached a limit began, or -1 when none did. */
  /**
   * From the isolate's next turn on, its large bodies leave through an outbox (outbox.ts): a first one,
   * or a larger one in place of the first, which bodies found full.
   */
  private openOutbox(live: Live): void {
    const previous = live.outbox;
    try {
      live.outbox = openOutbox(live.attachOutbox, this.stretchMs, previous === null ? OUTBOX_FIRST_BYTES : OUTBOX_MAX_BYTES);
    } catch {
      // Without one, bodies are copied out of the isolate as before; a failure here is the isolate's (a limit).
      return;
    }
    if (previous !== null) closeOutbox(previous);
  }

  private result(batch: { instance: number }, out: Command[], pending: number[], breachedSince: number): InstanceResult {
    // Heap statistics cost a trip into V8 per call; the info channel does not need them per batch.
    const now = Date.now();
    if (now - this.heapReadAt >= HEAP_READ_INTERVAL_MS) {
      this.heapReadAt = now;
      try { this.heapUsed = this.live === null ? 0 : this.live.isolate.getHeapStatisticsSync().used_heap_size; } catch { this.heapUsed = 0; }
      this.collectIfGrown();
    }
    const heapUsed = this.heapUsed;
    // A larger outbox replaces the first after a task's bodies found it full (outside tasks they are
    // copied whatever the room), and only while no invocation is running: a response one of them left
    // untaken would name its body by a position in the first.
    const live = this.live;
    const box = live?.outbox ?? null;
    const grow = box === null || (ringIsOpen() && box.memory.byteLength < OUTBOX_MAX_BYTES && this.pending.size === 0);
    if (live !== null && grow && sentLargeBody(out)) this.openOutbox(live);
    return {
      instance: batch.instance,
      generation: this.spec.generation,
      commands: out,
      pending,
      backlog: this.backlog.length,
      breachedMs: breachedSince < 0 ? 0 : Math.max(1, now - breachedSince),
      stats: {
        heapUsed, cpuTimeMs: (this.cpuBase + Number(this.cpuTime())) / 1e6, memoryRestarts: this.memoryRestarts,
        headerBreaches: this.headerBreaches, logLinesDropped: this.logs.dropped, live: this.live === null ? 0 : 1,
      },
    };
  }
}

/** A body that fits half an outbox of the largest size (two batches of it in flight) came out the ordinary way. */
function sentLargeBody(out: Command[]): boolean {
  for (const c of out) if (c.c === CommandKind.respond && typeof c.body !== 'string' && c.body.length >= RING_MIN_BODY && c.body.length < OUTBOX_MAX_BYTES / 2) return true;
  return false;
}

/** Lifecycle and membership events run no callback on an isolate that is not there (a lazy server's). */
function needsIsolate(e: Event): boolean {
  return e.k !== EventKind.serverStart && e.k !== EventKind.serverStop && e.k !== EventKind.peerJoin && e.k !== EventKind.peerLeave;
}

/** [commands, next index, open async events, when the last event went asynchronous (0: none), log lines dropped] from `dispatch`. */
function readDispatchReply(reply: unknown, start: number, end: number, out: Command[], outbox: Outbox | null): { next: number; open: number; asyncAt: number; dropped: number } {
  if (!Array.isArray(reply) || reply.length !== 5) throw new WireError('the dispatch reply is not a list of five');
  readCommands(reply[0], out, outbox);
  return {
    next: readIndex(reply[1], start + 1, end, 'the next event index'),
    open: readIndex(reply[2], 0, Number.MAX_SAFE_INTEGER, 'the count of running async events'),
    asyncAt: readIndex(reply[3], 0, Number.MAX_SAFE_INTEGER, 'the start of an async callback'),
    dropped: readDropped(reply[4]),
  };
}

/** [commands, [id, ms already spent] pairs of running async invocations, log lines dropped] from `collect`. */
function readCollectReply(reply: unknown, out: Command[], outbox: Outbox | null): { pairs: number[]; dropped: number } {
  if (!Array.isArray(reply) || reply.length !== 3) throw new WireError('the collect reply is not a list of three');
  readCommands(reply[0], out, outbox);
  const pairs = readInts(reply[1], 'the running async events');
  if (pairs.length % 2 !== 0) throw new WireError('the running async events are not [id, ms] pairs');
  return { pairs, dropped: readDropped(reply[2]) };
}

/** Log lines the isolate dropped itself (per-call cap, log budget): they count with the ones dropped on the worker. */
function readDropped(n: unknown): number {
  return readIndex(n, 0, Number.MAX_SAFE_INTEGER, 'the count of dropped log lines');
}

/** What a callback threw or rejected with, for the log: its own stack, never the host's frames. */
function errorText(err: unknown): string {
  const text = isolateStack(err).trimEnd();
  return text.length > MAX_LOG_CHARS ? text.slice(0, MAX_LOG_CHARS) + '…' : text;
}
