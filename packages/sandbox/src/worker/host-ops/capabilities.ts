import type { InstanceSpec } from '@webdat/protocol';
import { sharedLmdbBackend, sharedRedisBackend, type StorageBackend, type ServerStore } from '../capabilities/storage/index.js';
import { createFetcher, preloadUndici, type InstanceFetcher } from '../capabilities/fetch/index.js';

// The capabilities a server's callbacks reach through host operations, by operation name: storage
// (capabilities/storage) and fetch (capabilities/fetch). This file only maps operation names and
// arguments onto them; they check every argument themselves (it comes from the isolate).

export type OpResult = { ok: true; value: unknown } | { ok: false; error: { name: string; message: string } };

export interface Capabilities {
  /**
   * Starts operation `name`; `signal` aborts when the invocation that started it ends. A result given
   * at once (not a promise) is a notification with nothing to await. Throws for an unknown name.
   */
  run(name: string, args: unknown[], signal: AbortSignal): Promise<OpResult> | OpResult;
  /** the server's code is unloaded or replaced for good */
  close(): void;
}

const DONE: OpResult = { ok: true, value: undefined };

/**
 * Storage and fetch open on first use: a server that never stores or fetches costs nothing. Only the
 * HTTP client is loaded with a server that has egress entries (the only servers whose fetches can go
 * anywhere), so that loading it does not hold the worker in the middle of serving.
 */
export function openCapabilities(spec: InstanceSpec): Capabilities {
  if (spec.egress.allow.length > 0) preloadUndici();
  let store: ServerStore | null = null;
  let fetcher: InstanceFetcher | null = null;
  const backend = (): StorageBackend => (spec.storageRedis === undefined ? sharedLmdbBackend(spec.dataDir) : sharedRedisBackend(spec.storageRedis.url, spec.storageRedis.cluster));
  const storage = () => (store ??= backend().open(spec.name, { storageMb: spec.limits.storageMb }));
  const fetching = () => (fetcher ??= createFetcher(spec.egress, { maxFetches: spec.limits.maxFetches, maxFetchBytes: spec.limits.maxFetchBytes }));
  return {
    run(name, args, signal) {
      switch (name) {
        case 'storage.get': return storage().get(args[0]);
        case 'storage.put': return storage().put(args[0], args[1]);
        case 'storage.delete': return storage().delete(args[0]);
        case 'storage.list': return storage().list(args[0]);
        case 'fetch': return fetching().fetch(args[0], signal);
        // The isolate read a response's body: its concurrency slot is free again.
        case 'fetch.release': if (typeof args[0] === 'number') fetcher?.release(args[0]); return DONE;
        default: throw new Error(`unknown host operation ${name}`);
      }
    },
    close() {
      void fetcher?.close();
      fetcher = null;
      store = null;
    },
  };
}
