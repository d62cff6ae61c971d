import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { noChromium, withChromium } from './helpers/browser.ts';
import { ROOT, startWebdat, tempDir } from './helpers/webdat.ts';
import { connect } from './helpers/ws.ts';

// Each example in examples/ served by the real CLI and used as its users would.
const serve = (example: string) => startWebdat(['--callbacks', path.join(ROOT, 'examples', example), '--port', '0', '--host', '127.0.0.1']);

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

test('ticker: setInterval broadcasts to every WebSocket client; its period can change', async () => {
  const s = await serve('ticker/callbacks.js');
  try {
    assert.equal((await fetch(`${s.url}/rate?ms=5`)).status, 400);
    const rate = await (await fetch(`${s.url}/rate?ms=20`)).json();
    assert.equal(rate.periodMs, 20);
    const a = await connect(s.url.replace('http', 'ws') + '/');
    const b = await connect(s.url.replace('http', 'ws') + '/');
    try {
      for (const c of [a, b]) {
        // The greeting and the first tick may cross: the tick comes from the timer, not the open event.
        await c.waitFor(5);
        const end = Date.now() + 10_000;
        while (!c.messages.some((m) => String(m).includes('hello'))) {
          assert.ok(Date.now() < end, 'no greeting');
          await new Promise((r) => setTimeout(r, 20));
        }
        const got = c.messages.map((m) => JSON.parse(String(m)));
        assert.equal(got.filter((m) => m.hello === 'one tick every 20 ms').length, 1);
        const ticks = got.filter((m) => m.hello === undefined);
        for (let i = 1; i < ticks.length; i++) assert.equal(ticks[i].tick, ticks[i - 1].tick + 1);
        assert.ok(ticks.every((t) => !Number.isNaN(Date.parse(t.at))));
      }
      const status = await (await fetch(s.url)).json();
      assert.equal(status.clients, 2);
      assert.ok(status.tick >= 3);
    } finally {
      a.ws.close();
      b.ws.close();
    }
  } finally {
    await s.stop();
  }
});

test('images: binary upload and byte-exact download with its content type', async () => {
  const s = await serve('images/callbacks.js');
  try {
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), crypto.randomBytes(300_000)]);
    const up = await fetch(`${s.url}/images/cat.png`, { method: 'PUT', headers: { 'content-type': 'image/png' }, body: png });
    assert.equal(up.status, 201);
    const down = await fetch(`${s.url}/images/cat.png`);
    assert.equal(down.status, 200);
    assert.equal(down.headers.get('content-type'), 'image/png');
    assert.ok(Buffer.from(await down.arrayBuffer()).equals(png), 'downloaded bytes differ');
    assert.deepEqual(await (await fetch(`${s.url}/images`)).json(), [{ name: 'cat.png', type: 'image/png', size: png.length }]);
    const text = await fetch(`${s.url}/images/note.txt`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'hi' });
    assert.equal(text.status, 415);
    assert.equal((await fetch(`${s.url}/images/missing.png`)).status, 404);
  } finally {
    await s.stop();
  }
});

test('chat: two Chromium tabs exchange messages through broadcast', { skip: noChromium }, async () => {
  const s = await serve('chat/callbacks.js');
  try {
    await withChromium(async (browser) => {
      const pageA = await browser.newPage();
      const pageB = await browser.newPage();
      await pageA.goto(s.url + '/');
      await pageB.goto(s.url + '/');
      await pageA.locator('#status', { hasText: 'connected' }).waitFor();
      await pageB.locator('#status', { hasText: 'connected' }).waitFor();
      await pageA.fill('#nick', 'ada');
      await pageA.fill('#text', 'hello from A');
      await pageA.click('button');
      await pageB.locator('#messages li', { hasText: 'ada: hello from A' }).waitFor();
      await pageB.fill('#nick', 'bob');
      await pageB.fill('#text', 'hi A, this is B');
      await pageB.press('#text', 'Enter');
      await pageA.locator('#messages li', { hasText: 'bob: hi A, this is B' }).waitFor();
      const seenByA = await pageA.locator('#messages li').allTextContents();
      assert.ok(seenByA.includes('ada: hello from A') && seenByA.includes('bob: hi A, this is B'));
    });
  } finally {
    await s.stop();
  }
});

test('the examples type-check against @webdat/engine/callbacks, and a wrong use fails', () => {
  const tsc = path.join(ROOT, 'node_modules/.bin/tsc');
  execFileSync(tsc, ['-p', path.join(ROOT, 'examples')], { stdio: 'pipe' });
  const dir = fs.mkdtempSync(path.join(ROOT, 'node_modules', '.webdat-types-'));
  try {
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ extends: path.join(ROOT, 'examples/tsconfig.json'), include: ['*.js'] }));
    fs.writeFileSync(path.join(dir, 'bad.js'), `/** @type {import('@webdat/engine/callbacks').OnHTTPRequest} */\nexport function onHTTPRequest(w, req, res) { w.webSocketSendText(42); res.statusCode = 'nope'; }\n`);
    const r = spawnSync(tsc, ['-p', dir], { encoding: 'utf8' });
    assert.notEqual(r.status, 0, 'a wrong use type-checked');
    assert.match(r.stdout, /bad\.js/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
