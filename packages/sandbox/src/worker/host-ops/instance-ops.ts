import type { Capabilities, OpResult } from './capabilities.js';

/** A failure sent into the isolate, where isolate/host-ops.ts rebuilds it as the matching error class. */
export interface HostError { name: string; message: string }

const MAX_NAME = 64;

/**
 * One server's asynchronous host operations on its worker: started from inside the isolate through a
 * synchronous callback (the id comes back at once), run by the capabilities, and handed to `settled`
 * when they finish, for the worker to settle inside the isolate. An operation belongs to the
 * invocation that started it; each such invocation has one AbortSignal, aborted when the invocation
 * is no longer running (`keepOnly`), which cancels what it still runs and frees what it still holds
 * (a fetch's slot until its body is read).
 */
export class InstanceOps {
  private seq = 0;
  /** operation id → its invocation, while it runs */
  private readonly running = new Map<number, number>();
  private readonly invocations = new Map<number, AbortController>();
  private readonly capabilities: Capabilities;
  private readonly settled: (id: number, invocation: number, result: OpResult) => void;

  constructor(capabilities: Capabilities, settled: (id: number, invocation: number, result: OpResult) => void) {
    this.capabilities = capabilities;
    this.settled = settled;
  }

  /** operations running, and invocations whose signal may still be aborted */
  get size(): number {
    return this.running.size + this.invocations.size;
  }

  /**
   * Called from inside the isolate (copied arguments): never throws, never waits. The operation's id,
   * 0 for a notification done at once, or the error that refused it.
   */
  start(name: unknown, args: unknown, invocation: unknown): number | HostError {
    if (typeof name !== 'string' || name.length > MAX_NAME || !Array.isArray(args) || typeof invocation !== 'number' || !Number.isInteger(invocation)) {
      return { name: 'TypeError', message: 'malformed host operation' };
    }
    let abort = this.invocations.get(invocation);
    if (abort === undefined) this.invocations.set(invocation, abort = new AbortController());
    let work: Promise<OpResult> | OpResult;
    try {
      work = this.capabilities.run(name, args, abort.signal);
    } catch (err) {
      return { name: 'Error', message: (err as Error).message };
    }
    if (!(work instanceof Promise)) return work.ok ? 0 : work.error;
    const id = ++this.seq;
    this.running.set(id, invocation);
    work.then(
      (r) => this.finish(id, r),
      (err: unknown) => this.finish(id, { ok: false, error: { name: 'Error', message: err instanceof Error ? err.message : String(err) } }),
    );
    return id;
  }

  private finish(id: number, result: OpResult): void {
    // An operation whose invocation ended was aborted and forgotten: its result has nobody to go to.
    const invocation = this.running.get(id);
    if (invocation === undefined) return;
    this.running.delete(id);
    this.settled(id, invocation, result);
  }

  /** Ends every invocation with operations that is not among `running`: its signal aborts. */
  keepOnly(running: ReadonlyMap<number, unknown>): void {
    if (this.invocations.size === 0) return;
    for (const [invocation, abort] of this.invocations) {
      if (running.has(invocation)) continue;
      this.invocations.delete(invocation);
      abort.abort();
    }
    if (this.running.size === 0) return;
    for (const [id, invocation] of this.running) if (!this.invocations.has(invocation)) this.running.delete(id);
  }

  /** The isolate is gone (memory breach): nothing it started may go on. */
  cancelAll(): void {
    for (const abort of this.invocations.values()) abort.abort();
    this.invocations.clear();
    this.running.clear();
  }

  /** The server's code is replaced or unloaded for good. */
  close(): void {
    this.cancelAll();
    this.capabilities.close();
  }
}
