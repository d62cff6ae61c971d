import { createRequire } from 'node:module';
import type { Redis as RedisClient } from 'ioredis';
import { checkKey, checkListOptions } from './keys.js';
import type { ListEntry, StorageBackend, StorageError, StorageLimits, StorageResult, ServerStore } from './types.js';
import { decodeValue, encodeValue } from './values.js';

// Storage in a cluster (SPEC §8, §12): every host reads and writes the same Redis. A server's data
// is three Redis keys: a hash of key → msgpack value, a sorted set of the keys with score 0 (Redis
// orders equal scores by the bytes of the member, so ZRANGEBYLEX lists keys in UTF-8 order, as the
// lmdb backend does) and the bytes it stores (key + encoded value, counted toward storageMb). Each
// write is one Lua script, so data, index and count change together whichever host writes. The
// names carry the server's name length-prefixed (no server's name can spell another's) inside a
// hash tag, so all of a server's keys stay in one slot of a Redis Cluster.

const MIB = 1024 * 1024;
/** Encoded bytes of puts a server may have on their way to Redis from this thread, at least (see lmdb's ServerWrites). */
const MIN_WAITING_BYTES = 8 * MIB;
const RECONNECT_MS = 500;

/** KEYS: data, index, usage. ARGV: key, value, quota bytes. Returns {stored (1/0), used before, used after}. */
const PUT = `
local old = redis.call('HSTRLEN', KEYS[1], ARGV[1])
local oldSize = 0
if old > 0 then oldSize = string.len(ARGV[1]) + old end
local used = tonumber(redis.call('GET', KEYS[3]) or '0')
local nextUsed = used - oldSize + string.len(ARGV[1]) + string.len(ARGV[2])
if nextUsed > tonumber(ARGV[3]) and nextUsed > used then return {0, used, nextUsed} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('SET', KEYS[3], nextUsed)
return {1, used, nextUsed}`;

/** KEYS: data, index, usage. ARGV: key. Returns 1 if the key existed. */
const DELETE = `
local old = redis.call('HSTRLEN', KEYS[1], ARGV[1])
if old == 0 then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DECRBY', KEYS[3], string.len(ARGV[1]) + old)
return 1`;

/** KEYS: data, index. ARGV: min, max, limit (ZRANGEBYLEX bounds). Returns key, value, key, value… from one moment. */
const LIST = `
local keys = redis.call('ZRANGEBYLEX', KEYS[2], ARGV[1], ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, k in ipairs(keys) do
  out[#out + 1] = k
  out[#out + 1] = redis.call('HGET', KEYS[1], k)
end
return out`;

interface Scripts {
  webdatPut(data: string, index: string, usage: string, key: Buffer, value: Buffer, quota: number): Promise<[number, number, number]>;
  webdatDelete(data: string, index: string, usage: string, key: Buffer): Promise<number>;
  webdatListBuffer(data: string, index: string, min: Buffer, max: Buffer, limit: number): Promise<Buffer[]>;
}

/**
 * What a callback learns of a failed command: the failure's own text is the host's (ioredis names
 * itself and its options, a socket error names Redis's address), so it never reaches the isolate.
 */
function unavailable(why = 'storage is unavailable: the store cannot be reached'): StorageResult<never> {
  const error: StorageError = { name: 'StorageUnavailableError', message: why };
  return { ok: false, error };
}

function quotaExceeded(message: string): StorageResult<never> {
  return { ok: false, error: { name: 'QuotaExceededError', message } };
}

/** The Redis key names of one server's storage in cluster `cluster`. */
export function redisNamesOf(cluster: string, server: string): { data: string; index: string; usage: string } {
  const base = `webdat:${cluster}:storage:{${Buffer.byteLength(server)}:${server}}`;
  return { data: `${base}:data`, index: `${base}:index`, usage: `${base}:usage` };
}

