import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { runWebdatExpectingExit, startWebdat, tempDir, type Running } from './helpers/webdat.ts';
import { connect } from './helpers/ws.ts';

// SPEC §12 `limits.idleSeconds`: a server's isolate is created at its first event (onServerStart runs
// then), released after idleSeconds without events, open WebSockets or pending timers, and rebuilt by
// the next event with fresh module state and the same storage. Whether a server holds an isolate is
// read from the admin API (`isolates`), which asks no isolate anything, so watching it never counts as
// an event. Time limits are generous: a first storage call opens the store, which a busy machine makes slow.

const ADMIN_LINE = /webdat: admin listening on (http:\/\/\S+)/;
const IDLE_SECONDS = 1;

const source = `
let starts = 0;
let hits = 0;
export function onServerStart(w) {
  starts++;
  console.log('onServerStart of ' + w.name);
}
export async function onHTTPRequest(w, req, res) {
  hits++;
  switch (req.uri) {
    case '/put': await w.storage.put('kept', req.pars.v); res.data = 'stored'; return;
    case '/get': res.data = String(await w.storage.get('kept')); return;
    case '/timer': setTimeout(() => {}, Number(req.pars.ms)); res.data = 'armed'; return;
  }
  res.data = JSON.stringify({ starts, hits });
}
export function onWebSocketReceiveText(w, client, text) {
  hits++;
  w.webSocketSendText(client, JSON.stringify({ starts, hits }));
}
`;

const names = ['first', 'released', 'socket', 'timer'];
const dir = tempDir({
  'callbacks.js': source,
  'webdat.json': JSON.stringify({
    // "first" is never released while the test looks at it; the others are after IDLE_SECONDS.
    servers: names.map((name) => ({ name, host: '127.0.0.1', port: 0, callbacks: 'callbacks.js', limits: { idleSeconds: name === 'first' ? 600 : IDLE_SECONDS, timeoutMs: 10_000 } })),
    admin: { host: '127.0.0.1', port: 0 },
  }),
});
const w: Running = await startWebdat(['--config', path.join(dir, 'webdat.json')], { expectServers: names.length });
const admin = ADMIN_LINE.exec(await w.waitFor(ADMIN_LINE))![1];
after(() => w.stop());

const url = (name: string, p: string) => w.urls.get(name)! + p;

async function state(name: string): Promise<{ starts: number; hits: number }> {
  const r = await fetch(url(name, '/'));
  assert.equal(r.status, 200);
  return await r.json() as { starts: number; hits: number };
}

async function isolates(name: string): Promise<number> {
  const r = await fetch(`${admin}/servers/${name}`);
  assert.equal(r.status, 200);
  return ((await r.json()) as { isolates: number }).isolates;
}

/** Polls the admin API (bounded) until the server holds `n` isolates. */
async function untilIsolates(name: string, n: number, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const now = await isolates(name);
    if (now === n) return;
    if (Date.now() > until) assert.fail(`server "${name}" still holds ${now} isolates after ${ms} ms (expected ${n})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('no isolate and no onServerStart until the first event; onServerStart runs then, once', async () => {
  assert.equal(await isolates('first'), 0);
  assert.doesNotMatch(w.stdout() + w.stderr(), /onServerStart of first/);
  assert.deepEqual(await state('first'), { starts: 1, hits: 1 });
  await w.waitFor(/onServerStart of first/);
  assert.equal(await isolates('first'), 1);
  assert.deepEqual(await state('first'), { starts: 1, hits: 2 });
  const metrics = await (await fetch(`${admin}/metrics`)).text();
  assert.match(metrics, /^webdat_isolates\{server="first"\} 1$/m);
  assert.match(metrics, /^webdat_isolates\{server="timer"\} 0$/m);
});

test('released when idle: module state starts afresh at the next event, storage stays', async () => {
  assert.equal((await (await fetch(url('released', '/put?v=survives'))).text()), 'stored');
  await untilIsolates('released', 0);
  assert.deepEqual(await state('released'), { starts: 1, hits: 1 });
  assert.equal(await (await fetch(url('released', '/get'))).text(), 'survives');
  // the rebuilt isolate ran onServerStart again, in a fresh module
  await w.waitFor(/onServerStart of released[\s\S]*onServerStart of released/);
});

test('an open WebSocket keeps the isolate; it is released once the socket closes', async () => {
  const c = await connect(url('socket', '/').replace('http', 'ws'));
  c.ws.send('a');
  assert.deepEqual(JSON.parse(String(await c.next())), { starts: 1, hits: 1 });
  // Three idle periods without an event: a server without the socket would have been released.
  await sleep(3 * IDLE_SECONDS * 1000);
  assert.equal(await isolates('socket'), 1);
  c.ws.send('b');
  assert.deepEqual(JSON.parse(String(await c.next())), { starts: 1, hits: 2 });
  c.ws.close();
  await c.closed;
  await untilIsolates('socket', 0);
});

test('a pending timer keeps the isolate; it is released after the timer fired and the server idled', async () => {
  // The timer keeps the isolate for 8 s, the check comes after 2.5 s: a margin for a busy machine.
  assert.equal(await (await fetch(url('timer', '/timer?ms=8000'))).text(), 'armed');
  await sleep(2500);
  assert.equal(await isolates('timer'), 1);
  assert.deepEqual(await state('timer'), { starts: 1, hits: 2 });
  await untilIsolates('timer', 0);
  assert.deepEqual(await state('timer'), { starts: 1, hits: 1 });
});

test('a syntax error is refused at start (exit 2); an error of top-level code shows at the first event', async () => {
  const broken = tempDir({
    'syntax.js': 'export function onHTTPRequest( {',
    'throws.js': 'throw new Error("top-level boom");\nexport function onHTTPRequest(w, req, res) { res.data = "never"; }',
    'bad.json': JSON.stringify({ servers: [{ name: 'bad', host: '127.0.0.1', port: 0, callbacks: 'syntax.js', limits: { idleSeconds: 5 } }] }),
    'late.json': JSON.stringify({ servers: [{ name: 'late', host: '127.0.0.1', port: 0, callbacks: 'throws.js', limits: { idleSeconds: 5 } }] }),
  });
  const r = await runWebdatExpectingExit(['serve', '--config', path.join(broken, 'bad.json')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /SyntaxError/);
  const late = await startWebdat(['--config', path.join(broken, 'late.json')]);
  try {
    const res = await fetch(late.url + '/');
    assert.equal(res.status, 500);
    assert.equal(res.headers.get('x-webdat-error'), 'exception');
    await late.waitFor(/top-level boom/);
  } finally {
    assert.equal(await late.stop(), 0);
  }
});

test('idleSeconds is validated', async () => {
  const d = tempDir({ 'webdat.json': JSON.stringify({ servers: [{ name: 'x', port: 0, limits: { idleSeconds: 0 } }] }) });
  const r = await runWebdatExpectingExit(['serve', '--config', path.join(d, 'webdat.json')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /servers\[0\]\.limits\.idleSeconds/);
});
