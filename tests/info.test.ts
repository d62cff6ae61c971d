import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createEngine } from '../packages/engine/dist/index.js';
import { tempDir } from './helpers/webdat.ts';
import { connect } from './helpers/ws.ts';

// The info channels and counters (SPEC §3) move as events happen, seen from both sides.
const dir = tempDir({
  'cb.js': `
export function onHTTPRequest(w, req, res) {
  if (req.uri === '/info') { res.data = JSON.stringify(w.info); return; }
  if (req.uri === '/throw') throw new Error('x');
  if (req.uri === '/loop') for (;;) {}
  if (req.uri === '/bomb') { const a = []; for (;;) a.push(new Array(1e5).fill(1)); }
  if (req.uri === '/work') { let x = 0; for (let i = 0; i < 2e6; i++) x += i; res.data = String(x); return; }
  res.data = 'x'.repeat(1000);
}
`,
});
// A 32 MB isolate takes 0.7–2.6 s of GC to be disposed for memory here, more on a busy machine: the
// time limit leaves '/bomb' no way to end as a timeout instead.
const logger = pino({ level: 'silent' }, new Writable({ write(_c, _e, cb) { cb(); } }));
const engine = createEngine({ servers: [{ name: 'info', host: '127.0.0.1', port: 0, callbacks: path.join(dir, 'cb.js'), limits: { memoryMb: 32, timeoutMs: 15_000 } }] }, { logger, announce: () => {} });
await engine.start();
const server = engine.server('info');
after(() => engine.stop());
const base = () => `http://127.0.0.1:${server.port}`;
const get = async (p: string, init?: RequestInit) => { const r = await fetch(base() + p, init); await r.arrayBuffer(); return r.status; };

test('counters for requests, errors by kind, bytes, heap and CPU time', async () => {
  const before = server.info();
  assert.equal(before.server_running, 1);
  assert.equal(await get('/'), 200);
  assert.equal(await get('/', { method: 'POST', body: 'y'.repeat(500) }), 200);
  assert.equal(await get('/throw'), 500);
  assert.equal(await get('/work'), 200);
  const after1 = server.info();
  assert.equal(after1.requests, before.requests + 4);
  assert.equal(after1.errors_exception, before.errors_exception + 1);
  assert.ok(after1.bytes_in >= before.bytes_in + 500);
  assert.ok(after1.bytes_out >= before.bytes_out + 2000);
  assert.ok(after1.cpu_time_ms > before.cpu_time_ms, 'CPU time did not move');
  assert.ok(after1.isolate_heap_bytes > 0);
});

test('timeouts and memory restarts are counted', async () => {
  const strict = createEngine({ servers: [{ name: 'strict', host: '127.0.0.1', port: 0, callbacks: path.join(dir, 'cb.js'), limits: { memoryMb: 32, timeoutMs: 50 } }] }, { logger, announce: () => {} });
  await strict.start();
  try {
    const s = strict.server('strict');
    const url = `http://127.0.0.1:${s.port}`;
    await (await fetch(url + '/loop')).text();
    assert.equal(s.info().errors_timeout, 1);
    assert.equal(s.info().timeouts, 1);
  } finally {
    await strict.stop();
  }
  assert.equal(await get('/bomb'), 503);
  assert.equal(await get('/'), 200);
  const i = server.info();
  assert.equal(i.memory_restarts, 1);
  assert.equal(i.errors_memory, 1);
});

test('webServer.info inside callbacks and websocket_connections', async () => {
  const c = await connect(`ws://127.0.0.1:${server.port}/`);
  const fromInside = await (await fetch(base() + '/info')).json();
  assert.equal(fromInside.server_running, 1);
  assert.equal(fromInside.websocket_connections, 1);
  assert.ok(fromInside.requests >= 6);
  assert.equal(server.info().websocket_connections, 1);
  c.ws.close();
  await c.closed;
  for (const until = Date.now() + 10_000; server.info().websocket_connections !== 0 && Date.now() < until;) await new Promise((r) => setTimeout(r, 10));
  assert.equal(server.info().websocket_connections, 0);
});
