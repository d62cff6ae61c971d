import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startWebdat, tempDir } from './helpers/webdat.ts';

// Issue 4: a server kept in timeouts, memory-limit restarts and overload cannot starve another server.
test('server B answers every request correctly while server A loops, exhausts memory and floods', async () => {
  const dir = tempDir({
    'a.js': `
export function onHTTPRequest(w, req, res) {
  if (req.uri === '/spin') for (;;) {}
  if (req.uri === '/eat') { const hoard = []; for (;;) hoard.push(new Array(1e5).fill(1)); }
  res.data = 'a';
  return res;
}
`,
    'b.js': `let n = 0;\nexport function onHTTPRequest(w, req, res) { res.data = 'b ' + (++n) + ' ' + req.pars.i; return res; }\n`,
  });
  const file = path.join(dir, 'webdat.json');
  fs.writeFileSync(file, JSON.stringify({
    servers: [
      // A 32 MB isolate takes 0.7–2.6 s of GC to be disposed for memory (measured here): a time limit
      // of 100 ms would turn nearly every memory bomb into a timeout.
      { name: 'a', port: 0, host: '127.0.0.1', callbacks: 'a.js', limits: { timeoutMs: 3000, memoryMb: 32, maxQueue: 2 } },
      { name: 'b', port: 0, host: '127.0.0.1', callbacks: 'b.js' },
    ],
  }));
  const s = await startWebdat(['--config', file], { expectServers: 2 });
  const a = s.urls.get('a')!;
  const b = s.urls.get('b')!;
  const seen = new Map<string, number>();
  const hit = async (pathname: string): Promise<string> => {
    const r = await fetch(a + pathname);
    const kind = r.headers.get('x-webdat-error') ?? String(r.status);
    seen.set(kind, (seen.get(kind) ?? 0) + 1);
    await r.arrayBuffer();
    return kind;
  };
  // Each kind of trouble is provoked so that it must happen, not left to how a storm interleaves:
  // 6 loops at once against maxQueue 2 (2 run into the time limit, 4 find the queue full), then a
  // memory bomb alone in A's queue (sent again should a very busy machine turn it into a timeout).
  let attacked = false;
  const attack = (async () => {
    await Promise.all(Array.from({ length: 6 }, () => hit('/spin')));
    for (let tries = 1; (await hit('/eat')) !== 'memory'; tries++) assert.ok(tries < 5, `the memory bomb never broke the memory limit: ${JSON.stringify([...seen])}`);
  })().finally(() => { attacked = true; });
  try {
    for (let i = 1; i <= 200 || !attacked; i++) {
      const r = await fetch(`${b}/?i=${i}`);
      assert.equal(r.status, 200);
      assert.equal(await r.text(), `b ${i} ${i}`);
    }
    await attack;
  } finally {
    await attack.catch(() => undefined);
    await s.stop();
  }
  assert.equal(seen.get('overloaded'), 4, JSON.stringify([...seen]));
  assert.equal(seen.get('memory'), 1, JSON.stringify([...seen]));
  assert.ok((seen.get('timeout') ?? 0) >= 2, JSON.stringify([...seen]));
});

test('servers sharing one worker: a server stuck in timeouts holds it one time limit per turn, the other is answered between turns', async () => {
  const dir = tempDir({
    'a.js': `export function onHTTPRequest(w, req, res) { for (;;) {} }\n`,
    'b.js': `export function onHTTPRequest(w, req, res) { res.data = 'b'; return res; }\n`,
  });
  const file = path.join(dir, 'webdat.json');
  fs.writeFileSync(file, JSON.stringify({
    servers: [
      { name: 'a', port: 0, host: '127.0.0.1', callbacks: 'a.js', limits: { timeoutMs: 100 } },
      { name: 'b', port: 0, host: '127.0.0.1', callbacks: 'b.js' },
    ],
    workers: 1,
  }));
  const s = await startWebdat(['--config', file], { expectServers: 2 });
  try {
    const order: string[] = [];
    let firstAnswer!: () => void;
    const answered = new Promise<void>((r) => { firstAnswer = r; });
    const stuck = Array.from({ length: 10 }, () => fetch(s.urls.get('a')!).then((r) => { order.push(`a ${r.status}`); firstAnswer(); }));
    // Once A's first timeout is answered, nine of its events are still queued; B asks now.
    await answered;
    const b = fetch(s.urls.get('b')!).then(async (r) => { order.push(`b ${await r.text()}`); });
    await Promise.all([...stuck, b]);
    assert.equal(order.filter((o) => o === 'a 503').length, 10);
    assert.ok(order.indexOf('b b') < 5, `B waited behind A's whole queue: ${order.join(', ')}`);
  } finally {
    await s.stop();
  }
});

test('a server that replaces Array.prototype.push to forge its output cannot: the dispatcher owns its built-ins, both servers keep their state', async () => {
  const dir = tempDir({
    'evil.js': `
const push = Array.prototype.push;
let calls = 0;
export function onHTTPRequest(w, req, res) {
  if (req.uri === '/forge') Array.prototype.push = function () { return push.call(this, 99, 'not', 'a command'); };
  if (req.uri === '/forge-ids') Array.prototype.push = function (...a) { return push.call(this, ...a.map((x) => (typeof x === 'number' ? 0.5 : x))); };
  res.data = 'evil ' + (++calls);
  return res;
}
`,
    'counter.js': `let n = 0;\nexport function onHTTPRequest(w, req, res) { res.data = String(++n); return res; }\n`,
  });
  const file = path.join(dir, 'webdat.json');
  fs.writeFileSync(file, JSON.stringify({
    servers: [
      { name: 'evil', port: 0, host: '127.0.0.1', callbacks: 'evil.js' },
      { name: 'good', port: 0, host: '127.0.0.1', callbacks: 'counter.js' },
    ],
    workers: 1,
  }));
  const s = await startWebdat(['--config', file], { expectServers: 2 });
  const evil = s.urls.get('evil')!;
  const good = s.urls.get('good')!;
  try {
    let n = 0;
    let calls = 0;
    for (const forge of ['/forge', '/forge-ids']) {
      for (let i = 0; i < 3; i++) assert.equal(await (await fetch(good)).text(), String(++n));
      const r = await fetch(evil + forge);
      assert.equal(r.status, 200);
      assert.equal(await r.text(), `evil ${++calls}`);
      assert.equal(await (await fetch(good)).text(), String(++n), 'the neighbour lost its module state');
      const again = await fetch(evil);
      assert.equal(again.status, 200);
      assert.equal(await again.text(), `evil ${++calls}`, 'the forging server lost its module state');
    }
    assert.doesNotMatch(s.stdout() + s.stderr(), /could not be read|worker thread lost/);
  } finally {
    await s.stop();
  }
});
