import { test, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startWebdat, tempDir, type Running } from './helpers/webdat.ts';
import { connect, type Client } from './helpers/ws.ts';
import { attack } from './helpers/attacker.ts';

// What a tenant makes the engine do is budgeted (SPEC §5): WebSocket output per invocation (a
// broadcast counted once per recipient), response headers, log lines and bytes per second. Each
// budget is provoked exactly on servers with small limits; then the attacks of issue 9 run against a
// server with the defaults while a quiet server beside it, on the same worker, is probed.

const ADMIN_LINE = /webdat: admin listening on (http:\/\/\S+)/;

const tight = `
function sizes(req) { return String(req.pars.sizes).split(',').map(Number); }
function text(n) { return 'a'.repeat(n); }
export function onHTTPRequest(w, req, res) {
  switch (req.uri) {
    case '/info': res.data = JSON.stringify(w.info); return;
    case '/send': for (const n of sizes(req)) for (const c of w.webSocketConnections) w.webSocketSendText(c, text(n)); res.data = 'sent'; return;
    case '/send-catch':
      for (const n of sizes(req)) for (const c of w.webSocketConnections) { try { w.webSocketSendText(c, text(n)); } catch {} }
      return { statusCode: 200, data: 'swallowed' };
    case '/send-async': return (async () => { await null; for (const n of sizes(req)) for (const c of w.webSocketConnections) w.webSocketSendText(c, text(n)); res.data = 'sent'; })();
    case '/broadcast': w.webSocketBroadcastText(text(Number(req.pars.size))); res.data = 'sent'; return;
    case '/headers': for (let i = 0; i < Number(req.pars.n); i++) res['x-h-' + i] = String(i); res.data = 'headers'; return;
    case '/header-bytes': res.x = 'v'.repeat(Number(req.pars.size) - 1); res.data = 'bytes'; return;
  }
  res.data = 'ok';
}
export function onWebSocketReceiveText(w, client, msg) {
  if (msg === 'flood') { w.webSocketSendText(client, text(600)); w.webSocketSendText(client, text(600)); }
  else w.webSocketSendText(client, 're:' + msg);
}
`;

const logs = `
export function onHTTPRequest(w, req, res) {
  if (req.uri === '/info') { res.data = JSON.stringify(w.info); return; }
  const n = Number(req.pars.n), size = Number(req.pars.size);
  for (let i = 0; i < n; i++) console.log((req.pars.tag + String(i).padStart(3, '0')).padEnd(size, '.'));
  res.data = 'logged';
}
`;

const loud = `
const mib = 'x'.repeat(1 << 20);
const mb = 'y'.repeat(1e6);
const kb = 'z'.repeat(1024);
const line = 'l'.repeat(16 * 1024);
export function onHTTPRequest(w, req, res) {
  switch (req.uri) {
    case '/info': res.data = JSON.stringify(w.info); return;
    case '/broadcast-mib': for (let i = 0; i < 1500; i++) w.webSocketBroadcastText(mib); return;
    case '/headers': res.headers = { x: new Array(200000).fill('v') }; return;
    case '/log-flood': for (let i = 0; i < 1000; i++) console.log(line); res.data = 'logged'; return;
  }
  res.data = 'loud';
}
export function onWebSocketReceiveText(w, client, msg) {
  if (msg === 'flood') for (let i = 0; i < 2000; i++) w.webSocketSendText(client, mb);
  if (msg === 'marker') w.webSocketSendText(client, 'ack');
  if (msg === 'storm') for (let i = 0; i < 2000; i++) w.webSocketBroadcastText(kb);
}
`;

const dir = tempDir({
  'tight.js': tight, 'logs.js': logs, 'loud.js': loud,
  'quiet.js': `export function onHTTPRequest(w, req, res) { res.data = 'quiet'; }`,
  'webdat.json': JSON.stringify({
    servers: [
      { name: 'tight', host: '127.0.0.1', port: 0, callbacks: 'tight.js', limits: { maxOutputBytes: 1000, maxHeaders: 10, maxHeaderBytes: 1024, maxBodyBytes: 1024 } },
      { name: 'lines', host: '127.0.0.1', port: 0, callbacks: 'logs.js', limits: { logLinesPerSecond: 5 } },
      { name: 'bytes', host: '127.0.0.1', port: 0, callbacks: 'logs.js', limits: { logBytesPerSecond: 100 } },
      // Limits at their defaults but time: a 200,000-field array must not reach 100 ms on a busy machine.
      { name: 'loud', host: '127.0.0.1', port: 0, callbacks: 'loud.js', limits: { timeoutMs: 2000 } },
      { name: 'quiet', host: '127.0.0.1', port: 0, callbacks: 'quiet.js' },
    ],
    // One worker: the quiet server shares the loud one's worker thread as well as the I/O thread.
    workers: 1,
    admin: { host: '127.0.0.1', port: 0 },
  }),
});
const webdat: Running = await startWebdat(['--config', path.join(dir, 'webdat.json')], { expectServers: 5 });
const admin = ADMIN_LINE.exec(await webdat.waitFor(ADMIN_LINE))![1];
after(() => webdat.stop());

