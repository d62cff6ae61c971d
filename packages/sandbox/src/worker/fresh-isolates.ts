import v8 from 'node:v8';
import ivm from 'isolated-vm';
import { PRELUDE_SOURCE } from '../isolate/source.js';

// isolated-vm has no call to collect an isolate's garbage: with this flag V8 puts `gc` on every context
// created after it, where the prelude takes it before any callbacks code runs (prelude/intrinsics.ts)
// and the host calls it when an isolate's heap grew (isolate-host.ts, collectIfGrown).
v8.setFlagsFromString('--expose-gc');

// An isolate up to the point where it becomes a server's: created, with a context and the prelude
// evaluated (the factory that installs the webServer API). No callbacks code has run in it.

export interface FreshIsolate {
  isolate: ivm.Isolate;
  context: ivm.Context;
  /** the prelude's factory, applied with the server's host callbacks and meta (isolate-host.ts) */
  factory: ivm.Reference;
}

/**
 * V8's code cache of the prelude, made by the first isolate of this worker and given to the next ones:
 * compiling the prelude was a third of an isolate's build (4.5 of about 15 ms of CPU, measured on a
 * busy 2-core machine), which servers with idleSeconds pay at every first event. It is webdat's own
 * code; cached data never comes from callbacks.
 */
let preludeCache: ivm.ExternalCopy<ArrayBuffer> | null = null;

function runPrelude(isolate: ivm.Isolate, context: ivm.Context): ivm.Reference {
  const filename = 'webdat:prelude';
  // isolated-vm sets these on the script (CachedDataResult); its typings leave them out of Script.
  const script = isolate.compileScriptSync(PRELUDE_SOURCE, preludeCache === null ? { filename, produceCachedData: true } : { filename, cachedData: preludeCache }) as ivm.Script & ivm.CachedDataResult & { cachedDataRejected?: boolean };
  if (preludeCache === null || script.cachedDataRejected === true) preludeCache = script.cachedData ?? null;
  try {
    return script.runSync(context, { reference: true }) as ivm.Reference;
  } finally {
    script.release();
  }
}

function create(memoryMb: number): FreshIsolate {
  const isolate = new ivm.Isolate({ memoryLimit: memoryMb });
  try {
    const context = isolate.createContextSync();
    return { isolate, context, factory: runPrelude(isolate, context) };
  } catch (err) {
    if (!isolate.isDisposed) isolate.dispose();
    throw err;
  }
}

/**
 * One spare per heap size, made between tasks, for servers with idleSeconds: creating an isolate, its
 * context and the prelude were about two thirds of a build (measured: 4 + 1.3 + 0.8 of about 9 ms of
 * CPU), which their first events would otherwise wait for. Servers without idleSeconds build once and
 * keep no spare.
 */
const spares = new Map<number, FreshIsolate>();
const refills = new Set<number>();

export function freshIsolate(memoryMb: number, spare: boolean): FreshIsolate {
  const ready = spares.get(memoryMb);
  spares.delete(memoryMb);
  if (spare) refill(memoryMb);
  return ready ?? create(memoryMb);
}

function refill(memoryMb: number): void {
  if (refills.has(memoryMb)) return;
  refills.add(memoryMb);
  setImmediate(() => {
    refills.delete(memoryMb);
    if (spares.has(memoryMb)) return;
    try {
      spares.set(memoryMb, create(memoryMb));
    } catch {
      // the next build creates its isolate itself and says why if that fails too
    }
  });
}

/** A spare is still to be made: the worker's event loop must turn for it. */
export function refillPending(): boolean {
  return refills.size > 0;
}

/** The worker thread ends next (worker.ts, close): the spares go, and so does the prelude's code cache. */
export function dropSpares(): void {
  for (const s of spares.values()) if (!s.isolate.isDisposed) s.isolate.dispose();
  spares.clear();
  preludeCache?.release();
  preludeCache = null;
}
