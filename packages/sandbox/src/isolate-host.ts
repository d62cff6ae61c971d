import ivm from 'isolated-vm';
import {
  CommandKind, EventKind, WsOp,
  type Command, type Event, type Outcome, type TenantBatch, type TenantResult, type TenantSpec,
} from '@webdat/protocol';
import { PRELUDE_SOURCE } from './prelude/source.js';
import { hostCallbacks } from './host-functions.js';
import { ModuleSources, isolateStack, linkModuleGraph } from './module-loader.js';
import { CallbacksLoadError, SandboxErrorCode } from './errors.js';
import { armHostDeadline, classifyFailure, disarmHostDeadline, sliceMs } from './limits.js';
import { checkResponse, headerBudgetProblem } from './http-message.js';
import { LogBudget } from './log-budget.js';
import { WireError, flattenEvents, readCommands, readIndex, readInts } from './isolate-wire.js';

const KINDS = { event: EventKind, command: CommandKind, ws: WsOp };
const COPY = { arguments: { copy: true }, result: { copy: true } } as const;
const HEAP_READ_INTERVAL_MS = 100;
const TEXT_AS_BYTES = 8 * 1024;

interface Live {
  isolate: ivm.Isolate;
  context: ivm.Context;
  dispatch: ivm.Reference;
  collect: ivm.Reference;
  recover: ivm.Reference;
}

/**
 * One server's isolate inside a worker: creation from the callbacks file, the batch loop with its
 * time slicing, and recycling after a memory-limit breach. Every call ends in commands, never in a
 * thrown host error.
 */
export class TenantHost {
  readonly spec: TenantSpec;
  private readonly sources: ModuleSources;
  private live: Live | null = null;
  private memoryRestarts = 0;
  /** async events the isolate still runs, so a lost isolate can answer them */
  private readonly pending = new Set<number>();
  /** events whose turn had ended before they started (see run) */
  private backlog: Event[] = [];
  /** open WebSocket connections, to re-seed a rebuilt isolate */
  private readonly clients = new Set<string>();
  private cpuBase = 0;
  private headerBreaches = 0;
  private readonly logs: LogBudget;
  private heapUsed = 0;
  private heapReadAt = 0;

  /** Loads the module graph; throws CallbacksLoadError with a message naming the file. */
  constructor(spec: TenantSpec, out: Command[], clients: Iterable<string> = []) {
    this.spec = spec;
    this.logs = new LogBudget(spec.limits.logLinesPerSecond, spec.limits.logBytesPerSecond);
    for (const c of clients) this.clients.add(c);
    this.sources = new ModuleSources(spec.entry, spec.source);
    this.live = this.build(out);
  }

  private build(out: Command[]): Live {
    const { timeoutMs, memoryMb } = this.spec.limits;
    const isolate = new ivm.Isolate({ memoryLimit: memoryMb });
    try {
      const context = isolate.createContextSync();
      const factory = context.evalSync(PRELUDE_SOURCE, { reference: true, filename: 'webdat:prelude' }) as ivm.Reference;
      const { maxOutputBytes, maxHeaders, logLinesPerSecond, logBytesPerSecond } = this.spec.limits;
      const meta = { name: this.spec.name, port: this.spec.port, secure: this.spec.secure, node: this.spec.node, maxOutputBytes, maxHeaders, logLinesPerSecond, logBytesPerSecond };
      const api = factory.applySync(undefined, [...hostCallbacks(), new ivm.ExternalCopy(KINDS).copyInto(), new ivm.ExternalCopy(meta).copyInto()],
        { result: { reference: true } }) as ivm.Reference;
      const fn = (name: string) => api.getSync(name, { reference: true }) as ivm.Reference;
      const live: Live = { isolate, context, dispatch: fn('dispatch'), collect: fn('collect'), recover: fn('recover') };
      const entry = linkModuleGraph(isolate, context, this.sources);
      armHostDeadline(timeoutMs);
      try {
        entry.evaluateSync({ timeout: timeoutMs });
      } catch (err) {
        const o = classifyFailure(err, isolate);
        const why = o === 'timeout' ? `top-level code ran past the ${timeoutMs} ms limit`
          : o === 'memory' ? `top-level code exceeded the ${memoryMb} MB memory limit` : this.sources.mapStack(isolateStack(err));
        throw new CallbacksLoadError(SandboxErrorCode.load, `callbacks failed to evaluate: ${why}`);
      } finally {
        disarmHostDeadline();
      }
      fn('install').applySync(undefined, [entry.namespace.derefInto(), [...this.clients]], { arguments: { copy: true }, timeout: timeoutMs });
      this.take(live, out);
      return live;
    } catch (err) {
      if (!isolate.isDisposed) isolate.dispose();
      throw err;
    }
  }

