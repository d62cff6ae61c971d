import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { openLmdbBackend, sharedLmdbBackend, type StorageBackend, type StorageResult, type ServerStore } from '../src/worker/capabilities/storage/index.ts';
import { encodeValue } from '../src/worker/capabilities/storage/values.ts';
import type { WriterJob } from './fixtures/storage-writer.ts';

const MIB = 1024 * 1024;
const repoRoot = path.resolve(import.meta.dirname, '../../..');
const writerModule = path.join(import.meta.dirname, 'fixtures/storage-writer.ts');

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'webdat-storage-test-'));
}

/** A backend on a fresh data directory, closed and removed after `body`. */
async function withBackend(body: (backend: StorageBackend, dataDir: string) => Promise<void>): Promise<void> {
  const dataDir = tempDir();
  const backend = openLmdbBackend(dataDir);
  try {
    await body(backend, dataDir);
  } finally {
    await backend.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

function value<T>(result: StorageResult<T>, why = 'expected success'): T {
  if (!result.ok) assert.fail(`${why}, got ${result.error.name}: ${result.error.message}`);
  return result.value;
}

function failure(result: StorageResult<unknown>, name: string): string {
  assert.equal(result.ok, false, `expected ${name}, got success`);
  if (result.ok) throw new Error('unreachable');
  assert.equal(result.error.name, name, result.error.message);
  return result.error.message;
}

async function keys(store: ServerStore, options?: unknown): Promise<string[]> {
  return value(await store.list(options)).map((e) => e.key);
}

/** The bytes a key and value count toward storageMb. */
function sizeOf(key: string, v: unknown): number {
  return Buffer.byteLength(key) + value(encodeValue(v)).byteLength;
}

test('every storable value type comes back exactly', async () => {
  await withBackend(async (backend) => {
    const store = backend.open('types', { storageMb: 64 });
    const shared = new Uint8Array([9, 8]);
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const bytes = new Uint8Array(256).map((_, i) => i);
    const samples: Record<string, unknown> = {
      string: 'héllo wörld 😀 \u0000 end',
      empty: '',
      integer: 42,
      negative: -7,
      float: 3.141592653589793,
      big: 2 ** 53 + 2,
      tiny: 5e-324,
      nan: NaN,
      infinity: -Infinity,
      yes: true,
      no: false,
      nothing: null,
      array: [1, 'two', [3, [4]], null, undefined],
      object: { a: 1, nested: { b: [true, { c: 'd' }] }, undef: undefined, '': 'empty key', 10: 'numeric key' },
      bytes,
      emptyBytes: new Uint8Array(0),
      viewBytes: new Uint8Array(bytes.buffer, 10, 5),
      date: new Date(Date.UTC(2026, 10, 27, 13, 0, 0, 123)),
      map: new Map<unknown, unknown>([['k', 1], [2, 'two'], [{ o: 1 }, new Set([1])]]),
      set: new Set<unknown>(['a', 1, new Date(0), new Uint8Array([1])]),
      nested: { list: [new Map([['inner', new Set([new Map([['deep', shared]])])]])], again: shared },
      cyclic,
    };
    for (const [key, v] of Object.entries(samples)) value(await store.put(key, v));
    for (const [key, v] of Object.entries(samples)) {
      const back = value(await store.get(key));
      assert.deepStrictEqual(back, key === 'viewBytes' ? new Uint8Array([10, 11, 12, 13, 14]) : v, key);
    }
    value(await store.put('badDate', new Date(NaN)));
    const badDate = value(await store.get('badDate'));
    assert.ok(badDate instanceof Date && Number.isNaN(badDate.getTime()), 'an invalid Date stays an invalid Date');
    const bytesBack = value(await store.get('bytes')) as Uint8Array;
    assert.equal(Object.getPrototypeOf(bytesBack), Uint8Array.prototype, 'a Uint8Array, not a Buffer');
    assert.equal(bytesBack.byteLength, bytesBack.buffer.byteLength, 'owns its bytes');
    const cyclicBack = value(await store.get('cyclic')) as Record<string, unknown>;
    assert.equal(cyclicBack.self, cyclicBack);
    const nestedBack = value(await store.get('nested')) as { list: Map<string, Set<Map<string, unknown>>>[]; again: unknown };
    assert.equal([...nestedBack.list[0].get('inner')!][0].get('deep'), nestedBack.again, 'shared references stay shared');
    const all = value(await store.list({}));
    assert.deepStrictEqual(new Map(all.map((e) => [e.key, e.value])).get('map'), samples.map);
  });
});

test('get of an absent key is undefined, put overwrites, delete says whether the key existed', async () => {
  await withBackend(async (backend) => {
    const store = backend.open('basics', { storageMb: 64 });
    assert.equal(value(await store.get('missing')), undefined);
    value(await store.put('k', 'one'));
    value(await store.put('k', { two: 2 }));
    assert.deepStrictEqual(value(await store.get('k')), { two: 2 });
    assert.equal(value(await store.delete('k')), true);
    assert.equal(value(await store.delete('k')), false);
    assert.equal(value(await store.get('k')), undefined);
    value(await store.put('null', null));
    assert.equal(value(await store.get('null')), null);
  });
});

test('concurrent puts and deletes of one server settle in call order', async () => {
  await withBackend(async (backend) => {
    const store = backend.open('order', { storageMb: 64 });
    const results = await Promise.all([
      store.put('a', 1), store.put('a', 2), store.delete('a'), store.delete('a'), store.put('a', 3), store.put('b', 4),
    ]);
    assert.deepStrictEqual(results.map((r) => value<unknown>(r)), [undefined, undefined, true, false, undefined, undefined]);
    assert.equal(value(await store.get('a')), 3);
  });
});

test('list is in ascending code point order with prefix, inclusive start and limit', async () => {
  await withBackend(async (backend) => {
    const store = backend.open('list', { storageMb: 64 });
    const names = ['b', 'a', 'ab', 'a\u0000', 'aa', 'Z', 'é', '\uFFFD', '😀', 'user:2', 'user:10', 'user:1', 'users', 'user;'];
    for (const k of names) value(await store.put(k, k.length));
    const codePointOrder = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    assert.deepStrictEqual(await keys(store), codePointOrder);
    assert.deepStrictEqual(await keys(store, undefined), codePointOrder);
    assert.ok(codePointOrder.indexOf('\uFFFD') < codePointOrder.indexOf('😀'), 'code points, not UTF-16 units');
    assert.deepStrictEqual(await keys(store, { prefix: 'user:' }), ['user:1', 'user:10', 'user:2']);
    assert.deepStrictEqual(await keys(store, { prefix: 'user:', start: 'user:10' }), ['user:10', 'user:2']);
    assert.deepStrictEqual(await keys(store, { prefix: 'user:', start: 'a' }), ['user:1', 'user:10', 'user:2'], 'start before the prefix');
    assert.deepStrictEqual(await keys(store, { prefix: 'user:', start: 'v' }), [], 'start after the prefix');
    assert.deepStrictEqual(await keys(store, { prefix: 'user:', limit: 2 }), ['user:1', 'user:10']);
    assert.deepStrictEqual(await keys(store, { start: 'user;' }), ['user;', 'users', 'é', '\uFFFD', '😀']);
    assert.deepStrictEqual(await keys(store, { prefix: 'nothing' }), []);
    assert.deepStrictEqual(value(await store.list({ prefix: 'ab' })), [{ key: 'ab', value: 2 }]);
  });
});

test('list returns 100 entries by default and at most 1000', async () => {
  await withBackend(async (backend) => {
    const store = backend.open('many', { storageMb: 64 });
    const all = Array.from({ length: 1100 }, (_, i) => `k${String(i).padStart(4, '0')}`);
    for (const r of await Promise.all(all.map((k) => store.put(k, 0)))) value(r);
    assert.deepStrictEqual(await keys(store), all.slice(0, 100));
    assert.deepStrictEqual(await keys(store, { limit: 5000 }), all.slice(0, 1000));
    assert.deepStrictEqual(await keys(store, { limit: Infinity }), all.slice(0, 1000));
    assert.deepStrictEqual(await keys(store, { limit: 1000, start: 'k0500' }), all.slice(500, 1100));
  });
});

test('bad keys, list options and values are refused and change nothing', async () => {
  await withBackend(async (backend) => {
    const store = backend.open('bad', { storageMb: 64 });
    const badKeys: unknown[] = ['', 'x'.repeat(513), 'é'.repeat(257), '\uD800', 'a\uDC00b', 1, null, undefined, {}, ['k'], Symbol('k')];
    for (const k of badKeys) {
      failure(await store.put(k, 1), 'TypeError');
      failure(await store.get(k), 'TypeError');
      failure(await store.delete(k), 'TypeError');
    }
    value(await store.put('x'.repeat(512), 'longest ASCII key'));
    value(await store.put('é'.repeat(256), 'longest two-byte key'));
    value(await store.put('😀', 'astral key'));
    for (const o of [{ prefix: 1 }, { start: {} }, { limit: 0 }, { limit: -1 }, { limit: 1.5 }, { limit: NaN }, { limit: '5' }, { prefix: '\uD800' }, { start: 'x'.repeat(513) }, 'options', 5, []]) {
      failure(await store.list(o), 'TypeError');
    }
    class Point { x = 1; }
    const typeErrors: unknown[] = [
      undefined, 10n, new Point(), /re/, new Error('e'), new Int16Array(2), new ArrayBuffer(2), new DataView(new ArrayBuffer(1)),
      new String('boxed'), new WeakMap(), Promise.resolve(), 'lone \uD800', { k: '\uDFFF' }, new Map([['\uD800', 1]]),
      JSON.parse('{"__proto__": 1}'), [new Point()], { deep: new Set([10n]) },
      'x'.repeat(MIB), [new Uint8Array(MIB)], new Array(2 * MIB), Array.from({ length: 300_000 }, () => 'abcd'),
    ];
    for (const v of typeErrors) failure(await store.put('k', v), 'TypeError');
    for (const v of [() => 1, Symbol('s'), { f() {} }, [Symbol('s')], new Map([[1, () => 1]])]) failure(await store.put('k', v), 'DataCloneError');
    assert.deepStrictEqual(await keys(store), ['x'.repeat(512), 'é'.repeat(256), '😀'].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
  });
});

test('values up to 1 MiB encoded are stored, one byte more is refused', async () => {
  await withBackend(async (backend) => {
    const store = backend.open('size', { storageMb: 64 });
    // a large Uint8Array encodes as a 6-byte extension header, a type byte and its bytes
    const fits = new Uint8Array(MIB - 7).fill(3);
    assert.equal(value(encodeValue(fits)).byteLength, MIB);
    value(await store.put('fits', fits));
    assert.deepStrictEqual(value(await store.get('fits')), fits);
    failure(await store.put('over', new Uint8Array(MIB - 6)), 'TypeError');
    const text = 'x'.repeat(MIB - 5);
    assert.equal(value(encodeValue(text)).byteLength, MIB);
    value(await store.put('text', text));
    failure(await store.put('text', text + 'x'), 'TypeError');
    assert.equal(value(await store.get('text')), text);
    let depth = [] as unknown[];
    for (let i = 0; i < 999; i++) depth = [depth];
    value(await store.put('deep', depth));
    failure(await store.put('deeper', [depth, [[depth]]]), 'TypeError');
  });
});

test('the quota counts key and value bytes; a put over it fails and leaves the data as it was', async () => {
  await withBackend(async (backend, dataDir) => {
    const entry = new Uint8Array(1000).fill(5);
    const unit = sizeOf('k00', entry);
    const storageMb = (10 * unit) / MIB;
    const store = backend.open('quota', { storageMb });
    for (let i = 0; i < 10; i++) value(await store.put(`k${String(i).padStart(2, '0')}`, entry));
    const message = failure(await store.put('k10', entry), 'QuotaExceededError');
    assert.match(message, /quota/);
    failure(await store.put('k00', new Uint8Array(1001)), 'QuotaExceededError');
    assert.deepStrictEqual(value(await store.get('k00')), entry, 'the old value stays');
    assert.equal(value(await store.get('k10')), undefined);
    value(await store.put('k00', new Uint8Array(999)));
    failure(await store.put('k10', entry), 'QuotaExceededError');
    value(await store.delete('k01'));
    value(await store.put('k10', entry), 'freed space is usable again');
    assert.equal((await keys(store)).length, 10);

    const other = backend.open('quota-other', { storageMb });
    value(await other.put('k00', entry));

    // the count is kept in the data directory, not in memory
    await backend.close();
    const again = openLmdbBackend(dataDir);
    try {
      const reopened = again.open('quota', { storageMb });
      failure(await reopened.put('k11', entry), 'QuotaExceededError');
      const bigger = again.open('quota', { storageMb: (11 * unit) / MIB });
      value(await bigger.put('k11', entry), 'a raised quota applies');
      const lowered = again.open('quota', { storageMb: (5 * unit) / MIB });
      failure(await lowered.put('k12', entry), 'QuotaExceededError');
      value(await lowered.put('k11', new Uint8Array(10)), 'shrinking is allowed over a lowered quota');
      value(await lowered.delete('k11'));
    } finally {
      await again.close();
    }
  });
});

test('puts waiting for the disk are bounded by the quota: a flood of copies of one large value is refused past it, not held in memory', async () => {
  await withBackend(async (backend) => {
    const store = backend.open('flood', { storageMb: 64 });
    const large = new Uint8Array(MIB - 7).fill(1);
    const results = await Promise.all(Array.from({ length: 100 }, () => store.put('same', large)));
    assert.equal(results.filter((r) => r.ok).length, 64, '64 MiB may wait');
    for (const r of results.slice(64)) assert.match(failure(r, 'QuotaExceededError'), /waiting to be written/);
    assert.deepStrictEqual(value(await store.get('same')), large);
    value(await store.put('same', large), 'room again once written');
    value(await store.put('small', 1));
  });
});

test('two servers never see each other\'s keys, whatever their names', async () => {
  await withBackend(async (backend) => {
    // "ab" + key "c" and "a" + key "bc" would collide if names were simply concatenated
    const ab = backend.open('ab', { storageMb: 64 });
    const a = backend.open('a', { storageMb: 64 });
    value(await ab.put('c', 'from ab'));
    value(await a.put('bc', 'from a'));
    value(await a.put('c', 'a too'));
    assert.equal(value(await ab.get('bc')), undefined);
    assert.equal(value(await a.get('c')), 'a too');
    assert.equal(value(await ab.get('c')), 'from ab');
    assert.deepStrictEqual(await keys(ab), ['c']);
    assert.deepStrictEqual(await keys(a), ['bc', 'c']);
    assert.deepStrictEqual(await keys(a, { prefix: '' }), ['bc', 'c']);
    assert.equal(value(await ab.delete('bc')), false);
    const dotted = backend.open('a.b', { storageMb: 64 });
    assert.deepStrictEqual(await keys(dotted), []);
  });
});

/** The report arrives before the thread ends: the writer waits to be terminated once it reported. */
function runWorker(job: WriterJob): Promise<{ stored: number; quota: number; other: string[] }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./fixtures/ts-worker.mjs', import.meta.url), { workerData: { ...job, module: writerModule } });
    worker.on('message', (report) => {
      resolve(report);
      void worker.terminate();
    });
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new Error(`writer thread exited ${code} before it reported`)));
  });
}

