import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startWebdat, tempDir, type Running } from './helpers/webdat.ts';

// webServer.storage (SPEC §8) through the real CLI: values round-trip through HTTP, keys are checked,
// the quota holds, servers stay apart, and data outlives the isolate, the code, the engine and webdat.

/**
 * A small key-value API over storage. `life` is module state: it restarts at 1 when the isolate was
 * rebuilt, which tells a test that what it reads came from storage and not from memory.
 */
const kv = (version = 'v1') => `
let life = 0;
const key = (req) => decodeURIComponent(req.uri.split('/')[2] ?? '');

/** a description that tells every storable type apart, to compare values inside the isolate */
function tag(v) {
  if (v instanceof Map) return 'Map{' + [...v].map(([k, x]) => tag(k) + '=>' + tag(x)).join(',') + '}';
  if (v instanceof Set) return 'Set{' + [...v].map(tag).join(',') + '}';
  if (v instanceof Date) return 'Date(' + v.getTime() + ')';
  if (v instanceof Uint8Array) return 'U8[' + v.join(',') + ']';
  if (Array.isArray(v)) return '[' + v.map(tag).join(',') + ']';
  if (v !== null && typeof v === 'object') return (Object.getPrototypeOf(v) === Object.prototype ? '' : '?') + '{' + Object.keys(v).map((k) => JSON.stringify(k) + ':' + tag(v[k])).join(',') + '}';
  return typeof v + ':' + String(v);
}

async function errorName(run) {
  try { await run(); return 'resolved'; } catch (e) { return e.name + (e instanceof TypeError ? '(TypeError)' : ''); }
}

export async function onHTTPRequest(w, req, res) {
  life++;
  const s = w.storage;
  const op = req.uri.split('/')[1];
  res['x-life'] = String(life);
  res['x-version'] = '${version}';
  if (op === 'put') { await s.put(key(req), JSON.parse(req.data)); res.data = 'stored'; }
  else if (op === 'get') { const v = await s.get(key(req)); res.data = v === undefined ? 'undefined' : JSON.stringify(v); }
  else if (op === 'delete') res.data = String(await s.delete(key(req)));
  else if (op === 'list') {
    const o = {};
    for (const k of ['prefix', 'start']) if (req.pars[k] !== undefined) o[k] = req.pars[k];
    if (req.pars.limit !== undefined) o.limit = Number(req.pars.limit);
    res.data = JSON.stringify((await s.list(o)).map((e) => e.key));
  }
  else if (op === 'bytes') {
    if (req.method === 'PUT') { await s.put(key(req), req.data); res.data = 'stored'; }
    else { res.data = await s.get(key(req)); res['content-type'] = 'application/octet-stream'; }
  }
  else if (op === 'fill') {
    const n = Number(req.pars.n);
    await Promise.all(Array.from({ length: n }, (_, i) => s.put('fill-' + String(i).padStart(5, '0'), i)));
    res.data = String(n);
  }
  else if (op === 'types') {
    const shared = new Uint8Array([1, 2, 3]);
    const value = {
      text: 'héllo 😀', int: 42, float: 0.1, nan: NaN, inf: -Infinity, yes: true, nothing: null, missing: undefined,
      list: [1, 'a', [null, [undefined]]], bytes: new Uint8Array([0, 255, 7]), date: new Date(Date.UTC(2026, 10, 27)),
      map: new Map([['a', 1], [2, new Set(['x', new Date(5)])]]), set: new Set([1, 'one', shared]),
      nested: { deep: [new Map([['m', { shared }]])] },
    };
    await s.put('types', value);
    const back = await s.get('types');
    res.data = JSON.stringify({ same: tag(back) === tag(value), back: tag(back), bytesIsU8: back.bytes instanceof Uint8Array });
  }
  else if (op === 'errors') {
    const names = [];
    names.push(await errorName(() => s.put('', 1)));
    names.push(await errorName(() => s.put('x'.repeat(513), 1)));
    names.push(await errorName(() => s.get(42)));
    names.push(await errorName(() => s.delete(null)));
    names.push(await errorName(() => s.list({ limit: -1 })));
    names.push(await errorName(() => s.put('big', 'x'.repeat(1024 * 1024 + 1))));
    names.push(await errorName(() => s.put('fn', () => 1)));
    names.push(await errorName(() => s.put('sym', Symbol('s'))));
    names.push(await errorName(() => s.put('ok', 'x'.repeat(512))));
    res.data = JSON.stringify(names);
  }
  else if (op === 'quota') {
    const names = [];
    for (let i = 0; i < 4; i++) names.push(await errorName(() => s.put('big-' + i, 'x'.repeat(300000))));
    const kept = [];
    for (let i = 0; i < 4; i++) kept.push(((await s.get('big-' + i)) ?? '').length);
    res.data = JSON.stringify({ names, kept });
  }
  else if (op === 'bomb') { const keep = []; for (;;) keep.push(new Array(1e5).fill(life)); }
  else if (op === 'boom') { new Array(6e7).fill(0); }
  else res.data = 'kv ${version}';
}
`;

interface Answer { status: number; text: string; life: number; version: string | null }

