import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startWebdat, tempDir } from './helpers/webdat.ts';
import { connect } from './helpers/ws.ts';

// SPEC §5 and issue 4: a worker thread that exits, and an engine process that V8 kills.

const counter = (name: string) => `let n = 0;\nexport function onHTTPRequest(w, req, res) { res.data = '${name} ' + (++n); return res; }\n`;

function config(dir: string, servers: object[], extra: object = {}): string {
  const file = path.join(dir, 'webdat.json');
  fs.writeFileSync(file, JSON.stringify({ servers, ...extra }));
  return file;
}

test('a worker thread that exits: its events get 503, it is replaced with its isolates, the other worker never notices', async () => {
  const dir = tempDir({
    'a.js': `let n = 0;
export async function onHTTPRequest(w, req, res) {
  if (req.uri === '/hang') { console.log('hanging'); await new Promise(() => {}); }
  res.data = 'a ' + (++n);
  return res;
}
`,
    'b.js': counter('b'),
  });
  const file = config(dir, [
    { name: 'a', port: 0, host: '127.0.0.1', callbacks: 'a.js', limits: { timeoutMs: 60000 } },
    { name: 'b', port: 0, host: '127.0.0.1', callbacks: 'b.js' },
  ], { workers: 2 });
  const s = await startWebdat(['--config', file], { expectServers: 2, env: { WEBDAT_TEST_FAULTS: '1' } });
  try {
    const a = s.urls.get('a')!;
    const b = s.urls.get('b')!;
    assert.equal(await (await fetch(a)).text(), 'a 1');
    assert.equal(await (await fetch(b)).text(), 'b 1');
    const hanging = fetch(`${a}/hang`);
    await s.waitFor(/hanging/);
    const fault = await fetch(a, { headers: { 'x-webdat-test-fault': 'exit' } });
    assert.equal(fault.status, 503);
    assert.equal(fault.headers.get('x-webdat-error'), 'canceled');
    const lost = await hanging;
    assert.equal(lost.status, 503, 'an event in flight on the lost thread is answered');
    assert.equal(lost.headers.get('x-webdat-error'), 'canceled');
    const bodies = [];
    for (let i = 2; i <= 20; i++) bodies.push(await (await fetch(b)).text());
    assert.deepEqual(bodies, Array.from({ length: 19 }, (_, i) => `b ${i + 2}`), 'server b kept its isolate and its state');
    const again = await fetch(a);
    assert.equal(again.status, 200);
    assert.match(await again.text(), /^a \d+$/, 'server a serves again from a rebuilt isolate');
    assert.match(s.stderr(), /worker thread lost/);
    assert.equal(s.proc.exitCode, null, 'the engine process survived');
  } finally {
    await s.stop();
  }
});

test('after a worker thread is lost, the rebuilt isolate still reaches the WebSocket connections that stayed open', async () => {
  const dir = tempDir({
    'a.js': counter('a') + `export function onWebSocketReceiveText(w, client, data) { w.webSocketSendText(client, 'echo ' + data); }\n`,
  });
  // A generous time limit: on a loaded machine even a trivial callback can miss the default 100 ms.
  const s = await startWebdat(['--callbacks', path.join(dir, 'a.js'), '--port', '0', '--host', '127.0.0.1', '--timeout-ms', '10000'], { env: { WEBDAT_TEST_FAULTS: '1' } });
  try {
    const ws = await connect(s.url.replace('http', 'ws'));
    ws.ws.send('one');
    assert.equal(await ws.next(), 'echo one');
    const fault = await fetch(s.url, { headers: { 'x-webdat-test-fault': 'exit' } });
    assert.equal(fault.headers.get('x-webdat-error'), 'canceled');
    await s.waitFor(/worker thread lost/);
    assert.equal(await (await fetch(s.url)).text(), 'a 1', 'a fresh isolate on the replacement thread');
    ws.ws.send('two');
    assert.equal(await ws.next(), 'echo two', 'the connection opened before the loss is still known to the isolate');
    ws.ws.close();
  } finally {
    await s.stop();
  }
});

