import type { Capabilities, OpResult } from './capabilities.js';

/** A failure sent into the isolate, where prelude/host-ops.ts rebuilds it as the matching error class. */
export interface HostError { name: string; message: string }

interface Running {
  invocation: number;
  abort: AbortController;
}

const MAX_NAME = 64;

/**
 * One server's asynchronous host operations on its worker: started from inside the isolate through a
 * synchronous callback (the id comes back at once), run by the capabilities, and handed to `settled`
 * when they finish, for the worker to settle inside the isolate. An operation belongs to the
 * invocation that started it and is aborted when that invocation is no longer running (`keepOnly`).
 */
export class TenantOps {
  private seq = 0;
  private readonly running = new Map<number, Running>();
  private readonly capabilities: Capabilities;
  private readonly settled: (id: number, invocation: number, result: OpResult) => void;

  constructor(capabilities: Capabilities, settled: (id: number, invocation: number, result: OpResult) => void) {
    this.capabilities = capabilities;
    this.settled = settled;
  }

  get size(): number {
    return this.running.size;
  }

  /** Called from inside the isolate (copied arguments): never throws, never waits. */
  start(name: unknown, args: unknown, invocation: unknown): number | HostError {
    if (typeof name !== 'string' || name.length > MAX_NAME || !Array.isArray(args) || typeof invocation !== 'number' || !Number.isInteger(invocation)) {
      return { name: 'TypeError', message: 'malformed host operation' };
    }
    const abort = new AbortController();
    let work: Promise<OpResult>;
    try {
      work = this.capabilities.run(name, args, abort.signal);
    } catch (err) {
      return { name: 'Error', message: (err as Error).message };
    }
    const id = ++this.seq;
    this.running.set(id, { invocation, abort });
    work.then(
      (r) => this.finish(id, r),
      (err: unknown) => this.finish(id, { ok: false, error: { name: 'Error', message: err instanceof Error ? err.message : String(err) } }),
    );
    return id;
  }

  private finish(id: number, result: OpResult): void {
    // An operation whose invocation ended was aborted and forgotten: its result has nobody to go to.
    const op = this.running.get(id);
    if (op === undefined) return;
    this.running.delete(id);
    this.settled(id, op.invocation, result);
  }

  /** Aborts every operation whose invocation is not among `running` (an ended invocation). */
  keepOnly(running: ReadonlyMap<number, unknown>): void {
    if (this.running.size === 0) return;
    for (const [id, op] of this.running) {
      if (running.has(op.invocation)) continue;
      this.running.delete(id);
      op.abort.abort();
    }
  }

  /** The isolate is gone (memory breach): nothing it started may go on. */
  cancelAll(): void {
    for (const op of this.running.values()) op.abort.abort();
    this.running.clear();
  }

  /** The server's code is replaced or unloaded for good. */
  close(): void {
    this.cancelAll();
    this.capabilities.close();
  }
}
