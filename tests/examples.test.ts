import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { noChromium, withChromium } from './helpers/browser.ts';
import { ROOT, startWebdat } from './helpers/webdat.ts';
import { connect } from './helpers/ws.ts';

// Each example in examples/ served by the real CLI and used as its users would.
const serve = (example: string) => startWebdat(['--callbacks', path.join(ROOT, 'examples', example), '--port', '0', '--host', '127.0.0.1']);

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

test('TypeScript callbacks type-check against storage, fetch, Headers and timers, and a wrong use fails', () => {
  const tsc = path.join(ROOT, 'node_modules/.bin/tsc');
  const dir = fs.mkdtempSync(path.join(ROOT, 'node_modules', '.webdat-types-'));
  const check = (source: string) => {
    fs.writeFileSync(path.join(dir, 'callbacks.ts'), source);
    return spawnSync(tsc, ['-p', dir], { encoding: 'utf8' });
  };
  try {
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2023'], types: ['@webdat/engine/globals'] },
      include: ['*.ts'],
    }));
    const good = check(`import type { OnHTTPRequest, WebServer } from '@webdat/engine/callbacks';
export const onHTTPRequest: OnHTTPRequest = async (webServer, request, response) => {
  const hits = (await webServer.storage.get<number>('hits')) ?? 0;
  await webServer.storage.put('hits', hits + 1);
  await webServer.storage.put('seen', new Map([['at', new Date()]]));
  const items = await webServer.storage.list({ prefix: 'item:', limit: 10 });
  const upstream = await fetch('https://api.example.com/x', { method: 'POST', headers: new Headers({ a: 'b' }), body: new Uint8Array(1) });
  const data = await upstream.json<{ n: number }>();
  await new Promise<void>((resolve) => setTimeout(resolve, 10));
  response.data = JSON.stringify({ hits, items: items.map((i) => i.key), n: data.n, type: upstream.headers.get('content-type') });
  return response;
};
export function onServerStart(webServer: WebServer): void {
  const id = setInterval(() => webServer.webSocketBroadcastText('tick'), 1000);
  if (webServer.port === 0) clearInterval(id);
}
`);
    assert.equal(good.status, 0, good.stdout);
    const bad = check(`import type { OnHTTPRequest } from '@webdat/engine/callbacks';
export const onHTTPRequest: OnHTTPRequest = async (webServer) => { await webServer.storage.put('f', () => 1); const r = await fetch(42); };
`);
    assert.notEqual(bad.status, 0, 'a wrong use type-checked');
    assert.match(bad.stdout, /callbacks\.ts\(2,\d+\): error/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
