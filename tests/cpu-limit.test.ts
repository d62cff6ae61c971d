import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { runWebdatExpectingExit, serveConfig, tempDir, type Running } from './helpers/webdat.ts';

// SPEC §5 limits.cpuMs: the CPU an invocation's code may burn, summed over its synchronous stretches
// (awaiting does not count), apart from the wall-clock timeoutMs. Busy loops here spin on Date.now,
// so the CPU they take is at most their wall time: every "over the limit" case spins far longer in
// total than the limit (a slow, shared machine only makes it take longer), and every "within the
// limit" case stays far below it.

const source = `
function spin(ms) { const end = Date.now() + ms; while (Date.now() < end) {} }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export async function onHTTPRequest(w, req, res) {
  const n = Number(req.pars.n ?? 0), ms = Number(req.pars.ms ?? 0), wait = Number(req.pars.wait ?? 0);
  switch (req.uri) {
    case '/spin': spin(ms); res.data = 'spun'; return;
    case '/sleep': await sleep(wait); res.data = 'slept'; return;
    case '/stretches': for (let i = 0; i < n; i++) { spin(ms); await sleep(wait); } res.data = 'done ' + n; return;
    case '/timer-spin': setTimeout(() => spin(ms), 0); res.data = 'armed'; return;
    case '/info': res.data = JSON.stringify(w.info); return;
  }
  res.data = 'ok';
}
`;

const server = await serveConfig(source, { limits: { timeoutMs: 20_000, cpuMs: 150 } });
after(() => server.stop());

async function get(s: Running, p: string) {
  const t0 = Date.now();
  const r = await fetch(s.url + p);
  return { status: r.status, error: r.headers.get('x-webdat-error'), text: await r.text(), ms: Date.now() - t0 };
}

test('a synchronous stretch over cpuMs is cut long before the wall-clock limit: 503 timeout', async () => {
  const r = await get(server, '/spin?ms=15000');
  assert.equal(r.status, 503);
  assert.equal(r.error, 'timeout');
  assert.ok(r.ms < 10_000, `cut only after ${r.ms} ms`);
  assert.equal((await get(server, '/')).text, 'ok');
});

test('awaiting (a timer here) does not count toward cpuMs', async () => {
  const r = await get(server, '/sleep?wait=1500');
  assert.equal(r.status, 200);
  assert.equal(r.text, 'slept');
  assert.ok(r.ms >= 1500);
});

test('CPU is summed over the stretches of one invocation, code after an await included', async () => {
  // 30 stretches of 50 ms: each alone is within 150 ms, together ten times over it.
  const r = await get(server, '/stretches?n=30&ms=50&wait=1');
  assert.equal(r.status, 503);
  assert.equal(r.error, 'timeout');
  // The same shape with a little CPU per stretch finishes.
  assert.equal((await get(server, '/stretches?n=10&ms=1&wait=5')).text, 'done 10');
});

test('a timer callback is an invocation of its own with its own CPU budget', async () => {
  const before = JSON.parse((await get(server, '/info')).text).errors_timeout;
  assert.equal((await get(server, '/timer-spin?ms=15000')).text, 'armed');
  const end = Date.now() + 10_000;
  while (JSON.parse((await get(server, '/info')).text).errors_timeout === before) {
    assert.ok(Date.now() < end, 'the spinning timer callback was never cut');
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal((await get(server, '/')).text, 'ok');
});

test('cpuMs defaults to min(timeoutMs, 1000)', async () => {
  const s = await serveConfig(source, { limits: { timeoutMs: 30_000 } });
  try {
    const r = await get(s, '/spin?ms=20000');
    assert.equal(r.status, 503);
    assert.equal(r.error, 'timeout');
    assert.ok(r.ms < 15_000, `cut only after ${r.ms} ms`);
  } finally {
    await s.stop();
  }
});

test('cpuMs above 60000 and timeoutMs above 600000 are refused at start (exit 2, naming the key)', async () => {
  for (const [limits, key] of [[{ cpuMs: 60_001 }, 'servers[0].limits.cpuMs'], [{ timeoutMs: 600_001 }, 'servers[0].limits.timeoutMs']] as const) {
    const dir = tempDir({ 'cb.js': 'export function onHTTPRequest() {}', 'webdat.json': JSON.stringify({ servers: [{ name: 'a', port: 0, callbacks: 'cb.js', limits }] }) });
    const r = await runWebdatExpectingExit(['serve', '--config', path.join(dir, 'webdat.json')], { ms: 90_000 });
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(key.replace(/[[\].]/g, '\\$&')));
  }
});
