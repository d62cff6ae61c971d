import { test } from 'node:test';
import assert from 'node:assert/strict';
import { call, get, processTree, put, serveKv } from './helpers/storage-kv.ts';

// webServer.storage data (SPEC §8) outlives the engine's death and kill -9 of every webdat process
// right after acknowledged puts: a put resolves only once it is durable.

test('data outlives the engine\'s death and kill -9 of every webdat process right after acknowledged puts', async () => {
  const first = await serveKv();
  const { dataDir } = first;
  const ready = /server "default" listening on (http:\/\/\S+)/g;
  const latest = () => [...first.stdout().matchAll(ready)].map((m) => m[1]);
  try {
    // the engine dies as V8 would kill it (tests/faults.test.ts provokes that), here at a chosen moment
    const [supervisor, ...engine] = processTree(first.proc.pid!);
    assert.equal(supervisor, first.proc.pid);
    assert.ok(engine.length >= 1, 'an engine process');
    await put(first.url, 'before-death', 'acknowledged');
    for (const pid of engine) process.kill(pid, 'SIGKILL');
    await first.waitFor(/engine died \(SIGKILL\)/);
    for (let i = 0; latest().length < 2; i++) {
      assert.ok(i < 3000, 'no new engine');
      await new Promise((r) => setTimeout(r, 20));
    }
    const base = latest().at(-1)!;
    const read = await call(base, '/get/before-death');
    assert.equal(read.text, '"acknowledged"');
    assert.equal(read.life, 1, 'served by a new engine');
    assert.equal(first.proc.exitCode, null, 'the supervisor stayed');

    const everyProcess = processTree(first.proc.pid!);
    for (let i = 0; i < 20; i++) await put(base, `k${i}`, { i });
    for (const pid of everyProcess) process.kill(pid, 'SIGKILL');
  } finally {
    await first.stop();
  }
  assert.equal(first.proc.signalCode, 'SIGKILL');

  const second = await serveKv({ dataDir });
  try {
    for (let i = 0; i < 20; i++) assert.deepEqual(await get(second.url, `k${i}`), { i });
    assert.equal(await get(second.url, 'before-death'), 'acknowledged');
  } finally {
    assert.equal(await second.stop(), 0);
  }
});
