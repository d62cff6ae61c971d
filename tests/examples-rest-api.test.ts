import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ROOT, startWebdat, tempDir } from './helpers/webdat.ts';

// examples/rest-api served by the real CLI and used as its users would, restarted on its data.

test('rest-api: JSON CRUD behind basic authentication, items kept in storage across a restart', async () => {
  const dataDir = tempDir();
  // Each write waits for the disk's fsync, which a loaded machine can stretch past the default 100 ms.
  const start = () => startWebdat(['--callbacks', path.join(ROOT, 'examples', 'rest-api/callbacks.js'), '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--timeout-ms', '10000']);
  const auth = { authorization: 'Basic ' + Buffer.from('editor:correct horse battery staple').toString('base64') };
  const post = (base: string, body: unknown) => fetch(`${base}/api/items`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const s = await start();
  try {
    const denied = await fetch(`${s.url}/api/items`);
    assert.equal(denied.status, 401);
    assert.match(denied.headers.get('www-authenticate') ?? '', /^Basic/);
    const wrong = await fetch(`${s.url}/api/items`, { headers: { authorization: 'Basic ' + Buffer.from('editor:nope').toString('base64') } });
    assert.equal(wrong.status, 401);
    const created = await post(s.url, { name: 'write tests' });
    assert.equal(created.status, 201);
    const item = await created.json();
    assert.deepEqual(item, { id: 1, name: 'write tests', done: false });
    assert.equal(created.headers.get('location'), '/api/items/1');
    const bad = await fetch(`${s.url}/api/items`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"nope":1}' });
    assert.equal(bad.status, 400);
    const put = await fetch(`${s.url}/api/items/1`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'write tests', done: true }) });
    assert.deepEqual(await put.json(), { id: 1, name: 'write tests', done: true });
    assert.deepEqual(await (await fetch(`${s.url}/api/items`, { headers: auth })).json(), [{ id: 1, name: 'write tests', done: true }]);
    assert.equal((await fetch(`${s.url}/api/items/1`, { method: 'DELETE', headers: auth })).status, 204);
    assert.equal((await fetch(`${s.url}/api/items/1`, { headers: auth })).status, 404);
    const kept = await Promise.all([post(s.url, { name: 'survive' }), post(s.url, { name: 'a restart' })]);
    assert.deepEqual((await Promise.all(kept.map((r) => r.json()))).map((i) => i.id).sort(), [2, 3], 'concurrent POSTs get their own ids');
  } finally {
    assert.equal(await s.stop(), 0);
  }
  const again = await start();
  try {
    const items = await (await fetch(`${again.url}/api/items`, { headers: auth })).json();
    assert.deepEqual(items.map((i: { name: string }) => i.name).sort(), ['a restart', 'survive']);
    assert.deepEqual(await (await post(again.url, { name: 'next' })).json(), { id: 4, name: 'next', done: false }, 'ids go on after a restart');
  } finally {
    await again.stop();
  }
});
