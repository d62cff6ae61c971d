import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ROOT, startWebdat, tempDir } from './helpers/webdat.ts';

// examples/aggregator served by the real CLI from a copy of the example whose upstream is a local
// static server holding the example's own JSON files (examples/aggregator/upstream/).

const EXAMPLE = path.join(ROOT, 'examples/aggregator');

async function staticUpstream(missing: Set<string>): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const name = path.basename(req.url ?? '/');
    const file = path.join(EXAMPLE, 'upstream', name);
    if (missing.has(name) || !fs.existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(fs.readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => { server.closeAllConnections(); return new Promise((r) => server.close(() => r())); },
  };
}

test('aggregator: one answer from several sources of an allowed upstream; failures reported, not fatal', async () => {
  const missing = new Set<string>();
  const upstream = await staticUpstream(missing);
  const dir = tempDir({
    'callbacks.js': fs.readFileSync(path.join(EXAMPLE, 'callbacks.js'), 'utf8'),
    'upstream.js': `export const UPSTREAM = 'http://127.0.0.1:${upstream.port}';\n`,
  });
  const config = JSON.parse(fs.readFileSync(path.join(EXAMPLE, 'webdat.json'), 'utf8'));
  const example = config.servers[0];
  assert.deepEqual(example.egress.allow, ['127.0.0.1:8081'], 'the example lists its upstream exactly');
  config.servers = [
    { ...example, port: 0, host: '127.0.0.1', egress: { allow: [`127.0.0.1:${upstream.port}`] } },
    { ...example, name: 'unlisted', port: 0, host: '127.0.0.1', egress: { allow: ['127.0.0.1'] } },
  ];
  fs.writeFileSync(path.join(dir, 'webdat.json'), JSON.stringify(config));
  const s = await startWebdat(['--config', path.join(dir, 'webdat.json')], { expectServers: 2 });
  try {
    const url = s.urls.get('aggregator')!;
    const ok = await fetch(`${url}/dashboard`);
    assert.equal(ok.status, 200);
    const read = (name: string) => JSON.parse(fs.readFileSync(path.join(EXAMPLE, 'upstream', `${name}.json`), 'utf8'));
    assert.deepEqual(await ok.json(), { sources: 3, failed: [], status: read('status'), orders: read('orders'), weather: read('weather') });
    missing.add('weather.json');
    const partial = await fetch(`${url}/dashboard`);
    assert.equal(partial.status, 207);
    assert.deepEqual((await partial.json()).failed, ['weather: 404 Not Found']);
    const refused = await (await fetch(`${s.urls.get('unlisted')}/dashboard`)).json();
    assert.equal(refused.failed.length, 3);
    for (const line of refused.failed) assert.match(line, /host "127\.0\.0\.1" is a loopback address/);
    assert.equal((await fetch(`${url}/other`)).status, 404);
  } finally {
    assert.equal(await s.stop(), 0);
    await upstream.close();
  }
});
