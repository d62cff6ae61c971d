import path from 'node:path';
import { openLmdbBackend } from './lmdb-backend.js';
import { openRedisBackend } from './redis-backend.js';
import type { StorageBackend } from './types.js';

const backends = new Map<string, StorageBackend>();

/**
 * The backend of this thread for `dataDir`, opened once and kept for the thread's life: every server
 * of a worker shares it (nobody closes it), and lmdb shares the environment underneath with the other threads and processes.
 */
export function sharedLmdbBackend(dataDir: string): StorageBackend {
  const where = path.resolve(dataDir);
  let backend = backends.get(where);
  if (backend === undefined) backends.set(where, (backend = openLmdbBackend(where)));
  return backend;
}

/** The backend of this thread for a cluster's Redis (SPEC §8: in a cluster, storage lives in Redis). */
export function sharedRedisBackend(url: string, cluster: string): StorageBackend {
  const where = `${cluster}\n${url}`;
  let backend = backends.get(where);
  if (backend === undefined) backends.set(where, (backend = openRedisBackend(url, cluster)));
  return backend;
}
