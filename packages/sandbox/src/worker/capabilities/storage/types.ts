/**
 * The storage capability's contract between the worker and a backend (lmdb on one machine, Redis in
 * a cluster). It takes and returns plain copyable values; errors are values, never throws, so the
 * worker can hand them to the isolate's prelude, which rebuilds them as the error class named.
 */
export interface StorageError {
  name: 'TypeError' | 'DataCloneError' | 'QuotaExceededError' | 'StorageUnavailableError';
  message: string;
}

export type StorageResult<T> = { ok: true; value: T } | { ok: false; error: StorageError };

export interface ListOptions {
  prefix?: string;
  start?: string;
  limit?: number;
}

export interface ListEntry {
  key: string;
  value: unknown;
}

/** One server's keys. Arguments are untrusted (they come from callbacks) and checked here. */
export interface ServerStore {
  /** the value, or undefined when the key is absent */
  get(key: unknown): Promise<StorageResult<unknown>>;
  /** resolves once the write is durable */
  put(key: unknown, value: unknown): Promise<StorageResult<void>>;
  /** true if the key existed */
  delete(key: unknown): Promise<StorageResult<boolean>>;
  list(options: unknown): Promise<StorageResult<ListEntry[]>>;
}

export interface StorageLimits {
  storageMb: number;
}

/** One per worker; every worker and process of a host shares the data underneath. */
export interface StorageBackend {
  open(server: string, limits: StorageLimits): ServerStore;
  close(): Promise<void>;
}