async function call(base: string, p: string, init?: RequestInit): Promise<Answer> {
  const r = await fetch(base + p, init);
  return { status: r.status, text: await r.text(), life: Number(r.headers.get('x-life')), version: r.headers.get('x-version') };
}

async function put(base: string, key: string, value: unknown): Promise<void> {
  const r = await call(base, `/put/${encodeURIComponent(key)}`, { method: 'PUT', body: JSON.stringify(value), headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.text, 'stored');
}

async function get(base: string, key: string): Promise<unknown> {
  const r = await call(base, `/get/${encodeURIComponent(key)}`);
  assert.equal(r.status, 200, r.text);
  return r.text === 'undefined' ? undefined : JSON.parse(r.text);
}

/** Serves `kv` with its data in a fresh --data-dir (or the one given); generous time limits: storage waits on the disk. */
async function serveKv(opts: { dataDir?: string; args?: string[]; source?: string } = {}): Promise<Running & { dir: string; dataDir: string; file: string }> {
  const dir = tempDir({ 'callbacks.js': opts.source ?? kv() });
  const dataDir = opts.dataDir ?? path.join(dir, 'data');
  const file = path.join(dir, 'callbacks.js');
  const r = await startWebdat(['--callbacks', file, '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--timeout-ms', '20000', ...(opts.args ?? [])]);
  return Object.assign(r, { dir, dataDir, file });
}

/** Every process of a running webdat: the supervisor and its descendants. */
function processTree(pid: number): number[] {
  const rows = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' }).trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) for (const [child, parent] of rows) if (parent === tree[i]) tree.push(child);
  return tree;
}

test('values round-trip through HTTP: JSON, every storable type, bytes, delete and list', async () => {
  const s = await serveKv();
  try {
    assert.equal(await get(s.url, 'nothing'), undefined);
    await put(s.url, 'doc', { a: [1, 'two', { three: true }], n: null });
    assert.deepEqual(await get(s.url, 'doc'), { a: [1, 'two', { three: true }], n: null });
    await put(s.url, 'doc', 'replaced');
    assert.equal(await get(s.url, 'doc'), 'replaced');

    const types = JSON.parse((await call(s.url, '/types')).text);
    assert.equal(types.same, true, types.back);
    assert.equal(types.bytesIsU8, true);

    const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) % 256));
    const stored = await call(s.url, '/bytes/blob', { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(stored.text, 'stored');
    const back = await fetch(s.url + '/bytes/blob');
    assert.deepEqual(Buffer.from(await back.arrayBuffer()), bytes, 'byte-exact');

    assert.equal((await call(s.url, '/delete/doc')).text, 'true');
    assert.equal((await call(s.url, '/delete/doc')).text, 'false');
    assert.equal(await get(s.url, 'doc'), undefined);

    for (const k of ['user:2', 'user:10', 'user:1', 'users', 'é', 'a']) await put(s.url, k, k);
    const list = async (q: string) => JSON.parse((await call(s.url, `/list?${q}`)).text);
    assert.deepEqual(await list(''), ['a', 'blob', 'types', 'user:1', 'user:10', 'user:2', 'users', 'é']);
    assert.deepEqual(await list('prefix=user:'), ['user:1', 'user:10', 'user:2']);
    assert.deepEqual(await list('prefix=user:&start=user:10'), ['user:10', 'user:2']);
    assert.deepEqual(await list('start=user:2&limit=2'), ['user:2', 'users']);

    assert.equal((await call(s.url, '/fill?n=1100')).text, '1100');
    const fills = await list('prefix=fill-');
    assert.equal(fills.length, 100, 'limit defaults to 100');
    assert.equal(fills[0], 'fill-00000');
    const clamped = await list('prefix=fill-&limit=5000');
    assert.equal(clamped.length, 1000, 'a limit above 1000 is clamped');
    assert.equal(clamped.at(-1), 'fill-00999');
  } finally {
    await s.stop();
  }
});

test('bad keys and values reject with TypeError or DataCloneError, which the callback can catch', async () => {
  const s = await serveKv();
  try {
    const r = await call(s.url, '/errors');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse(r.text), [
      'TypeError(TypeError)', 'TypeError(TypeError)', 'TypeError(TypeError)', 'TypeError(TypeError)', 'TypeError(TypeError)',
      'TypeError(TypeError)', 'DataCloneError', 'DataCloneError', 'resolved',
    ]);
  } finally {
    await s.stop();
  }
});

test('over storageMb a put rejects with QuotaExceededError and the stored data stays intact', async () => {
  const dir = tempDir({ 'kv.js': kv() });
  const file = path.join(dir, 'webdat.json');
  fs.writeFileSync(file, JSON.stringify({
    dataDir: 'state',
    servers: [{ name: 'small', host: '127.0.0.1', port: 0, callbacks: 'kv.js', limits: { storageMb: 1, timeoutMs: 20000 } }],
  }));
  const s = await startWebdat(['--config', file]);
  try {
    const r = await call(s.url, '/quota');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse(r.text), { names: ['resolved', 'resolved', 'resolved', 'QuotaExceededError'], kept: [300000, 300000, 300000, 0] });
    assert.ok(fs.existsSync(path.join(dir, 'state')), 'dataDir is relative to the config file');
  } finally {
    await s.stop();
  }
});