function runProcess(job: WriterJob): Promise<{ stored: number; quota: number; other: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', writerModule, JSON.stringify(job)], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    // 'close', not 'exit': stdout may still hold the report when the process has exited
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`writer process exited ${code}: ${out}`))));
  });
}

test('two threads and two processes writing one environment at once lose nothing and count exactly', async () => {
  await withBackend(async (backend, dataDir) => {
    const valueBytes = 200;
    const per = 150;
    const jobs = ['t1', 't2', 'p1', 'p2'].map((w): WriterJob => ({
      dataDir, server: 'shared', storageMb: 64, mode: 'fill', valueBytes,
      keys: Array.from({ length: per }, (_, i) => `${w}-${String(i).padStart(3, '0')}`),
    }));
    const local = backend.open('shared', { storageMb: 64 });
    const localKeys = Array.from({ length: per }, (_, i) => `m0-${String(i).padStart(3, '0')}`);
    const [r1, r2, r3, r4, mine] = await Promise.all([
      runWorker(jobs[0]), runWorker(jobs[1]), runProcess(jobs[2]), runProcess(jobs[3]),
      Promise.all(localKeys.map((k) => local.put(k, new Uint8Array(valueBytes).fill(1)))),
    ]);
    for (const r of [r1, r2, r3, r4]) assert.deepStrictEqual(r, { stored: per, quota: 0, other: [] });
    mine.forEach((r) => value(r));
    const all = await keys(local, { limit: 1000 });
    assert.equal(all.length, 5 * per);
    const expected = all.reduce((sum, k) => sum + sizeOf(k, new Uint8Array(valueBytes).fill(1)), 0);
    // the count is exact when a put of exactly the remaining bytes fits and one byte more does not
    const probe = new Uint8Array(100);
    const exact = backend.open('shared', { storageMb: (expected + sizeOf('probe', probe)) / MIB });
    failure(await exact.put('probe', new Uint8Array(101)), 'QuotaExceededError');
    value(await exact.put('probe', probe));
  });
});

