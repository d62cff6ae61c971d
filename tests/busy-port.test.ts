import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { runWebdatExpectingExit, startWebdat, tempDir } from './helpers/webdat.ts';
import { freePort } from './helpers/free-port.ts';

// A port that anything already listens on is refused with exit code 2 and a message naming it
// (uSockets' SO_REUSEPORT would otherwise let two unrelated servers split its connections).
const source = `export function onHTTPRequest(w, req, res) { res.data = 'first'; }`;

function listen(host: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer((c) => c.destroy());
    s.once('error', reject);
    s.listen({ host, port: 0 }, () => resolve(s));
  });
}


// A fixed port: one the kernel picked for `--port 0` is never shared through SO_REUSEPORT anyway.
const dir = tempDir({ 'cb.js': source });
const first = await startWebdat(['--callbacks', path.join(dir, 'cb.js'), '--port', String(await freePort()), '--host', '127.0.0.1']);
after(() => first.stop());

async function refused(args: string[], port: number) {
  const r = await runWebdatExpectingExit(['serve', ...args]);
  assert.equal(r.code, 2, `exit ${r.code}\n${r.stderr}`);
  assert.match(r.stderr, new RegExp(`WEBDAT_ERR_LISTEN: .*port ${port} is already in use`));
  assert.doesNotMatch(r.stdout, /listening on/);
}

test('a second webdat on the port of a running one exits 2 naming the port; the first keeps serving', async () => {
  await Promise.all([
    refused(['--port', String(first.port), '--host', '127.0.0.1'], first.port),
    refused(['--port', String(first.port), '--host', '0.0.0.0'], first.port),
  ]);
  const r = await fetch(`${first.url}/`);
  assert.equal(await r.text(), 'first');
});

test('a port held by a node:net server is refused, across 127.0.0.1, 0.0.0.0 and a dual-stack ::', async () => {
  // Each pair on its own port, all at once (a webdat start takes seconds on a busy machine).
  await Promise.all([['127.0.0.1', '127.0.0.1'], ['127.0.0.1', '0.0.0.0'], ['::', '127.0.0.1']].map(async ([held, wanted]) => {
    const s = await listen(held);
    const port = (s.address() as net.AddressInfo).port;
    try {
      await refused(['--port', String(port), '--host', wanted], port);
    } finally {
      await new Promise((r) => s.close(r));
    }
  }));
});

test('a config server on a busy port and a busy admin port are refused the same way', async () => {
  const config = path.join(dir, 'busy.json');
  fs.writeFileSync(config, JSON.stringify({ servers: [{ name: 'late', host: '127.0.0.1', port: first.port, callbacks: 'cb.js' }] }));
  const [, r] = await Promise.all([
    refused(['--config', config], first.port),
    runWebdatExpectingExit(['serve', '--port', '0', '--host', '127.0.0.1', '--callbacks', path.join(dir, 'cb.js'), '--admin-port', String(first.port)]),
  ]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`WEBDAT_ERR_LISTEN: the admin API cannot listen on 127\\.0\\.0\\.1:${first.port}: port ${first.port} is already in use`));
});

test('servers sharing one host:port by Host name still share one listener, also across a restart', async () => {
  const port = await freePort();
  const shared = tempDir({ 'a.js': `export function onHTTPRequest(w, req, res) { res.data = 'a'; }`, 'b.js': `export function onHTTPRequest(w, req, res) { res.data = 'b'; }` });
  const config = path.join(shared, 'shared.json');
  fs.writeFileSync(config, JSON.stringify({
    servers: [
      { name: 'a', host: '127.0.0.1', port, callbacks: 'a.js', hosts: ['a.test'] },
      { name: 'b', host: '127.0.0.1', port, callbacks: 'b.js', hosts: ['b.test'] },
    ],
    admin: { port: 0, host: '127.0.0.1' },
  }));
  const s = await startWebdat(['--config', config], { expectServers: 2 });
  try {
    const admin = (await s.waitFor(/admin listening on (http:\/\/\S+)/)).split(' ').pop()!;
    const get = (host: string) => new Promise<string>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/', headers: { host } }, (res) => {
        let body = '';
        res.on('data', (d) => { body += d; });
        res.on('end', () => resolve(body));
      }).on('error', reject);
    });
    assert.deepEqual([await get('a.test'), await get('b.test')], ['a', 'b']);
    for (const name of ['a', 'b']) assert.equal((await fetch(`${admin}/servers/${name}/stop`, { method: 'POST' })).status, 200);
    for (const name of ['a', 'b']) assert.equal((await fetch(`${admin}/servers/${name}/start`, { method: 'POST' })).status, 200);
    assert.deepEqual([await get('a.test'), await get('b.test')], ['a', 'b']);
  } finally {
    await s.stop();
  }
});
