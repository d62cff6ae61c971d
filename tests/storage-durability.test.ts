import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { call, get, kv, put } from './helpers/storage-kv.ts';
import { startWebdat, tempDir } from './helpers/webdat.ts';

// webServer.storage data (SPEC §8) outlives the isolate (memory-limit breach), the code (--watch
// reload) and a restart. The engine's death and kill -9 are in storage-crash.test.ts.

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