test('writers racing for the last of a quota from threads and processes never overshoot it', async () => {
  await withBackend(async (backend, dataDir) => {
    const valueBytes = 2000;
    const unit = sizeOf('w1-000', new Uint8Array(valueBytes).fill(1));
    const room = 130;
    const storageMb = (room * unit + unit - 1) / MIB;
    const jobs = ['w1', 'w2', 'w3', 'w4'].map((w): WriterJob => ({
      dataDir, server: 'race', storageMb, mode: 'fill', valueBytes,
      keys: Array.from({ length: 60 }, (_, i) => `${w}-${String(i).padStart(3, '0')}`),
    }));
    const reports = await Promise.all([runWorker(jobs[0]), runWorker(jobs[1]), runProcess(jobs[2]), runProcess(jobs[3])]);
    for (const r of reports) assert.deepStrictEqual(r.other, []);
    assert.equal(reports.reduce((s, r) => s + r.stored, 0), room);
    assert.equal(reports.reduce((s, r) => s + r.quota, 0), 240 - room);
    const store = backend.open('race', { storageMb });
    assert.equal((await keys(store, { limit: 1000 })).length, room);
  });
});

test('a put acknowledged by a process survives its kill -9 the moment after', async () => {
  await withBackend(async (backend, dataDir) => {
    const watching = backend.open('durable', { storageMb: 64 });
    for (const round of [0, 1, 2]) {
      const key = `durable-${round}`;
      assert.equal(value(await watching.get(key)), undefined);
      const job: WriterJob = { dataDir, server: 'durable', storageMb: 64, mode: 'acked', keys: [key], valueBytes: 4096 };
      const child = spawn(process.execPath, ['--import', 'tsx', writerModule, JSON.stringify(job)], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
      await new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d) => {
          out += d;
          if (out.includes('acked\n')) {
            child.kill('SIGKILL');
            resolve();
          }
        });
        child.on('exit', () => reject(new Error(`writer exited before acknowledging: ${out}`)));
      });
      assert.equal(await exited, 'SIGKILL');
      assert.deepStrictEqual(value(await watching.get(key)), { key, bytes: new Uint8Array(4096).fill(7) }, 'an open reader sees it');
      const reopened = openLmdbBackend(dataDir);
      try {
        const store = reopened.open('durable', { storageMb: 64 });
        assert.deepStrictEqual(value(await store.get(key)), { key, bytes: new Uint8Array(4096).fill(7) });
      } finally {
        await reopened.close();
      }
    }
  });
});

