import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startWebdat, tempDir, type Running } from './webdat.ts';

// The callbacks and client helpers of the storage tests (tests/storage*.test.ts).

/**
 * A small key-value API over storage. `life` is module state: it restarts at 1 when the isolate was
 * rebuilt, which tells a test that what it reads came from storage and not from memory.
 */
export const kv = (version = 'v1') => `
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
  // a storage error the route did not expect is shown to the test, which then names it
  try { await route(w, req, res); } catch (e) { res.statusCode = 500; res.data = 'kv: ' + e.name + ': ' + e.message; }
}

async function route(w, req, res) {
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
    const from = Number(req.pars.from), n = Number(req.pars.n);
    await Promise.all(Array.from({ length: n }, (_, i) => s.put('fill-' + String(from + i).padStart(5, '0'), from + i)));
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
  else res.data = 'kv ${version}';
}
`;

export interface Answer { status: number; error: string | null; text: string; life: number; version: string | null }

export async function call(base: string, p: string, init?: RequestInit): Promise<Answer> {
  const r = await fetch(base + p, init);
  return { status: r.status, error: r.headers.get('x-webdat-error'), text: await r.text(), life: Number(r.headers.get('x-life')), version: r.headers.get('x-version') };
}

export async function put(base: string, key: string, value: unknown): Promise<void> {
  const r = await call(base, `/put/${encodeURIComponent(key)}`, { method: 'PUT', body: JSON.stringify(value), headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.text, 'stored');
}

export async function get(base: string, key: string): Promise<unknown> {
  const r = await call(base, `/get/${encodeURIComponent(key)}`);
  assert.equal(r.status, 200, r.text);
  return r.text === 'undefined' ? undefined : JSON.parse(r.text);
}

/** Serves `kv` with its data in a fresh --data-dir (or the one given); generous time limits: storage waits on the disk. */
export async function serveKv(opts: { dataDir?: string } = {}): Promise<Running & { dataDir: string }> {
  const dir = tempDir({ 'callbacks.js': kv() });
  const dataDir = opts.dataDir ?? path.join(dir, 'data');
  const file = path.join(dir, 'callbacks.js');
  const r = await startWebdat(['--callbacks', file, '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--timeout-ms', '20000']);
  return Object.assign(r, { dataDir });
}

/** Every process of a running webdat: the supervisor and its descendants. */
export function processTree(pid: number): number[] {
  const rows = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' }).trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) for (const [child, parent] of rows) if (parent === tree[i]) tree.push(child);
  return tree;
}
