import { test, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startUpstream } from './helpers/upstream.ts';
import { ROOT, runWebdatExpectingExit, startWebdat, tempDir } from './helpers/webdat.ts';

// The hostile corpus (hostile-corpus.test.ts) on the capabilities of SPEC §8–§11: timer storms, fetch
// floods, storage quota races and floods, TypeScript compile bombs. Every attack gets its exact
// outcome; a quiet server on the same worker thread answers unchanged meanwhile (the slowest probe
// under 1 s for the attacks that last); nothing of the host reaches a client; the engine stays up.

const up = await startUpstream();
const U = up.origin;

const TIMERS = `
let ids = [];
let ticks = 0;
let chaining = false;
export function onHTTPRequest(w, req) {
  switch (req.uri) {
    case '/exhaust': {
      let armed = 0;
      try { for (;;) { ids.push(setTimeout(() => {}, 600000)); armed++; } }
      catch (e) { const out = e.name + ' after ' + armed + ': ' + e.message; ids.forEach(clearTimeout); ids = []; return { data: out }; }
    }
    case '/interval-flood': for (let i = 0; i < 50; i++) ids.push(setInterval(() => { ticks++; }, 0)); return { data: 'armed ' + ids.length };
    case '/stop': { ids.forEach(clearInterval); const n = ids.length; ids = []; chaining = false; return { data: 'stopped ' + n }; }
    case '/ticks': return { data: String(ticks) };
    case '/chain':
      chaining = true;
      for (let i = 0; i < 20; i++) setTimeout(function again() { ticks++; if (chaining) setTimeout(again, 0); }, 0);
      return { data: 'chained' };
    case '/loopers': for (let i = 0; i < 10; i++) setTimeout(() => { for (;;) {} }, 0); return { data: 'armed' };
    case '/allocator': setTimeout(() => { const keep = []; for (;;) keep.push(new Array(1e5).fill(1)); }, 0); return { data: 'armed' };
    case '/info': return { data: JSON.stringify(w.info) };
  }
  return { data: 'timers ok' };
}
`;

const FETCH = `
const U = ${JSON.stringify(U)};
const DENIED = ['http://169.254.169.254/latest/meta-data/', 'http://localhost:22/', 'http://[::1]/', 'http://0x7f000001/',
  'file:///etc/passwd', 'http://metadata.google.internal/', 'ftp://example.com/', 'http://user:pw@' + U.slice(7) + '/',
  'data:text/plain,hi', 'http://127.0.0.1:' + (Number(U.split(':')[2]) + 1) + '/'];
function json(v) { return { 'content-type': 'application/json', data: JSON.stringify(v) }; }
function named(e) { return { name: e && e.name, message: e && e.message }; }
export async function onHTTPRequest(w, req) {
  switch (req.uri) {
    case '/over-slots': {
      for (let i = 0; i < 4; i++) fetch(U + '/hold').catch(() => {});
      const rest = await Promise.allSettled(Array.from({ length: 60 }, () => fetch(U + '/hello')));
      return json(rest.map((r) => r.status === 'fulfilled' ? 'fulfilled' : r.reason.name + ': ' + r.reason.message));
    }
    case '/denied': {
      const all = [];
      for (let i = 0; i < 30; i++) for (const d of DENIED) all.push(fetch(d));
      const rs = await Promise.allSettled(all);
      return json({ typeErrors: rs.filter((r) => r.status === 'rejected' && r.reason instanceof TypeError).length, messages: [...new Set(rs.map((r) => r.reason && r.reason.message))] });
    }
    case '/hang': await fetch(U + '/hold'); return { data: 'never' };
    case '/drip': await (await fetch(U + '/hold?drip')).text(); return { data: 'never' };
    case '/redirect-loop': try { await fetch(U + '/loop'); return { data: 'followed' }; } catch (e) { return json(named(e)); }
    case '/huge': case '/gzip-bomb': {
      const r = await fetch(req.uri === '/huge' ? U + '/bytes?n=10000000' : U + '/gzip?n=5000000');
      try { await r.arrayBuffer(); return json({ status: r.status, read: 'ok' }); } catch (e) { return json({ status: r.status, read: named(e) }); }
    }
    case '/after': return { data: await (await fetch(U + '/hello')).text() };
  }
  return { data: 'fetch ok' };
}
`;