/**
 * Storage in the Redis at `url`, for cluster `cluster`. A put resolves once Redis acknowledged it:
 * how durable that is depends on Redis's persistence settings (README). While Redis is unreachable
 * every operation resolves with StorageUnavailableError within about a second.
 */
export function openRedisBackend(url: string, cluster: string): StorageBackend {
  // A command waits through one reconnection attempt at most, then fails: a callback learns at once
  // that Redis is gone instead of hanging until its time limit.
  // ioredis loads only in a cluster's workers: one host without `cluster` pays nothing for it.
  const { Redis } = createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
  const redis: RedisClient = new Redis(url, { retryStrategy: () => RECONNECT_MS, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined); // every failed command reports its own error
  redis.defineCommand('webdatPut', { numberOfKeys: 3, lua: PUT });
  redis.defineCommand('webdatDelete', { numberOfKeys: 3, lua: DELETE });
  redis.defineCommand('webdatList', { numberOfKeys: 2, lua: LIST });
  const scripts = redis as unknown as Scripts;
  let closed = false;

  async function guard<T>(run: () => Promise<StorageResult<T>> | StorageResult<T>): Promise<StorageResult<T>> {
    if (closed) return unavailable('storage is unavailable: the storage backend is closed');
    try {
      return await run();
    } catch {
      return unavailable();
    }
  }

  function storeFor(server: string, limits: StorageLimits): ServerStore {
    const { data, index, usage } = redisNamesOf(cluster, server);
    let waitingBytes = 0;

    return {
      get: (key) => guard(async () => {
        const k = checkKey(key);
        if (!k.ok) return k;
        const bytes = await redis.hgetBuffer(data, Buffer.from(k.value));
        return { ok: true, value: bytes === null ? undefined : decodeValue(bytes) };
      }),

      put: (key, value) => guard(async () => {
        const k = checkKey(key);
        if (!k.ok) return k;
        const v = encodeValue(value);
        if (!v.ok) return v;
        const bytes = v.value.byteLength;
        if (waitingBytes + bytes > Math.max(limits.storageMb * MIB, MIN_WAITING_BYTES)) {
          return quotaExceeded(`storage quota of ${limits.storageMb} MB exceeded: ${waitingBytes} bytes of puts are still waiting to be written`);
        }
        waitingBytes += bytes;
        try {
          const [stored, used, next] = await scripts.webdatPut(data, index, usage, Buffer.from(k.value), Buffer.from(v.value), limits.storageMb * MIB);
          if (stored !== 1) return quotaExceeded(`storage quota of ${limits.storageMb} MB exceeded: ${used} bytes stored, this put would make it ${next}`);
          return { ok: true, value: undefined };
        } finally {
          waitingBytes -= bytes;
        }
      }),

      delete: (key) => guard(async () => {
        const k = checkKey(key);
        if (!k.ok) return k;
        return { ok: true, value: (await scripts.webdatDelete(data, index, usage, Buffer.from(k.value))) === 1 };
      }),

      list: (options) => guard(async () => {
        const o = checkListOptions(options);
        if (!o.ok) return o;
        const prefix = Buffer.from(o.value.prefix);
        const start = Buffer.from(o.value.start);
        const low = Buffer.compare(start, prefix) > 0 ? start : prefix;
        // no UTF-8 byte is 0xff, so "(prefix 0xff" ends the prefix's range
        const min = low.length === 0 ? Buffer.from('-') : Buffer.concat([Buffer.from('['), low]);
        const max = prefix.length === 0 ? Buffer.from('+') : Buffer.concat([Buffer.from('('), prefix, Buffer.from([0xff])]);
        const flat = await scripts.webdatListBuffer(data, index, min, max, o.value.limit);
        const entries: ListEntry[] = [];
        for (let i = 0; i < flat.length; i += 2) entries.push({ key: flat[i].toString('utf8'), value: decodeValue(flat[i + 1]) });
        return { ok: true, value: entries };
      }),
    };
  }

  return {
    open: storeFor,
    async close() {
      if (closed) return;
      closed = true;
      redis.disconnect();
    },
  };
}