const url = (server: string) => webdat.urls.get(server)!;
const wsUrl = (server: string) => url(server).replace('http', 'ws');

async function get(server: string, p: string) {
  const r = await fetch(url(server) + p);
  return { status: r.status, error: r.headers.get('x-webdat-error'), headers: r.headers, text: await r.text() };
}
async function info(server: string): Promise<Record<string, number>> {
  return JSON.parse((await get(server, '/info')).text);
}

/** Polls (bounded) until the server counted `n` more stopped invocations than `before`; returns the count. */
async function outputErrorsReach(server: string, before: number, n: number): Promise<number> {
  const until = Date.now() + 10_000;
  let now = (await info(server)).errors_output;
  while (now - before < n && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    now = (await info(server)).errors_output;
  }
  return now - before;
}

test('output over limits.maxOutputBytes stops the invocation: 503 output, what was sent before stays sent', async () => {
  const a = await connect(wsUrl('tight'));
  const at = await get('tight', '/send?sizes=1000');
  assert.equal(at.status, 200, 'exactly the budget is allowed');
  assert.equal(at.text, 'sent');
  const over = await get('tight', '/send?sizes=600,600');
  assert.equal(over.status, 503);
  assert.equal(over.error, 'output');
  assert.equal((await get('tight', '/send?sizes=5')).status, 200);
  const got = await a.waitFor(3);
  assert.deepEqual(got.map((m) => m.length), [1000, 600, 5], 'the send over the budget (and nothing after it) was dropped');
  a.ws.close();
  await a.closed;
});

test('a try/catch cannot swallow the breach: later sends throw too, the returned response is ignored', async () => {
  const a = await connect(wsUrl('tight'));
  const r = await get('tight', '/send-catch?sizes=600,600,10');
  assert.equal(r.status, 503);
  assert.equal(r.error, 'output');
  assert.notEqual(r.text, 'swallowed');
  await get('tight', '/send?sizes=5');
  assert.deepEqual((await a.waitFor(2)).map((m) => m.length), [600, 5]);
  a.ws.close();
  await a.closed;
});

test('output of an async callback after an await is budgeted too', async () => {
  const a = await connect(wsUrl('tight'));
  const r = await get('tight', '/send-async?sizes=600,600');
  assert.equal(r.status, 503);
  assert.equal(r.error, 'output');
  await get('tight', '/send?sizes=5');
  assert.deepEqual((await a.waitFor(2)).map((m) => m.length), [600, 5]);
  a.ws.close();
  await a.closed;
});

test('a broadcast counts once per recipient; a WebSocket event over budget is stopped and its connection stays', async () => {
  const clients: Client[] = [];
  for (let i = 0; i < 3; i++) clients.push(await connect(wsUrl('tight')));
  assert.equal((await info('tight')).websocket_connections, 3);
  const over = await get('tight', '/broadcast?size=400');
  assert.equal(over.status, 503, '3 × 400 bytes is over 1000');
  assert.equal(over.error, 'output');
  assert.equal((await get('tight', '/broadcast?size=300')).status, 200, '3 × 300 bytes fits');
  for (const c of clients) assert.deepEqual((await c.waitFor(1)).map((m) => m.length), [300]);

  const [a] = clients;
  a.ws.send('flood');
  a.ws.send('after');
  assert.deepEqual((await a.waitFor(3)).map((m) => (m === 're:after' ? m : m.length)), [300, 600, 're:after']);
  for (const c of clients) { c.ws.close(); await c.closed; }
});

test('more header fields or header bytes than the limits: 500 exception, logged; at the limits: sent', async () => {
  const ten = await get('tight', '/headers?n=10');
  assert.equal(ten.status, 200);
  assert.equal(ten.headers.get('x-h-9'), '9');
  const eleven = await get('tight', '/headers?n=11');
  assert.equal(eleven.status, 500);
  assert.equal(eleven.error, 'exception');
  assert.equal(eleven.headers.get('x-h-0'), null);
  assert.equal((await get('tight', '/header-bytes?size=1024')).status, 200);
  const bytes = await get('tight', '/header-bytes?size=1025');
  assert.equal(bytes.status, 500);
  assert.equal(bytes.error, 'exception');
  await webdat.waitFor(/invalid response: more than limits\.maxHeaders \(10\) header fields/);
  await webdat.waitFor(/invalid response: 1025 bytes of header fields, more than limits\.maxHeaderBytes \(1024\)/);
  const i = await info('tight');
  assert.equal(i.header_budget_breaches, 2);
  assert.equal(i.errors_output, 5, 'one per stopped invocation of the tests above');
});

test('log lines over limits.logLinesPerSecond are dropped and counted, with one summary line', async () => {
  assert.equal((await get('lines', '/?n=50&size=8&tag=line-')).text, 'logged');
  await webdat.waitFor(/45 log lines dropped: over limits\.logLinesPerSecond or limits\.logBytesPerSecond/);
  const written = webdat.stderr().match(/"msg":"line-\d{3}"/g) ?? [];
  assert.deepEqual(written, ['"msg":"line-000"', '"msg":"line-001"', '"msg":"line-002"', '"msg":"line-003"', '"msg":"line-004"']);
  assert.equal((await info('lines')).log_lines_dropped, 45);
});