  /** Reads the commands the isolate produced (module-level console.log during load, for example). */
  private take(live: Live, out: Command[]): void {
    const [cmds, , dropped] = live.collect.applySync(undefined, [], { ...COPY, timeout: this.spec.limits.timeoutMs }) as [unknown, unknown, unknown];
    readCommands(cmds, out);
    this.countDropped(dropped);
  }

  /** Open connections, handed to the next generation on a reload so they stay usable. */
  openClients(): string[] {
    return [...this.clients];
  }

  /** Async events that die with this isolate when it is replaced. */
  abandon(out: Command[]): void {
    for (const id of this.pending) out.push({ c: CommandKind.done, id, o: 'canceled' });
    for (const e of this.backlog) out.push({ c: CommandKind.done, id: e.id, o: 'canceled' });
    this.pending.clear();
    this.backlog = [];
  }

  dispose(): void {
    if (this.live !== null && !this.live.isolate.isDisposed) this.live.isolate.dispose();
    this.live = null;
  }

  /**
   * One turn of this tenant on the worker. A turn ends after its slice of time or after a call cut by
   * the time limit; events not started by then wait here for the next turn, so a server stuck in
   * timeouts holds its worker for at most one time limit per turn and the other tenants of the worker
   * go on between its turns.
   */
  run(batch: TenantBatch): TenantResult {
    const out: Command[] = [];
    const began = Date.now();
    this.track(batch.events);
    const events = this.backlog.length === 0 ? batch.events : this.backlog.concat(batch.events);
    this.backlog = [];
    let live = this.live;
    if (live === null) live = this.rebuild(out);
    if (live === null) {
      for (const e of events) out.push({ c: CommandKind.done, id: e.id, o: 'memory' });
      return this.result(batch, out, [], began);
    }
    for (const id of batch.cancel) this.pending.delete(id);
    const { flat, at } = flattenEvents(events);
    const { timeoutMs } = this.spec.limits;
    const slice = sliceMs(timeoutMs);
    let start = 0;
    let end = events.length;
    const turnEnds = Date.now() + slice;
    let cancel = batch.cancel;
    let pendingPairs: number[] = [];
    // After a cut call, microtasks of async events started in it run later; always read them out.
    let recovered = false;
    let breached = false;
    while (true) {
      const done = start >= end;
      armHostDeadline(timeoutMs + slice);
      try {
        let open = this.pending.size;
        if (!done) {
          const [cmds, next, openInIsolate, dropped] = live.dispatch.applySync(undefined, [flat, at, batch.info, cancel, start, slice],
            { ...COPY, timeout: timeoutMs + slice }) as [unknown, unknown, unknown, unknown];
          cancel = [];
          readCommands(cmds, out);
          this.countDropped(dropped);
          start = readIndex(next, start + 1, end, 'the next event index');
          open += readIndex(openInIsolate, 0, Number.MAX_SAFE_INTEGER, 'the count of running async events');
          if (start < end && Date.now() >= turnEnds) end = start;
          if (start < end) continue;
        }
        if (open > 0 || recovered) {
          const [cmds, pairs, dropped] = live.collect.applySync(undefined, [], { ...COPY, timeout: timeoutMs }) as [unknown, unknown, unknown];
          readCommands(cmds, out);
          this.countDropped(dropped);
          pendingPairs = readInts(pairs, 'the running async events');
          if (pendingPairs.length % 2 !== 0) throw new WireError('the running async events are not [id, ms] pairs');
        }
        if (live.isolate.isDisposed) throw new Error('isolate disposed');
        break;
      } catch (err) {
        if (err instanceof WireError) {
          out.push({ c: CommandKind.log, level: 'error', msg: `the callbacks' output could not be read (${err.message}); was a built-in the dispatcher uses replaced?` });
          live = this.lose(out, events, 'internal');
          end = events.length;
          break;
        }
        const outcome = classifyFailure(err, live.isolate);
        breached = outcome === 'timeout' || outcome === 'memory';
        if (outcome === 'timeout') {
          const cut = this.recoverFromTimeout(live, out, events);
          if (cut === null) { live = this.lose(out, events, 'internal'); end = events.length; break; }
          recovered = true;
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
    for (let i = 0; i < pendingPairs.length; i += 2) this.pending.add(pendingPairs[i]);
    return this.result(batch, this.settle(out), pendingPairs, breached ? began : -1);
  }

  /** The call was cut by the time limit: answer the event that was running (or the async ones) with timeout. */
  private recoverFromTimeout(live: Live, out: Command[], events: Event[]): number | null {
    try {
      const [cmds, rawCursor, rawGiven, dropped] = live.recover.applySync(undefined, [], { ...COPY, timeout: this.spec.limits.timeoutMs }) as [unknown, unknown, unknown, unknown];
      readCommands(cmds, out);
      this.countDropped(dropped);
      const cursor = readIndex(rawCursor, -1, events.length - 1, 'the running event index');
      const given = readInts(rawGiven, 'the async events given up');
      if (cursor >= 0) {
        out.push({ c: CommandKind.done, id: events[cursor].id, o: 'timeout' });
        return cursor + 1;
      }
      for (const id of given) out.push({ c: CommandKind.done, id, o: 'timeout' });
      return events.length;
    } catch {
      return null;
    }
  }

  /** The isolate is gone (memory) or unusable: every unanswered event of it ends with `outcome`. */
  private lose(out: Command[], events: Event[], outcome: Outcome): Live | null {
    const answered = new Set<number>();
    for (const c of out) if (c.c === CommandKind.respond || c.c === CommandKind.done) answered.add(c.id);
    for (const e of events) if (!answered.has(e.id)) out.push({ c: CommandKind.done, id: e.id, o: outcome });
    for (const id of this.pending) if (!answered.has(id)) out.push({ c: CommandKind.done, id, o: outcome });
    this.pending.clear();
    if (this.live !== null) this.cpuBase += Number(this.cpuTime());
    this.dispose();
    if (outcome === 'memory') {
      this.memoryRestarts++;
      out.push({ c: CommandKind.log, level: 'error', msg: `isolate exceeded the ${this.spec.limits.memoryMb} MB memory limit; recreated from the callbacks file (module state was reset)` });
    } else {
      out.push({ c: CommandKind.log, level: 'error', msg: 'isolate became unusable; recreated from the callbacks file' });
    }
    return this.rebuild(out);
  }

  private rebuild(out: Command[]): Live | null {
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
  private settle(out: Command[]): Command[] {
    const kept: Command[] = [];
    const now = Date.now();
    const { maxHeaders, maxHeaderBytes } = this.spec.limits;
    for (const c of out) {
      if (c.c === CommandKind.respond || c.c === CommandKind.done) this.pending.delete(c.id);
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
    return kept;
  }

  /** Log lines the isolate dropped itself (per-call cap, log budget) count with the ones dropped here. */
  private countDropped(n: unknown): void {
    this.logs.countDropped(readIndex(n, 0, Number.MAX_SAFE_INTEGER, 'the count of dropped log lines'));
  }

  private track(events: Event[]): void {
    for (const e of events) {
      if (e.k === EventKind.wsOpen || e.k === EventKind.peerJoin) this.clients.add(e.client);
      else if (e.k === EventKind.wsClose || e.k === EventKind.peerLeave) this.clients.delete(e.client);
    }
  }

  private cpuTime(): bigint {
    try { return this.live !== null && !this.live.isolate.isDisposed ? this.live.isolate.cpuTime : 0n; } catch { return 0n; }
  }

  /** `breachedSince`: when the turn that breached a limit began, or -1 when none did. */
  private result(batch: TenantBatch, out: Command[], pending: number[], breachedSince: number): TenantResult {
    // Heap statistics cost a trip into V8 per call; the info channel does not need them per batch.
    const now = Date.now();
    if (now - this.heapReadAt >= HEAP_READ_INTERVAL_MS) {
      this.heapReadAt = now;
      try { this.heapUsed = this.live === null ? 0 : this.live.isolate.getHeapStatisticsSync().used_heap_size; } catch { this.heapUsed = 0; }
    }
    const heapUsed = this.heapUsed;
    return {
      tenant: batch.tenant,
      generation: this.spec.generation,
      commands: out,
      pending,
      backlog: this.backlog.length,
      breachedMs: breachedSince < 0 ? 0 : Math.max(1, now - breachedSince),
      stats: {
        heapUsed, cpuTimeMs: (this.cpuBase + Number(this.cpuTime())) / 1e6, memoryRestarts: this.memoryRestarts,
        headerBreaches: this.headerBreaches, logLinesDropped: this.logs.dropped,
      },
    };
  }
}