const STORE = `
const KB100 = new Uint8Array(100 * 1024);
const KB900 = new Uint8Array(900 * 1024);
function json(v) { return { 'content-type': 'application/json', data: JSON.stringify(v) }; }
async function settle(promises) {
  const rs = await Promise.allSettled(promises);
  const out = {};
  for (const r of rs) { const k = r.status === 'fulfilled' ? 'ok' : r.reason.name; out[k] = (out[k] || 0) + 1; }
  return out;
}
async function refused(run) { try { await run(); return 'resolved'; } catch (e) { return e.name; } }
export async function onHTTPRequest(w, req) {
  const s = w.storage;
  switch (req.uri) {
    case '/race': return json(await settle(Array.from({ length: 30 }, (_, i) => s.put('race-' + req.pars.tag + '-' + i, KB100))));
    case '/usage': {
      const all = await s.list({ limit: 1000 });
      return json({ keys: all.length, bytes: all.reduce((n, e) => n + e.key.length + (e.value.byteLength || 0), 0) });
    }
    case '/clear': {
      for (let batch = await s.list(); batch.length > 0; batch = await s.list()) await Promise.all(batch.map((e) => s.delete(e.key)));
      return { data: 'cleared' };
    }
    case '/huge': {
      const deep = []; let d = deep; for (let i = 0; i < 2000; i++) { const n = []; d.push(n); d = n; }
      const sparse = []; sparse.length = 1e9;
      return json({
        value2MiB: await refused(() => s.put('v', new Uint8Array(2 * 1024 * 1024))),
        key513: await refused(() => s.put('k'.repeat(513), 1)),
        key100KB: await refused(() => s.get('k'.repeat(1e5))),
        deep2000: await refused(() => s.put('d', deep)),
        sparse: await refused(() => s.put('s', sparse)),
        prefix513: await refused(() => s.list({ prefix: 'p'.repeat(513) })),
        limitHuge: (await s.list({ limit: 1e12 })).length,
      });
    }
    case '/waiting-flood': {
      const counts = await settle(Array.from({ length: 20 }, () => s.put('big', KB900)));
      const big = await s.get('big');
      return json({ counts, stored: big && big.byteLength });
    }
    case '/fill': await Promise.all(Array.from({ length: 1000 }, (_, i) => s.put('item-' + String(i).padStart(4, '0'), i))); return { data: 'filled' };
    case '/list-flood': {
      const lists = await Promise.all(Array.from({ length: 20 }, () => s.list({ prefix: 'item-', limit: 5000 })));
      return json([...new Set(lists.map((l) => l.length + ' ' + l[0].key + ' ' + l[l.length - 1].key))]);
    }
  }
  return { data: 'store ok' };
}
`;

const TS_OK = (v: string) => `const v: string = ${JSON.stringify(v)};\nexport function onHTTPRequest(w: unknown, r: unknown, res: { data: string }) { res.data = v; }\n`;

