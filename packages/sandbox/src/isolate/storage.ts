// Runs inside the isolate. `webServer.storage` (SPEC §8): four promise-returning methods over the
// host operations of host-ops.ts. Keys and values are checked host-side (capabilities/storage); the
// host gets plain copies of the arguments, never anything of this isolate.

import type { HostOps } from './host-ops.js';

export function createStorage(ops: HostOps): object {
  return Object.freeze({
    get: (key: unknown) => ops.request('storage.get', [key]),
    put: (key: unknown, value: unknown) => ops.request('storage.put', [key, value]).then(() => undefined),
    delete: (key: unknown) => ops.request('storage.delete', [key]),
    list: (options?: unknown) => ops.request('storage.list', [options === undefined ? {} : options]),
  });
}
