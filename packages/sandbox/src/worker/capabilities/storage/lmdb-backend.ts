import path from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { checkKey, checkListOptions } from './keys.js';
import { ServerWrites, unavailable, type Bytes, type Tables } from './server-writes.js';
import type { ListEntry, StorageBackend, StorageLimits, StorageResult, ServerStore } from './types.js';
import { decodeValue, encodeValue } from './values.js';

/** A read sees every put acknowledged (in any thread or process) at least this long before it. */
const SNAPSHOT_MS = 1;

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
 * a namespace to the bytes it stores (see ServerWrites).
 */
export function openLmdbBackend(dataDir: string): StorageBackend {
  const location = path.join(dataDir, 'storage');
  let tables: Tables | null = null;
  const writers = new Map<string, ServerWrites>();
  let closed = false;
  let renewedAt = -Infinity;

  /** Opened on first use, so that servers which never touch storage create no files. */
  function opened(): Tables {
    if (tables !== null) return tables;
    let root: RootDatabase;
    try {
      // overlappingSync would resolve a write at commit, before its fsync; durable means after it
      root = open({ path: location, maxDbs: 4, overlappingSync: false });
    } catch (e) {
      throw new Error(`cannot open the data directory ${location}: ${(e as Error).message}`);
    }
    const data: Database<Bytes, Bytes> = root.openDB('data', { keyEncoding: 'binary', encoding: 'binary' });
    const usage: Database<number, Bytes> = root.openDB('usage', { keyEncoding: 'binary', encoding: 'ordered-binary', useVersions: true });
    return (tables = { root, data, usage });
  }

  /**
   * lmdb-js keeps a read snapshot until a timer of its own renews it, and a worker busy with tasks (or
   * parked between them) may not run that timer: a read could miss a put another thread or process
   * acknowledged long before. Renewing costs about 5 µs (lmdb-js arms a timer each time), several
   * times a get, so it is renewed when older than SNAPSHOT_MS. This thread's own commits renew it.
   */
  function freshSnapshot(t: Tables): void {
    const now = performance.now();
    if (now - renewedAt < SNAPSHOT_MS) return;
    t.data.resetReadTxn();
    renewedAt = now;
  }

  function guard<T>(run: () => Promise<StorageResult<T>> | StorageResult<T>): Promise<StorageResult<T>> {
    if (closed) return Promise.resolve(unavailable(new Error('the storage backend is closed')));
    try {
      return Promise.resolve(run()).catch(unavailable);
    } catch (e) {
      return Promise.resolve(unavailable(e));
    }
  }

  function storeFor(server: string, limits: StorageLimits): ServerStore {
    const ns = namespaceOf(server);
    const at = (key: Uint8Array): Bytes => Buffer.concat([ns, key]);
    // one queue per server and thread, shared by every generation of its code
    const writer = (): ServerWrites => {
      let w = writers.get(server);
      if (w === undefined) writers.set(server, (w = new ServerWrites(ns, opened())));
      return w;
    };

    return {
      get: (key) => guard(() => {
        const k = checkKey(key);
        if (!k.ok) return k;
        const t = opened();
        freshSnapshot(t);
        const bytes = t.data.getBinaryFast(at(k.value));
        return { ok: true, value: bytes === undefined ? undefined : decodeValue(bytes) };
      }),

      put: (key, value) => guard(() => {
        const k = checkKey(key);
        if (!k.ok) return k;
        const v = encodeValue(value);
        if (!v.ok) return v;
        return writer().submit<void>({ key: at(k.value), keyBytes: k.value.length, value: v.value, storageMb: limits.storageMb });
      }),

      delete: (key) => guard(() => {
        const k = checkKey(key);
        if (!k.ok) return k;
        return writer().submit<boolean>({ key: at(k.value), keyBytes: k.value.length, value: null, storageMb: limits.storageMb });
      }),

      list: (options) => guard(() => {
        const o = checkListOptions(options);
        if (!o.ok) return o;
        const { prefix, start, limit } = o.value;
        const t = opened();
        freshSnapshot(t);
        const low = Buffer.compare(start, prefix) > 0 ? start : prefix;
        const entries: ListEntry[] = [];
        const range = t.data.getRange({ start: Buffer.concat([ns, low]), end: Buffer.concat([ns, prefix, AFTER_UTF8]), limit });
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
      await tables?.root.close();
    },
  };
}