const dir = tempDir({
  'quiet.js': `let n = 0;\nexport function onHTTPRequest(w, request) { return { data: 'quiet ' + (++n) }; }\n`,
  'timers.js': TIMERS, 'fetch.js': FETCH, 'store.js': STORE, 'main.ts': TS_OK('v1'),
});
const config = path.join(dir, 'webdat.json');
const server = (name: string, callbacks: string, extra: object = {}) => ({ name, host: '127.0.0.1', port: 0, callbacks, ...extra });
fs.writeFileSync(config, JSON.stringify({
  // One worker thread for every server: whatever one of them makes it do, the quiet one waits for.
  workers: 1,
  dataDir: 'state',
  admin: { host: '127.0.0.1', port: 0 },
  servers: [
    server('quiet', 'quiet.js'),
    server('timers', 'timers.js', { limits: { maxTimers: 50, timeoutMs: 300 } }),
    // A generous time limit, so that the heap limit is what stops the allocating timer however loaded the machine.
    server('alloc', 'timers.js', { limits: { memoryMb: 32, timeoutMs: 60_000, cpuMs: 60_000 } }),
    server('fetch', 'fetch.js', { egress: { allow: [`127.0.0.1:${up.port}`] }, limits: { maxFetches: 4, maxFetchBytes: 65536, timeoutMs: 3000, cpuMs: 1500 } }),
    // Writes wait for fsync, which a busy disk makes slow; CPU stays bounded. A stretch of the store's
    // holds the worker as long as its CPU budget allows, so the floods below stay well inside it.
    server('store', 'store.js', { limits: { storageMb: 1, timeoutMs: 20_000, cpuMs: 2000 } }),
    server('tsapp', 'main.ts'),
  ],
}));
const webdat = await startWebdat(['--config', config], { expectServers: 6 });
const admin = /webdat: admin listening on (http:\/\/\S+)/.exec(await webdat.waitFor(/webdat: admin listening on http:\/\/\S+/))![1];
after(async () => {
  assert.equal(await webdat.stop(), 0);
  await up.close();
});
const url = (name: string) => webdat.urls.get(name)!;

/** Marks of the host that must never reach a client. */
const HOST_MARKS = [ROOT, dir, os.tmpdir(), '/work/', 'node:internal', 'isolated-vm', 'undici', 'lmdb', '.ts:', 'at async', 'webdat-test-'];
function assertNoHostLeak(text: string, what: string): void {
  for (const mark of HOST_MARKS) assert.ok(!text.includes(mark), `${what} reveals "${mark}": ${text.slice(0, 300)}`);
}

async function get(target: string, init: RequestInit = {}): Promise<{ status: number; error: string | null; body: string }> {
  const r = await fetch(target, { ...init, signal: AbortSignal.timeout(30_000) });
  return { status: r.status, error: r.headers.get('x-webdat-error'), body: await r.text() };
}

/** One request to `server`, answered 200; its body, checked for host marks. */
async function ok(server: string, uri: string): Promise<string> {
  const r = await get(url(server) + uri);
  assert.equal(r.status, 200, `${server}${uri}: ${r.status} ${r.error} ${r.body.slice(0, 200)}`);
  assertNoHostLeak(r.body, `${server}${uri}`);
  return r.body;
}

async function info(server: string): Promise<Record<string, number>> {
  return JSON.parse(await ok(server, '/info'));
}

let quiet = 0;
/** Probes the quiet server one request at a time until `during` settles; each answer must be the next count. */
async function probeWhile<T>(t: TestContext, during: Promise<T>, minProbes = 3, boundMs = 1000): Promise<T> {
  let done = false;
  const finished = during.finally(() => { done = true; });
  const latencies: number[] = [];
  while (!done || latencies.length < minProbes) {
    const t0 = performance.now();
    const r = await get(url('quiet') + '/');
    latencies.push(performance.now() - t0);
    assert.equal(r.status, 200);
    assert.equal(r.body, `quiet ${++quiet}`);
  }
  const worst = Math.max(...latencies);
  t.diagnostic(`${latencies.length} quiet probes, the slowest ${worst.toFixed(0)} ms`);
  assert.ok(worst < boundMs, `the slowest quiet probe took ${worst.toFixed(0)} ms`);
  return finished;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it is true, at most `ms`. */
async function until(what: string, probe: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) assert.fail(`${what}: not reached within ${ms} ms`);
    await sleep(50);
  }
}