test('two servers with the same key names never see each other\'s keys', async () => {
  const dir = tempDir({ 'kv.js': kv() });
  const file = path.join(dir, 'webdat.json');
  const server = (name: string) => ({ name, host: '127.0.0.1', port: 0, callbacks: 'kv.js', limits: { timeoutMs: 20000 } });
  fs.writeFileSync(file, JSON.stringify({ servers: [server('ab'), server('a'), server('a.b')] }));
  const s = await startWebdat(['--config', file, '--data-dir', path.join(dir, 'data')], { expectServers: 3 });
  try {
    const [ab, a, adotb] = ['ab', 'a', 'a.b'].map((n) => s.urls.get(n)!);
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
    assert.ok(fs.existsSync(path.join(dir, 'data')), '--data-dir is where the data lives');
    assert.ok(!fs.existsSync(path.join(dir, '.webdat-data')));
  } finally {
    await s.stop();
  }
});

test('data outlives a memory-limit breach, a --watch reload and an admin restart', async () => {
  const s = await serveKv({ args: ['--memory-mb', '32', '--watch', '--admin-port', '0'] });
  try {
    await put(s.url, 'kept', { n: 1 });
    assert.equal((await call(s.url, '/')).life, 2);

    const bomb = await call(s.url, '/bomb');
    assert.equal(bomb.status, 503);
    const after = await call(s.url, '/get/kept');
    assert.equal(after.life, 1, 'the isolate was rebuilt');
    assert.deepEqual(JSON.parse(after.text), { n: 1 });

    fs.writeFileSync(s.file, kv('v2'));
    for (let i = 0; (await call(s.url, '/')).version !== 'v2'; i++) {
      assert.ok(i < 400, 'the reload was not picked up');
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.deepEqual(await get(s.url, 'kept'), { n: 1 });
    await put(s.url, 'kept', { n: 2 });

    const admin = /webdat: admin listening on (http:\/\/\S+)/.exec(await s.waitFor(/webdat: admin listening on http:\/\/\S+/))![1];
    const restarted = await fetch(admin + '/servers/default/restart', { method: 'POST' });
    assert.equal(restarted.status, 200);
    const { port } = await restarted.json() as { port: number };
    const base = `http://127.0.0.1:${port}`;
    const read = await call(base, '/get/kept');
    assert.deepEqual(JSON.parse(read.text), { n: 2 });
    assert.equal(read.version, 'v2');
  } finally {
    await s.stop();
  }
});

test('data outlives the engine\'s death right after an acknowledged put', async () => {
  const s = await serveKv();
  const ready = /server "default" listening on (http:\/\/\S+)/g;
  const latest = () => [...s.stdout().matchAll(ready)].map((m) => m[1]);
  try {
    await put(s.url, 'before-death', 'acknowledged');
    await fetch(s.url + '/boom').then(() => assert.fail('the engine answered a request that should have killed it'), () => {});
    await s.waitFor(/engine died/);
    for (let i = 0; latest().length < 2; i++) {
      assert.ok(i < 1000, 'no new engine');
      await new Promise((r) => setTimeout(r, 20));
    }
    const read = await call(latest().at(-1)!, '/get/before-death');
    assert.equal(read.text, '"acknowledged"');
    assert.equal(read.life, 1, 'served by a new engine');
  } finally {
    await s.stop();
  }
});

test('data outlives a webdat restart and kill -9 of every webdat process right after acknowledged puts', async () => {
  const first = await serveKv();
  const { dataDir } = first;
  try {
    await put(first.url, 'across-restart', 'one');
  } finally {
    assert.equal(await first.stop(), 0);
  }

  const second = await serveKv({ dataDir });
  try {
    assert.equal(await get(second.url, 'across-restart'), 'one');
    const pids = processTree(second.proc.pid!);
    assert.ok(pids.length >= 2, `a supervisor and an engine: ${pids.join(',')}`);
    for (let i = 0; i < 20; i++) await put(second.url, `k${i}`, { i });
    for (const pid of pids) process.kill(pid, 'SIGKILL');
  } finally {
    await second.stop();
  }
  assert.equal(second.proc.signalCode, 'SIGKILL');

  const third = await serveKv({ dataDir });
  try {
    for (let i = 0; i < 20; i++) assert.deepEqual(await get(third.url, `k${i}`), { i });
    assert.equal(await get(third.url, 'across-restart'), 'one');
  } finally {
    await third.stop();
  }
});

test('without --data-dir, data lives in ./.webdat-data of the current directory', async () => {
  const dir = tempDir({ 'callbacks.js': kv() });
  const s = await startWebdat(['--callbacks', path.join(dir, 'callbacks.js'), '--port', '0', '--host', '127.0.0.1', '--timeout-ms', '20000'], { cwd: dir });
  try {
    await put(s.url, 'here', true);
    assert.ok(fs.existsSync(path.join(dir, '.webdat-data')));
  } finally {
    await s.stop();
  }
});