test('the data directory is made on first use, with its parents; an unusable one answers StorageUnavailableError', async () => {
  const dir = tempDir();
  try {
    const dataDir = path.join(dir, 'not', 'yet');
    const backend = openLmdbBackend(dataDir);
    const store = backend.open('lazy', { storageMb: 64 });
    assert.equal(fs.existsSync(dataDir), false, 'opening a store touches nothing');
    value(await store.put('k', 1));
    assert.ok(fs.existsSync(dataDir));
    await backend.close();

    fs.writeFileSync(path.join(dir, 'a-file'), '');
    const broken = openLmdbBackend(path.join(dir, 'a-file'));
    const message = failure(await broken.open('lazy', { storageMb: 64 }).get('k'), 'StorageUnavailableError');
    assert.match(message, /a-file/);
    failure(await broken.open('lazy', { storageMb: 64 }).put('k', 1), 'StorageUnavailableError');
    await broken.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a thread shares one backend per data directory', async () => {
  const dataDir = tempDir();
  try {
    const shared = sharedLmdbBackend(dataDir);
    assert.equal(sharedLmdbBackend(path.join(dataDir, '.')), shared);
    assert.notEqual(sharedLmdbBackend(path.join(dataDir, 'other')), shared);
    value(await shared.open('s', { storageMb: 1 }).put('k', 'v'));
    assert.equal(value(await sharedLmdbBackend(dataDir).open('s', { storageMb: 1 }).get('k')), 'v');
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a closed backend answers StorageUnavailableError', async () => {
  const dataDir = tempDir();
  try {
    const backend = openLmdbBackend(dataDir);
    const store = backend.open('closed', { storageMb: 64 });
    await backend.close();
    failure(await store.get('k'), 'StorageUnavailableError');
    failure(await store.put('k', 1), 'StorageUnavailableError');
    failure(await store.list({}), 'StorageUnavailableError');
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
