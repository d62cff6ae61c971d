import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { openRedisBackend as open } from '../src/worker/capabilities/storage/redis-backend.ts';
import type { StorageBackend, StorageResult, ServerStore } from '../src/worker/capabilities/storage/types.ts';
import { encodeValue } from '../src/worker/capabilities/storage/values.ts';
import { startRedis } from '../../../tests/helpers/redis.ts';

// The Redis storage backend (SPEC §8 in a cluster) against a real redis-server of the test's own.
// Two backends on one Redis stand for two hosts.

const MIB = 1024 * 1024;
const redis = await startRedis();
after(() => redis.kill());
let clusterSeq = 0;
const opened: StorageBackend[] = [];
after(() => Promise.all(opened.map((b) => b.close())));
/** each backend is its own Redis connection, as on another host */
function openRedisBackend(url: string, cluster: string): StorageBackend {
  const b = open(url, cluster);
  opened.push(b);
  return b;
}
/** a cluster name of its own per test, so tests never see each other's keys */
const fresh = () => `t${++clusterSeq}`;

function value<T>(result: StorageResult<T>): T {
  if (!result.ok) assert.fail(`expected success, got ${result.error.name}: ${result.error.message}`);
  return result.value;
}

function failure(result: StorageResult<unknown>, name: string): string {
  if (result.ok) assert.fail(`expected ${name}, got success`);
  assert.equal(result.error.name, name, result.error.message);
  return result.error.message;
}

const keysOf = async (store: ServerStore, options?: unknown) => value(await store.list(options)).map((e) => e.key);

test('storable values come back exactly, and a put acknowledged on one host is read on the other', async () => {
  const name = fresh();
  const a = openRedisBackend(redis.url, name).open('srv', { storageMb: 8 });
  const b = openRedisBackend(redis.url, name).open('srv', { storageMb: 8 });
  const sample = {
    map: new Map<unknown, unknown>([['k', 1], [2, new Set(['x', 'y'])]]),
    date: new Date(1_700_000_000_123),
    bytes: new Uint8Array([0, 1, 254, 255]),
    nested: { list: [1, 'two', null, true, 1.5], text: 'héllo 😀' },
  };
  value(await a.put('doc', sample));
  assert.deepEqual(value(await b.get('doc')), sample);
  const got = value(await b.get('doc')) as typeof sample;
  assert.ok(got.map instanceof Map && got.date instanceof Date && got.bytes instanceof Uint8Array);
  assert.equal(value(await b.get('missing')), undefined);
  assert.equal(value(await b.delete('doc')), true);
  assert.equal(value(await a.delete('doc')), false);
  assert.equal(value(await a.get('doc')), undefined);
});

test('list follows UTF-8 key order with prefix, start and limit', async () => {
  const store = openRedisBackend(redis.url, fresh()).open('srv', { storageMb: 8 });
  for (const k of ['b', 'a', 'ab', 'é', 'z', 'a\u{10000}', 'a\uffff', 'ac']) value(await store.put(k, k.length));
  assert.deepEqual(await keysOf(store), ['a', 'ab', 'ac', 'a\uffff', 'a\u{10000}', 'b', 'z', 'é']);
  assert.deepEqual(await keysOf(store, { prefix: 'a' }), ['a', 'ab', 'ac', 'a\uffff', 'a\u{10000}']);
  assert.deepEqual(await keysOf(store, { prefix: 'a', start: 'ab' }), ['ab', 'ac', 'a\uffff', 'a\u{10000}']);
  assert.deepEqual(await keysOf(store, { prefix: 'a', start: 'ac', limit: 2 }), ['ac', 'a\uffff']);
  assert.deepEqual(await keysOf(store, { start: 'b' }), ['b', 'z', 'é']);
  assert.deepEqual(value(await store.list({ prefix: 'z' })), [{ key: 'z', value: 1 }]);
  failure(await store.list({ limit: 0 }), 'TypeError');
  failure(await store.put('', 1), 'TypeError');
  failure(await store.put('k', undefined), 'TypeError');
  failure(await store.get('x'.repeat(513)), 'TypeError');
});

test('two servers never see each other\'s keys, even with names that spell one another', async () => {
  const backend = openRedisBackend(redis.url, fresh());
  const one = backend.open('a', { storageMb: 8 });
  const two = backend.open('a}:x', { storageMb: 8 });
  value(await one.put('k', 'one'));
  value(await two.put('k', 'two'));
  assert.equal(value(await one.get('k')), 'one');
  assert.equal(value(await two.get('k')), 'two');
  assert.deepEqual(await keysOf(one), ['k']);
  assert.deepEqual(await keysOf(two), ['k']);
  const otherCluster = openRedisBackend(redis.url, fresh()).open('a', { storageMb: 8 });
  assert.equal(value(await otherCluster.get('k')), undefined);
});

test('storageMb counts encoded key + value bytes, atomically across hosts', async () => {
  const name = fresh();
  const a = openRedisBackend(redis.url, name).open('srv', { storageMb: 1 });
  const b = openRedisBackend(redis.url, name).open('srv', { storageMb: 1 });
  const chunk = 'x'.repeat(100 * 1024);
  const size = Buffer.byteLength('k00') + value(encodeValue(chunk)).byteLength;
  const fit = Math.floor(MIB / size);
  // both hosts race for the same quota: exactly `fit` puts can win
  const results = await Promise.all(Array.from({ length: 2 * fit }, (_, i) => (i % 2 === 0 ? a : b).put(`k${String(i).padStart(2, '0')}`, chunk)));
  const won = results.filter((r) => r.ok).length;
  assert.equal(won, fit);
  for (const r of results) if (!r.ok) assert.match(failure(r, 'QuotaExceededError'), /quota of 1 MB exceeded/);
  const stored = await keysOf(a);
  assert.equal(stored.length, fit);
  // an overwrite that does not grow the data is allowed at the quota; a delete frees room
  value(await a.put(stored[0], chunk));
  failure(await b.put('new', chunk), 'QuotaExceededError');
  assert.equal(value(await b.delete(stored[0])), true);
  value(await b.put('new', chunk));
});

test('while Redis is down every operation rejects with StorageUnavailableError, and storage comes back with Redis', async () => {
  const store = openRedisBackend(redis.url, fresh()).open('srv', { storageMb: 8 });
  value(await store.put('before', 1));
  await redis.kill();
  try {
    for (const r of [await store.get('before'), await store.put('during', 1), await store.delete('before'), await store.list({})]) {
      // the client's own text (ioredis, Redis's address) stays on the host
      assert.equal(failure(r, 'StorageUnavailableError'), 'storage is unavailable: the store cannot be reached');
    }
  } finally {
    await redis.restart();
  }
  // this test's Redis keeps nothing across a restart (no persistence): the point is that it works again
  const deadline = Date.now() + 15_000;
  let r = await store.put('after', 2);
  while (!r.ok && Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, 200));
    r = await store.put('after', 2);
  }
  value(r);
  assert.equal(value(await store.get('after')), 2);
});