test('a WebSocket event lost with its worker thread closes its connection with 1011; connections with nothing in flight stay open', async () => {
  const dir = tempDir({
    'a.js': counter('a') + `export async function onWebSocketReceiveText(w, client, data) {
  if (data === 'hang') { console.log('hanging on ' + data); await new Promise(() => {}); }
  w.webSocketSendText(client, 'echo ' + data);
}
`,
  });
  const s = await startWebdat(['--callbacks', path.join(dir, 'a.js'), '--port', '0', '--host', '127.0.0.1', '--timeout-ms', '60000'], { env: { WEBDAT_TEST_FAULTS: '1' } });
  try {
    const url = s.url.replace('http', 'ws');
    const waiting = await connect(url);
    const idle = await connect(url);
    idle.ws.send('one');
    assert.equal(await idle.next(), 'echo one');
    waiting.ws.send('hang');
    await s.waitFor(/hanging on hang/);
    const fault = await fetch(s.url, { headers: { 'x-webdat-test-fault': 'exit' } });
    assert.equal(fault.headers.get('x-webdat-error'), 'canceled');
    const bounded = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the connection whose message was lost stayed open')), 20_000).unref());
    const closed = await Promise.race([waiting.closed, bounded]);
    assert.equal(closed.code, 1011, 'its message will never be answered: the client is told so');
    assert.equal(closed.reason, 'Worker Lost');
    idle.ws.send('two');
    assert.equal(await idle.next(), 'echo two', 'a connection with nothing in flight stays open and is served by the rebuilt isolate');
    assert.equal((s.stderr().match(/worker thread lost/g) ?? []).length, 1, 'one loss, reported once');
    idle.ws.close();
  } finally {
    await s.stop();
  }
});

test('the fault switch is off unless tests enable it', async () => {
  const dir = tempDir({ 'a.js': counter('a') });
  const s = await startWebdat(['--callbacks', path.join(dir, 'a.js'), '--port', '0', '--host', '127.0.0.1'], { env: { WEBDAT_TEST_FAULTS: '' } });
  try {
    const r = await fetch(s.url, { headers: { 'x-webdat-test-fault': 'exit' } });
    assert.equal(await r.text(), 'a 1');
    assert.equal(await (await fetch(s.url)).text(), 'a 2');
  } finally {
    await s.stop();
  }
});

test('an engine killed by one huge allocation is brought back; after three deaths that server stays inactive', async () => {
  const dir = tempDir({
    'bomb.js': `export function onHTTPRequest(w, req, res) { if (req.uri === '/boom') new Array(6e7).fill(0); res.data = 'bomb ok'; return res; }\n`,
    'calm.js': counter('calm'),
  });
  const file = config(dir, [
    // A time limit far above the supervisor's 10 s hang bound: on a slow machine the allocation must
    // end in a death (V8's, or the supervisor's kill), never in a 503 timeout.
    { name: 'bomb', port: 0, host: '127.0.0.1', callbacks: 'bomb.js', limits: { timeoutMs: 60000 } },
    { name: 'calm', port: 0, host: '127.0.0.1', callbacks: 'calm.js' },
  ]);
  const s = await startWebdat(['--config', file], { expectServers: 2 });
  const ready = (name: string) => new RegExp(`server "${name}" listening on (http://\\S+)`, 'g');
  const latest = (name: string) => [...s.stdout().matchAll(ready(name))].map((m) => m[1]);
  try {
    for (let death = 1; death <= 3; death++) {
      const bomb = latest('bomb').at(-1)!;
      await fetch(`${bomb}/boom`).then(() => assert.fail('the engine answered a request that should have killed it'), () => {});
      await s.waitFor(new RegExp(`(engine died[^\\n]*"bomb"[^\\n]*\\n[\\s\\S]*){${death}}`), 60_000);
      // Ports are chosen afresh by the new engine (port 0); wait for its readiness lines.
      while (latest('calm').length < death + 1) await new Promise((r) => setTimeout(r, 20));
      const calm = latest('calm').at(-1)!;
      assert.equal(await (await fetch(calm)).text(), 'calm 1', 'calm serves again, in a new engine');
      if (death < 3) {
        while (latest('bomb').length < death + 1) await new Promise((r) => setTimeout(r, 20));
        assert.equal(await (await fetch(latest('bomb').at(-1)!)).text(), 'bomb ok');
      }
    }
    await s.waitFor(/server "bomb" brought the engine down 3 times/);
    await s.waitFor(/"server":"bomb".*server left inactive/);
    assert.equal(latest('bomb').length, 3, 'the fourth engine did not start bomb');
    assert.equal(await (await fetch(latest('calm').at(-1)!)).text(), 'calm 2');
  } finally {
    await s.stop();
  }
});