/** `promise`, or a failure naming `what` after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms); });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The engine never died and no worker was lost. */
function assertEngineUp(): void {
  assert.equal(webdat.proc.exitCode, null);
  assert.doesNotMatch(webdat.stderr(), /died \(|WEBDAT_ERR_WORKER_LOST/);
}

test('timers: maxTimers exhausted exactly, again and again; the slots come back', async (t) => {
  for (let i = 0; i < 3; i++) {
    assert.equal(await probeWhile(t, ok('timers', '/exhaust')), 'RangeError after 50: too many pending timers: limits.maxTimers is 50');
  }
  assertEngineUp();
});

test('timers: 50 setInterval(0) flood the worker; the quiet server is served; clearing stops them', async (t) => {
  assert.equal(await ok('timers', '/interval-flood'), 'armed 50');
  try {
    await probeWhile(t, sleep(2000), 5);
    assert.ok(Number(await ok('timers', '/ticks')) > 0, 'the intervals never fired');
  } finally {
    assert.equal(await ok('timers', '/stop'), 'stopped 50');
  }
  // Every slot is free again once nothing is pending: cleared intervals hold none.
  assert.equal(await ok('timers', '/exhaust'), 'RangeError after 50: too many pending timers: limits.maxTimers is 50');
  assertEngineUp();
});

test('timers: 20 timeouts rescheduling themselves forever; the quiet server is served; the chains stop when told', async (t) => {
  assert.equal(await ok('timers', '/chain'), 'chained');
  try {
    const before = Number(await ok('timers', '/ticks'));
    await probeWhile(t, sleep(2000), 5);
    assert.ok(Number(await ok('timers', '/ticks')) > before, 'the chains never ran');
  } finally {
    assert.equal(await ok('timers', '/stop'), 'stopped 0');
  }
  // A chain that went on would hold a slot: all 50 come back only when every chain stopped.
  await until('every timer slot free', async () => (await ok('timers', '/exhaust')).startsWith('RangeError after 50:'));
  assertEngineUp();
});

test('timers: 10 timer callbacks that loop are each cut and counted; the quiet server is served meanwhile', async (t) => {
  const before = (await info('timers')).errors_timeout;
  assert.equal(await ok('timers', '/loopers'), 'armed');
  await probeWhile(t, until('10 timeouts counted', async () => (await info('timers')).errors_timeout >= before + 10, 60_000));
  assert.equal((await info('timers')).errors_timeout, before + 10);
  assert.equal(await ok('timers', '/'), 'timers ok');
  assertEngineUp();
});

test('timers: a timer callback that allocates without end is a memory breach: the isolate is recreated, the server answers', async (t) => {
  assert.equal(await ok('alloc', '/chain'), 'chained');
  await until('the chains run', async () => (await ok('alloc', '/ticks')) !== '0');
  assert.equal(await ok('alloc', '/allocator'), 'armed');
  // Filling a heap to its limit and rebuilding the isolate holds the shared worker for a while (an
  // HTTP request that does the same holds it as long: 1.2–2.3 s at load 10–13 on 2 cores, 32 MB).
  await probeWhile(t, until('a memory restart', async () => (await info('alloc')).memory_restarts === 1, 60_000), 3, 5000);
  // The isolate and its timers are gone: the chains no longer run, module state starts again.
  assert.equal(await ok('alloc', '/ticks'), '0');
  assert.equal(await ok('alloc', '/exhaust'), 'RangeError after 1000: too many pending timers: limits.maxTimers is 1000');
  assert.equal(await ok('alloc', '/'), 'timers ok');
  assertEngineUp();
});

test('fetch: 64 at once with maxFetches 4: 60 refused at once with TypeError; the slots come back when the invocation ends', async (t) => {
  const out = JSON.parse(await probeWhile(t, ok('fetch', '/over-slots')));
  assert.equal(out.length, 60);
  assert.deepEqual([...new Set(out)], [`TypeError: fetch to ${U}/hello refused: 4 fetches of this server are running or have unread bodies (limits.maxFetches)`]);
  assert.equal(await ok('fetch', '/after'), 'hello', 'the slots came back');
  assertEngineUp();
});

test('fetch: 300 fetches to denied hosts, schemes and addresses: each a TypeError naming only the URL', async () => {
  const seen = up.seen.length;
  const out = JSON.parse(await ok('fetch', '/denied'));
  assert.equal(out.typeErrors, 300);
  assert.equal(out.messages.length, 10, out.messages.join('\n'));
  for (const m of out.messages) assertNoHostLeak(m, 'a refusal');
  assert.equal(up.seen.length, seen, 'a denied fetch reached the upstream');
  assertEngineUp();
});

test('fetch: an upstream that never answers, and one that trickles forever: 503 timeout at the limit, the connection cut', async (t) => {
  for (const route of ['/hang', '/drip']) {
    const cut = up.holdsCut.value;
    const r = await probeWhile(t, get(url('fetch') + route));
    assert.equal(r.status, 503, `${route}: ${r.status} ${r.error}`);
    assert.equal(r.error, 'timeout');
    assertNoHostLeak(r.body, route);
    await within(up.holdsCut.reach(cut + 1), 10_000, `${route}: the upstream connection cut`);
  }
  assert.equal(await ok('fetch', '/after'), 'hello');
  assertEngineUp();
});

test('fetch: a redirect loop rejects after 20 hops', async () => {
  assert.deepEqual(JSON.parse(await ok('fetch', '/redirect-loop')), { name: 'TypeError', message: `fetch to ${U}/loop failed: more than 20 redirects` });
  assertEngineUp();
});

test('fetch: a 10 MB body and a 5 MB gzip bomb over maxFetchBytes: the status resolves, reading rejects with TypeError', async (t) => {
  for (const route of ['/huge', '/gzip-bomb']) {
    const out = JSON.parse(await probeWhile(t, ok('fetch', route)));
    assert.equal(out.status, 200, route);
    assert.equal(out.read.name, 'TypeError', `${route}: ${JSON.stringify(out)}`);
    assert.match(out.read.message, /65536/, route);
  }
  assert.equal(await ok('fetch', '/after'), 'hello');
  assertEngineUp();
});

test('storage: five requests racing 30 puts of 100 KiB each at a 1 MB quota: exactly what fits is stored', async (t) => {
  // Cleared whatever happens: what a failed check left stored would fail the next tests too.
  try {
    const outs = await probeWhile(t, Promise.all(['a', 'b', 'c', 'd', 'e'].map(async (tag) => JSON.parse(await ok('store', `/race?tag=${tag}`)))));
    const total = (k: string) => outs.reduce((n, o) => n + (o[k] ?? 0), 0);
    // 10 × (key + 100 KiB + msgpack's header) fit in 1 MiB; 11 do not.
    assert.equal(total('ok'), 10, JSON.stringify(outs));
    assert.equal(total('QuotaExceededError'), 140, JSON.stringify(outs));
    const usage = JSON.parse(await ok('store', '/usage'));
    assert.equal(usage.keys, 10);
    assert.ok(usage.bytes <= 1024 * 1024, `stored ${usage.bytes} bytes`);
  } finally {
    assert.equal(await ok('store', '/clear'), 'cleared');
  }
  assertEngineUp();
});

test('storage: huge values and keys, deep and sparse values, oversized list options: each refused with its error', async () => {
  assert.deepEqual(JSON.parse(await ok('store', '/huge')), {
    value2MiB: 'TypeError', key513: 'TypeError', key100KB: 'TypeError', deep2000: 'TypeError', sparse: 'TypeError', prefix513: 'TypeError', limitHuge: 0,
  });
  assertEngineUp();
});

test('storage: 20 puts of 900 KiB at once: those that fit in the waiting room are written, the rest refused; the value is intact', async (t) => {
  try {
    const out = JSON.parse(await probeWhile(t, ok('store', '/waiting-flood')));
    assert.equal((out.counts.ok ?? 0) + (out.counts.QuotaExceededError ?? 0), 20, JSON.stringify(out));
    assert.ok(out.counts.ok >= 1 && out.counts.ok <= 9, JSON.stringify(out));
    assert.equal(out.stored, 900 * 1024);
  } finally {
    assert.equal(await ok('store', '/clear'), 'cleared');
  }
  assertEngineUp();
});

test('storage: 20 concurrent lists of 1,000 keys (limit 5,000 clamped to 1,000); the quiet server is served', async (t) => {
  try {
    assert.equal(await ok('store', '/fill'), 'filled');
    assert.deepEqual(JSON.parse(await probeWhile(t, ok('store', '/list-flood'))), ['1000 item-0000 item-0999']);
  } finally {
    assert.equal(await ok('store', '/clear'), 'cleared');
  }
  assertEngineUp();
});

const upload = (body: string) => fetch(`${admin}/servers/tsapp/callbacks`, { method: 'PUT', body, signal: AbortSignal.timeout(60_000) });

// The last two nest deep without brackets: esbuild gives up on 30,000 unary minuses after seconds
// (1.5 s on a loaded 2-core machine; 60,000 overflow its stack after 5–10 s and 1 GB), and 60,000
// nested arrows keep it busy past the 10 s deadline (30,000 ran minutes of CPU).
const BOMBS: Array<[string, string, number, RegExp]> = [
  ['200,000 nested brackets', `export const x = ${'('.repeat(200_000)}1${')'.repeat(200_000)};\n`, 400, /main\.ts: brackets nested deeper than 1000 levels/],
  ['30,000 unary minuses', `export const x = ${'-'.repeat(30_000)}1;\n`, 400, /TypeScript error in main\.ts:1:\d+: /],
  ['60,000 nested arrows', `export const f = ${'a=>'.repeat(60_000)}0;\n`, 400, /main\.ts: TypeScript compilation took longer than 10 s/],
];

test('TypeScript: compile bombs uploaded through the admin API are refused; the old code serves on; the quiet server is served meanwhile', async (t) => {
  assert.equal(await ok('tsapp', '/'), 'v1');
  for (const [what, source, status, message] of BOMBS) {
    const r = await probeWhile(t, upload(source).then(async (res) => ({ status: res.status, body: await res.text() })));
    assert.equal(r.status, status, `${what}: ${r.status} ${r.body.slice(0, 300)}`);
    assert.match(JSON.parse(r.body).message, message, what);
    assert.doesNotMatch(r.body, /node:internal|goroutine/, what);
    assert.equal(await ok('tsapp', '/'), 'v1', `${what} replaced the working code`);
  }
  const fine = await upload(TS_OK('v2'));
  assert.equal(fine.status, 200, await fine.text());
  assert.equal(await ok('tsapp', '/'), 'v2');
  assertEngineUp();
});

test('TypeScript: a compile bomb or a 5 MiB module in the config stops start-up with exit code 2 and a message naming the file', async () => {
  const cases: Array<[string, RegExp]> = [
    [`export const x = ${'-'.repeat(30_000)}1;\n`, /TypeScript error in bomb\.ts:1:\d+: /],
    [`export const x = 1;\n${'// padding\n'.repeat(500_000)}`, /bomb\.ts: TypeScript module larger than 4 MiB/],
  ];
  for (const [source, message] of cases) {
    const d = tempDir({ 'bomb.ts': source, 'fine.js': 'export function onHTTPRequest() {}\n' });
    fs.writeFileSync(path.join(d, 'webdat.json'), JSON.stringify({ servers: [server('fine', 'fine.js'), server('bomb', 'bomb.ts')] }));
    const r = await runWebdatExpectingExit(['serve', '--config', path.join(d, 'webdat.json')], { ms: 60_000 });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /goroutine|node:internal/);
  }
});

test('after every attack: the engine is the same process, every server answers', async () => {
  assertEngineUp();
  assert.equal(await ok('timers', '/'), 'timers ok');
  assert.equal(await ok('fetch', '/after'), 'hello');
  assert.equal(await ok('store', '/'), 'store ok');
  assert.equal(await ok('tsapp', '/'), 'v2');
  const r = await get(url('quiet') + '/');
  assert.equal(r.body, `quiet ${++quiet}`);
});
