import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { call, get, kv, put } from './helpers/storage-kv.ts';
import { startWebdat, tempDir } from './helpers/webdat.ts';

// webServer.storage (SPEC §8) through the real CLI: values round-trip through HTTP, keys and values
// are checked, the quota holds, servers stay apart, data lives where dataDir says.
// What data outlives is in storage-durability.test.ts.

const dir = tempDir({ 'kv.js': kv() });
const config = path.join(dir, 'webdat.json');
const server = (name: string, limits: object = {}) => ({ name, host: '127.0.0.1', port: 0, callbacks: 'kv.js', limits: { timeoutMs: 20000, ...limits } });
fs.writeFileSync(config, JSON.stringify({
  dataDir: 'state',
  servers: [server('kv'), server('small', { storageMb: 1 }), server('ab'), server('a'), server('a.b')],
}));
const main = await startWebdat(['--config', config], { expectServers: 5 });
after(() => main.stop());
const url = (name: string) => main.urls.get(name)!;

test('values round-trip through HTTP: JSON, every storable type, bytes, delete and list', async () => {
  const base = url('kv');
  assert.equal(await get(base, 'nothing'), undefined);
  await put(base, 'doc', { a: [1, 'two', { three: true }], n: null });
  assert.deepEqual(await get(base, 'doc'), { a: [1, 'two', { three: true }], n: null });
  await put(base, 'doc', 'replaced');
  assert.equal(await get(base, 'doc'), 'replaced');

  const types = JSON.parse((await call(base, '/types')).text);
  assert.equal(types.same, true, types.back);
  assert.equal(types.bytesIsU8, true);

  const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) % 256));
  const stored = await call(base, '/bytes/blob', { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(stored.text, 'stored');
  const back = await fetch(base + '/bytes/blob');
  assert.deepEqual(Buffer.from(await back.arrayBuffer()), bytes, 'byte-exact');

  assert.equal((await call(base, '/delete/doc')).text, 'true');
  assert.equal((await call(base, '/delete/doc')).text, 'false');
  assert.equal(await get(base, 'doc'), undefined);

  for (const k of ['user:2', 'user:10', 'user:1', 'users', 'é', 'a']) await put(base, k, k);
  const list = async (q: string) => JSON.parse((await call(base, `/list?${q}`)).text);
  assert.deepEqual(await list(''), ['a', 'blob', 'types', 'user:1', 'user:10', 'user:2', 'users', 'é']);
  assert.deepEqual(await list('prefix=user:'), ['user:1', 'user:10', 'user:2']);
  assert.deepEqual(await list('prefix=user:&start=user:10'), ['user:10', 'user:2']);
  assert.deepEqual(await list('start=user:2&limit=2'), ['user:2', 'users']);

  // 1100 keys, a hundred puts per request: each request's work stays far inside its CPU budget
  for (let from = 0; from < 1100; from += 100) assert.equal((await call(base, `/fill?from=${from}&n=100`)).text, '100');
  const fills = await list('prefix=fill-');
  assert.equal(fills.length, 100, 'limit defaults to 100');
  assert.equal(fills[0], 'fill-00000');
  const clamped = await list('prefix=fill-&limit=5000');
  assert.equal(clamped.length, 1000, 'a limit above 1000 is clamped');
  assert.equal(clamped.at(-1), 'fill-00999');
});

test('bad keys and values reject with TypeError or DataCloneError, which the callback can catch', async () => {
  const r = await call(url('kv'), '/errors');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(JSON.parse(r.text), [
    'TypeError(TypeError)', 'TypeError(TypeError)', 'TypeError(TypeError)', 'TypeError(TypeError)', 'TypeError(TypeError)',
    'TypeError(TypeError)', 'DataCloneError', 'DataCloneError', 'resolved',
  ]);
});

test('over storageMb a put rejects with QuotaExceededError and the stored data stays intact', async () => {
  const r = await call(url('small'), '/quota');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(JSON.parse(r.text), { names: ['resolved', 'resolved', 'resolved', 'QuotaExceededError'], kept: [300000, 300000, 300000, 0] });
});

test('two servers with the same key names never see each other\'s keys', async () => {
  // "ab" + key "c" and "a" + key "bc" would meet if names and keys were simply joined
  const [ab, a, adotb] = ['ab', 'a', 'a.b'].map(url);
  await put(ab, 'c', 'from ab');
  await put(a, 'bc', 'from a');
  await put(a, 'c', 'a too');
  assert.equal(await get(ab, 'bc'), undefined);
  assert.equal(await get(ab, 'c'), 'from ab');
  assert.equal(await get(a, 'c'), 'a too');
  assert.deepEqual(JSON.parse((await call(ab, '/list')).text), ['c']);
  assert.deepEqual(JSON.parse((await call(a, '/list')).text), ['bc', 'c']);
  assert.deepEqual(JSON.parse((await call(adotb, '/list')).text), []);
  assert.equal((await call(ab, '/delete/bc')).text, 'false');
  assert.equal(await get(url('kv'), 'c'), undefined);
});

test('data lives in dataDir, relative to the config file; --data-dir overrides it', async () => {
  await put(url('kv'), 'where', 'here');
  assert.ok(fs.existsSync(path.join(dir, 'state')));
  const other = tempDir({ 'kv.js': kv(), 'webdat.json': JSON.stringify({ dataDir: 'state', servers: [server('kv')] }) });
  const s = await startWebdat(['--config', path.join(other, 'webdat.json'), '--data-dir', path.join(other, 'elsewhere')]);
  try {
    await put(s.url, 'where', 'elsewhere');
    assert.ok(fs.existsSync(path.join(other, 'elsewhere')));
    assert.ok(!fs.existsSync(path.join(other, 'state')));
  } finally {
    await s.stop();
  }
});

test('without dataDir or --data-dir, data lives in ./.webdat-data of the current directory', async () => {
  const here = tempDir({ 'callbacks.js': kv() });
  const s = await startWebdat(['--callbacks', path.join(here, 'callbacks.js'), '--port', '0', '--host', '127.0.0.1', '--timeout-ms', '20000'], { cwd: here });
  try {
    await put(s.url, 'here', true);
    assert.ok(fs.existsSync(path.join(here, '.webdat-data')));
  } finally {
    await s.stop();
  }
});