test('log bytes over limits.logBytesPerSecond are dropped and counted', async () => {
  assert.equal((await get('bytes', '/?n=10&size=30&tag=byte-')).text, 'logged');
  await webdat.waitFor(/7 log lines dropped/);
  assert.equal((webdat.stderr().match(/"msg":"byte-\d{3}\.+"/g) ?? []).length, 3);
  assert.equal((await info('bytes')).log_lines_dropped, 7);
});

test('the counters are in /metrics', async () => {
  assert.equal((await fetch(url('tight') + '/', { method: 'POST', body: 'x'.repeat(1025) })).status, 413);
  const text = await (await fetch(`${admin}/metrics`)).text();
  assert.match(text, /webdat_body_too_large_total\{server="tight"\} 1\n/);
  assert.match(text, /webdat_connections_refused_total\{server="tight"\} 0\n/);
  assert.match(text, /webdat_slow_readers_closed_total\{server="tight"\} 0\n/);
  assert.match(text, /webdat_errors_total\{server="tight",kind="output"\} 5/);
  assert.match(text, /webdat_header_budget_breaches_total\{server="tight"\} 2/);
  assert.match(text, /webdat_log_lines_dropped_total\{server="lines"\} 45/);
  assert.match(text, /webdat_log_lines_dropped_total\{server="bytes"\} 7/);
});

/** Probes the quiet server one request at a time until `during` settles; returns every latency. */
async function probeWhile<T>(during: Promise<T>): Promise<{ result: T; latencies: number[] }> {
  let done = false;
  const finished = during.finally(() => { done = true; });
  const latencies: number[] = [];
  while (!done) {
    const t0 = performance.now();
    const r = await get('quiet', '/');
    assert.equal(r.status, 200);
    assert.equal(r.text, 'quiet');
    latencies.push(performance.now() - t0);
  }
  return { result: await finished, latencies };
}

function assertQuietServed(t: TestContext, latencies: number[]): void {
  assert.ok(latencies.length >= 5, `only ${latencies.length} probes were answered during the attack`);
  const worst = Math.max(...latencies);
  t.diagnostic(`${latencies.length} probes, the slowest ${worst.toFixed(0)} ms`);
  assert.ok(worst < 1000, `the slowest probe took ${worst.toFixed(0)} ms`);
}

const SECONDS = 3;

test('attack: broadcasts of 1 MiB × 1500 per request — each stopped (503 output), the quiet server answers', async (t) => {
  const before = (await info('loud')).errors_output;
  const { result, latencies } = await probeWhile(attack('http', url('loud') + '/broadcast-mib', SECONDS, 2));
  assert.deepEqual(Object.keys(result.statuses!), ['503 output']);
  assert.equal((await info('loud')).errors_output - before, result.statuses!['503 output']);
  assertQuietServed(t, latencies);
});

test('attack: sendText of 1 MB × 2000 per message — each stopped, the quiet server answers', async (t) => {
  const before = (await info('loud')).errors_output;
  const { result, latencies } = await probeWhile(attack('ws-send', wsUrl('loud'), SECONDS, 2));
  assert.ok(result.floods! > 0);
  assert.equal(await outputErrorsReach('loud', before, result.floods!), result.floods);
  assertQuietServed(t, latencies);
});

test('attack: 200,000 response headers — 500 exception, the quiet server answers', async (t) => {
  const { result, latencies } = await probeWhile(attack('http', url('loud') + '/headers', SECONDS, 2));
  assert.deepEqual(Object.keys(result.statuses!), ['500 exception']);
  assertQuietServed(t, latencies);
});

test('attack: a log flood (1,000 lines of 16 KiB per call, two clients) — dropped to the budget, the quiet server answers', async (t) => {
  const before = await info('loud');
  const stderrBefore = webdat.stderr().length;
  const t0 = Date.now();
  const { result, latencies } = await probeWhile(attack('http', url('loud') + '/log-flood', SECONDS, 2));
  const seconds = (Date.now() - t0) / 1000;
  assert.deepEqual(Object.keys(result.statuses!), ['200']);
  assert.ok((await info('loud')).log_lines_dropped - before.log_lines_dropped > 1000);
  // 256 KiB/s of messages (the default logBytesPerSecond) plus one second's burst, plus JSON framing.
  const grown = webdat.stderr().length - stderrBefore;
  assert.ok(grown < (seconds + 1) * 300 * 1024, `the log grew by ${grown} bytes in ${seconds} s`);
  assertQuietServed(t, latencies);
});

test('attack: a broadcast storm (2,000 broadcasts of 1 KiB per message to 200 clients) — stopped at the budget, the quiet server answers', async (t) => {
  const before = (await info('loud')).errors_output;
  const { result, latencies } = await probeWhile(attack('ws-storm', wsUrl('loud'), SECONDS, 200));
  assert.ok(result.storms! > 0 && result.received! > 0);
  assert.equal(await outputErrorsReach('loud', before, result.storms!), result.storms);
  assertQuietServed(t, latencies);
});
