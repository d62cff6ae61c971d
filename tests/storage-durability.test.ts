import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { call, get, kv, processTree, put, serveKv } from './helpers/storage-kv.ts';
import { startWebdat, tempDir } from './helpers/webdat.ts';

// What webServer.storage data outlives (SPEC §8): the isolate (memory-limit breach), the code
// (--watch reload), a restart, the engine's death, a webdat restart and kill -9 of every process.

test('data outlives a memory-limit breach, a --watch reload and an admin restart', async () => {
  // The longest time and CPU limits: the heap limit is what stops the bomb however loaded the machine.
  const dir = tempDir({ 'kv.js': kv() });
  const config = path.join(dir, 'webdat.json');
  fs.writeFileSync(config, JSON.stringify({
    servers: [{ name: 'kv', host: '127.0.0.1', port: 0, callbacks: 'kv.js', limits: { memoryMb: 32, timeoutMs: 600000, cpuMs: 60000 } }],
    admin: { host: '127.0.0.1', port: 0 },
  }));
  const s = await startWebdat(['--config', config, '--watch']);
  try {
    await put(s.url, 'kept', { n: 1 });
    assert.equal((await call(s.url, '/')).life, 2);

    const bomb = await call(s.url, '/bomb');
    assert.equal(bomb.status, 503);
    assert.equal(bomb.error, 'memory');
    const after = await call(s.url, '/get/kept');
    assert.equal(after.life, 1, 'the isolate was rebuilt');
    assert.deepEqual(JSON.parse(after.text), { n: 1 });

    fs.writeFileSync(path.join(dir, 'kv.js'), kv('v2'));
    for (let i = 0; (await call(s.url, '/')).version !== 'v2'; i++) {
      assert.ok(i < 400, 'the reload was not picked up');
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.deepEqual(await get(s.url, 'kept'), { n: 1 });
    await put(s.url, 'kept', { n: 2 });

    const admin = /webdat: admin listening on (http:\/\/\S+)/.exec(await s.waitFor(/webdat: admin listening on http:\/\/\S+/))![1];
    const restarted = await fetch(admin + '/servers/kv/restart', { method: 'POST' });
    assert.equal(restarted.status, 200);
    const { port } = await restarted.json() as { port: number };
    const base = `http://127.0.0.1:${port}`;
    const read = await call(base, '/get/kept');
    assert.deepEqual(JSON.parse(read.text), { n: 2 });
    assert.equal(read.version, 'v2');
  } finally {
    await s.stop();
  }
});

test('data outlives the engine\'s death right after an acknowledged put', async () => {
  const s = await serveKv();
  const ready = /server "default" listening on (http:\/\/\S+)/g;
  const latest = () => [...s.stdout().matchAll(ready)].map((m) => m[1]);
  try {
    // the engine dies as V8 would kill it (tests/faults.test.ts provokes that), here at a chosen moment
    const [supervisor, ...engine] = processTree(s.proc.pid!);
    assert.equal(supervisor, s.proc.pid);
    assert.ok(engine.length >= 1, 'an engine process');
    await put(s.url, 'before-death', 'acknowledged');
    for (const pid of engine) process.kill(pid, 'SIGKILL');
    await s.waitFor(/engine died \(SIGKILL\)/);
    for (let i = 0; latest().length < 2; i++) {
      assert.ok(i < 1000, 'no new engine');
      await new Promise((r) => setTimeout(r, 20));
    }
    const read = await call(latest().at(-1)!, '/get/before-death');
    assert.equal(read.text, '"acknowledged"');
    assert.equal(read.life, 1, 'served by a new engine');
    assert.equal(s.proc.exitCode, null, 'the supervisor stayed');
  } finally {
    await s.stop();
  }
});

test('data outlives a webdat restart and kill -9 of every webdat process right after acknowledged puts', async () => {
  const first = await serveKv();
  const { dataDir } = first;
  try {
    await put(first.url, 'across-restart', 'one');
  } finally {
    assert.equal(await first.stop(), 0);
  }

  const second = await serveKv({ dataDir });
  try {
    assert.equal(await get(second.url, 'across-restart'), 'one');
    const pids = processTree(second.proc.pid!);
    assert.ok(pids.length >= 2, `a supervisor and an engine: ${pids.join(',')}`);
    for (let i = 0; i < 20; i++) await put(second.url, `k${i}`, { i });
    for (const pid of pids) process.kill(pid, 'SIGKILL');
  } finally {
    await second.stop();
  }
  assert.equal(second.proc.signalCode, 'SIGKILL');

  const third = await serveKv({ dataDir });
  try {
    for (let i = 0; i < 20; i++) assert.deepEqual(await get(third.url, `k${i}`), { i });
    assert.equal(await get(third.url, 'across-restart'), 'one');
  } finally {
    await third.stop();
  }
});
