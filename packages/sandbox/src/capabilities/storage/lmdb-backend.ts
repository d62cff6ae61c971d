import path from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { checkKey, checkListOptions } from './keys.js';
import { TenantWrites, unavailable, type Bytes } from './tenant-writes.js';
import type { ListEntry, StorageBackend, StorageLimits, StorageResult, TenantStore } from './types.js';
import { decodeValue, encodeValue } from './values.js';

/** Bytes above which no UTF-8 key byte goes: the exclusive end of a prefix's range. */
const AFTER_UTF8 = Buffer.from([0xff]);

/**
 * A server's namespace: its name, length-prefixed, so that no server's name followed by a key can
 * spell another server's name followed by another key.
 */
function namespaceOf(server: string): Bytes {
  const name = Buffer.from(server, 'utf8');
  const head = Buffer.alloc(2);
  head.writeUInt16BE(name.length);
  return Buffer.concat([head, name]);
}

/**
 * lmdb's environment lives in `<dataDir>/storage`; one environment is shared by every thread and
 * process that opens it. `data` maps namespace + key to the msgpack bytes of the value; `usage` maps
 * a namespace to the bytes it stores (see TenantWrites).
 */
export function openLmdbBackend(dataDir: string): StorageBackend {
  // overlappingSync would resolve a write at commit, before its fsync; durable means after it
  const root: RootDatabase = open({ path: path.join(dataDir, 'storage'), maxDbs: 4, overlappingSync: false });
  const data: Database<Bytes, Bytes> = root.openDB('data', { keyEncoding: 'binary', encoding: 'binary' });
  const usage: Database<number, Bytes> = root.openDB('usage', { keyEncoding: 'binary', encoding: 'ordered-binary', useVersions: true });
  const writers = new Map<string, TenantWrites>();
  let closed = false;

  function guard<T>(run: () => Promise<StorageResult<T>> | StorageResult<T>): Promise<StorageResult<T>> {
    if (closed) return Promise.resolve(unavailable(new Error('the storage backend is closed')));
    try {
      return Promise.resolve(run()).catch(unavailable);
    } catch (e) {
      return Promise.resolve(unavailable(e));
    }
  }

  function storeFor(server: string, limits: StorageLimits): TenantStore {
    const ns = namespaceOf(server);
    const at = (key: Uint8Array): Bytes => Buffer.concat([ns, key]);
    // one queue per server and thread, whichever generation of its code calls; the newest limits hold
    const writes = writers.get(server) ?? new TenantWrites(ns, { data, usage });
    writers.set(server, writes);
    writes.storageMb = limits.storageMb;

    return {
      get: (key) => guard(() => {
        const k = checkKey(key);
        if (!k.ok) return k;
        const bytes = data.getBinaryFast(at(k.value));
        return { ok: true, value: bytes === undefined ? undefined : decodeValue(bytes) };
      }),

      put: (key, value) => guard(() => {
        const k = checkKey(key);
        if (!k.ok) return k;
        const v = encodeValue(value);
        if (!v.ok) return v;
        return writes.submit<void>({ key: at(k.value), keyBytes: k.value.length, value: v.value });
      }),

      delete: (key) => guard(() => {
        const k = checkKey(key);
        if (!k.ok) return k;
        return writes.submit<boolean>({ key: at(k.value), keyBytes: k.value.length, value: null });
      }),

      list: (options) => guard(() => {
        const o = checkListOptions(options);
        if (!o.ok) return o;
        const { prefix, start, limit } = o.value;
        const low = Buffer.compare(Buffer.from(start), Buffer.from(prefix)) > 0 ? start : prefix;
        const entries: ListEntry[] = [];
        const range = data.getRange({ start: Buffer.concat([ns, low]), end: Buffer.concat([ns, prefix, AFTER_UTF8]), limit });
        for (const { key, value } of range) {
          entries.push({ key: key.subarray(ns.length).toString('utf8'), value: decodeValue(value) });
        }
        return { ok: true, value: entries };
      }),
    };
  }

  return {
    open: storeFor,
    async close() {
      if (closed) return;
      closed = true;
      await root.close();
    },
  };
}
