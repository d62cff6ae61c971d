export type { ListEntry, ListOptions, StorageBackend, StorageError, StorageLimits, StorageResult, ServerStore } from './types.js';
export { openLmdbBackend } from './lmdb-backend.js';
export { sharedLmdbBackend, sharedRedisBackend } from './shared-backend.js';
export { MAX_KEY_BYTES, LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT } from './keys.js';
export { MAX_VALUE_BYTES, MAX_VALUE_DEPTH } from './values.js';
