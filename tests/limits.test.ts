import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startWebdat, tempDir, serveSource } from './helpers/webdat.ts';
import { chunkedUpload } from './helpers/raw-http.ts';

// Every limit of SPEC §5, provoked through a real server.
const server = await serveSource(`
let counter = 0;
let calls = 0;
export function onHTTPRequest(webServer, request, response) {
  calls++;
  switch (request.uri) {
    case '/count': counter++; response.data = String(counter); return;
    case '/loop': for (;;) {}
    case '/microtask-loop': return (async () => { for (;;) await null; })();
    case '/never': return new Promise(() => {});
    case '/calls': response.data = String(calls); return;
    case '/async': return (async () => { await null; await null; response.data = 'async done'; })();
    case '/busy-20': { const end = Date.now() + 20; while (Date.now() < end) {} response.data = 'done'; return; }
  }
  response.data = 'ok';
}
`);
after(() => server.stop());

async function get(p: string, init?: RequestInit) {
  const r = await fetch(server.url + p, init);
  return { status: r.status, error: r.headers.get('x-webdat-error'), retryAfter: r.headers.get('retry-after'), text: await r.text() };
}

test('an infinite loop is cut: 503 timeout, and the same isolate keeps its state', async () => {
  const before = Number((await get('/count')).text);
  const r = await get('/loop');
  assert.equal(r.status, 503);
  assert.equal(r.error, 'timeout');
  assert.equal(Number((await get('/count')).text), before + 1, 'module state was lost');
});

test('a microtask loop is cut too', async () => {
  const r = await get('/microtask-loop');
  assert.equal(r.status, 503);
  assert.equal(r.error, 'timeout');
  assert.equal((await get('/')).status, 200);
});

test('a promise that never settles is answered 503 timeout', async () => {
  const r = await get('/never');
  assert.equal(r.status, 503);
  assert.equal(r.error, 'timeout');
  assert.equal((await get('/')).text, 'ok');
});

test('a memory bomb is answered 503 memory, the isolate is recreated and state is reset', async () => {
  // The longest time and CPU limits allowed: the heap limit is what stops the bomb however loaded the machine,
  // and the server must not then rest for its time limit (10 minutes) before its next request.
  const s = await serveSource(`
let counter = 0;
export function onHTTPRequest(w, req, res) {
  if (req.uri === '/bomb') { const keep = []; for (;;) keep.push(new Array(1e5).fill(counter)); }
  counter++;
  res.data = String(counter);
}`, ['--memory-mb', '32', '--timeout-ms', '600000', '--cpu-ms', '60000']);
  try {
    const at = (p: string) => fetch(s.url + p).then(async (r) => ({ status: r.status, error: r.headers.get('x-webdat-error'), text: await r.text() }));
    assert.equal((await at('/')).text, '1');
    assert.equal((await at('/')).text, '2');
    const r = await at('/bomb');
    assert.equal(r.status, 503);
    assert.equal(r.error, 'memory');
    assert.equal((await at('/')).text, '1', 'module state should restart from the file');
    await s.waitFor(/memory limit/);
  } finally {
    await s.stop();
  }
});

test('requests queued behind a cut call are all answered', async () => {
  const results = await Promise.all([get('/loop'), get('/'), get('/'), get('/never'), get('/')]);
  assert.deepEqual(results.map((r) => r.status), [503, 200, 200, 503, 200]);
});

test('an async request that shares a batch with a runaway loop is still answered', async () => {
  const [a, loop] = await Promise.all([get('/async'), get('/loop')]);
  assert.equal(a.text, 'async done');
  assert.equal(loop.error, 'timeout');
});

test('--timeout-ms sets the limit', async () => {
  const strict = await serveSource(`export function onHTTPRequest(w, req, res) { const end = Date.now() + 60; while (Date.now() < end) {} res.data = 'done'; }`, ['--timeout-ms', '20']);
  try {
    const r = await fetch(strict.url + '/');
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('x-webdat-error'), 'timeout');
  } finally {
    await strict.stop();
  }
  // 20 ms of work leaves the default 100 ms a wide margin for a busy machine; the 20 ms limit above never passes 60.
  assert.equal((await get('/busy-20')).text, 'done', 'the default 100 ms allows 20 ms of work');
});

function configServer(limits: Record<string, number>, source: string) {
  const dir = tempDir({ 'cb.js': source });
  const file = path.join(dir, 'webdat.json');
  fs.writeFileSync(file, JSON.stringify({ servers: [{ name: 'limited', host: '127.0.0.1', port: 0, callbacks: 'cb.js', limits }] }));
  return startWebdat(['--config', file]);
}

test('a body over limits.maxBodyBytes is answered 413 before any callback runs', async () => {
  const s = await configServer({ maxBodyBytes: 1024 }, `let calls = 0; export function onHTTPRequest(w, req, res) {
    if (req.uri === '/info') { res.data = JSON.stringify(w.info); return; }
    calls++; res.data = String(calls);
  }`);
  try {
    const big = await fetch(s.url + '/', { method: 'POST', body: 'x'.repeat(1025) });
    assert.equal(big.status, 413);
    assert.equal(big.headers.get('x-webdat-error'), 'body-too-large');
    const chunked = await chunkedUpload(s.port, 'POST / HTTP/1.1\r\nHost: x\r\n', 1025);
    assert.equal(chunked.status, 413, chunked.headers);
    assert.match(chunked.headers, /\r\nx-webdat-error: body-too-large\r\n/);
    const ok = await fetch(s.url + '/', { method: 'POST', body: 'x'.repeat(1024) });
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), '1', 'the callback ran for an oversized body');
    assert.equal((await (await fetch(s.url + '/info')).json()).body_too_large, 2);
  } finally {
    await s.stop();
  }
});

test('onServerStart still running does not count against limits.maxQueue', async () => {
  const s = await configServer({ maxQueue: 1, timeoutMs: 1000 }, `export function onServerStart() { const end = Date.now() + 300; while (Date.now() < end) {} }
export function onHTTPRequest(w, req, res) { res.data = 'served'; }`);
  try {
    const r = await fetch(s.url + '/');
    assert.equal(r.status, 200, `answered ${r.status} ${r.headers.get('x-webdat-error')}`);
    assert.equal(await r.text(), 'served');
  } finally {
    await s.stop();
  }
});

test('more than limits.maxQueue pending events are answered 503 overloaded with Retry-After', async () => {
  const s = await configServer({ maxQueue: 2, timeoutMs: 1000 }, `export function onHTTPRequest(w, req, res) { const end = Date.now() + 40; while (Date.now() < end) {} res.data = 'slow'; }`);
  try {
    const all = await Promise.all(Array.from({ length: 12 }, () => fetch(s.url + '/').then(async (r) => ({ status: r.status, error: r.headers.get('x-webdat-error'), retry: r.headers.get('retry-after'), body: await r.text() }))));
    const over = all.filter((r) => r.status === 503);
    const ok = all.filter((r) => r.status === 200);
    assert.ok(over.length > 0, 'no request was refused');
    assert.ok(ok.length >= 2, `queued requests were not served: ${JSON.stringify(all.map((r) => [r.status, r.error]))}`);
    for (const r of over) { assert.equal(r.error, 'overloaded'); assert.equal(r.retry, '1'); }
    for (const r of ok) assert.equal(r.body, 'slow');
  } finally {
    await s.stop();
  }
});
