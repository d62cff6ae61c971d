import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import WebSocket from 'ws';
import { runWebdatExpectingExit, startWebdat, tempDir } from './helpers/webdat.ts';
import { makeCerts } from './helpers/certs.ts';
import { freePort } from './helpers/free-port.ts';

// SPEC §6 and issue 4: several servers on one port chosen by Host (and by SNI when secure), and
// `instances: N` isolates of one server.

const named = (name: string) => `export function onHTTPRequest(w, req, res) { res.data = '${name} ' + req.headers.host; return res; }
export function onWebSocketReceiveText(w, client, text) { w.webSocketBroadcastText('${name}:' + text); }
`;


function get(port: number, host: string): Promise<{ status: number; body: string; error: string | undefined }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', headers: { host } }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, body, error: res.headers['x-webdat-error'] as string | undefined }));
    }).on('error', reject);
  });
}

/** A `ws` client to a shared port, choosing the server by Host header. */
function openWs(port: number, host: string): Promise<{ ws: WebSocket; got: string[]; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { headers: { host } });
    const got: string[] = [];
    ws.on('message', (d) => got.push(d.toString()));
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    ws.once('open', () => resolve({ ws, got, closed }));
    ws.once('error', reject);
  });
}

/** Polls `done` every 10 ms; fails the test after 10 s. */
async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!done()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function writeConfig(dir: string, config: object): string {
  const file = path.join(dir, 'webdat.json');
  fs.writeFileSync(file, JSON.stringify(config));
  return file;
}

test('servers sharing a port are chosen by Host: exact names, wildcards, the default; broadcasts stay within a server', async () => {
  const port = await freePort();
  const dir = tempDir({ 'alpha.js': named('alpha'), 'beta.js': named('beta'), 'other.js': named('other') });
  const file = writeConfig(dir, {
    servers: [
      { name: 'alpha', host: '127.0.0.1', port, callbacks: 'alpha.js', hosts: ['alpha.test', 'www.alpha.test'] },
      { name: 'beta', host: '127.0.0.1', port, callbacks: 'beta.js', hosts: ['*.beta.test'] },
      { name: 'other', host: '127.0.0.1', port, callbacks: 'other.js' },
    ],
  });
  const s = await startWebdat(['--config', file], { expectServers: 3 });
  try {
    assert.equal((await get(port, 'alpha.test')).body, 'alpha alpha.test');
    assert.equal((await get(port, 'WWW.Alpha.Test:' + port)).body, `alpha WWW.Alpha.Test:${port}`);
    assert.equal((await get(port, 'api.beta.test')).body, 'beta api.beta.test');
    assert.equal((await get(port, 'a.b.beta.test')).body, 'beta a.b.beta.test');
    assert.equal((await get(port, 'beta.test')).body, 'other beta.test', 'a wildcard needs a label in front');
    assert.equal((await get(port, 'unknown.example')).body, 'other unknown.example');

    const a = await openWs(port, 'alpha.test');
    const b = await openWs(port, 'x.beta.test');
    a.ws.send('hi');
    b.ws.send('yo');
    await until(() => a.got.length >= 1 && b.got.length >= 1, 'the broadcasts');
    assert.deepEqual([a.got, b.got], [['alpha:hi'], ['beta:yo']]);
    a.ws.close();
    b.ws.close();
  } finally {
    await s.stop();
  }
});

test('a port without a default server answers 421 to an unknown Host; stopping one server leaves the others', async () => {
  const port = await freePort();
  const dir = tempDir({ 'alpha.js': named('alpha'), 'beta.js': named('beta') });
  const file = writeConfig(dir, {
    servers: [
      { name: 'alpha', host: '127.0.0.1', port, callbacks: 'alpha.js', hosts: ['alpha.test'] },
      { name: 'beta', host: '127.0.0.1', port, callbacks: 'beta.js', hosts: ['beta.test'] },
    ],
    admin: { port: 0 },
  });
  const s = await startWebdat(['--config', file], { expectServers: 2 });
  try {
    const miss = await get(port, 'nobody.test');
    assert.equal(miss.status, 421);
    assert.equal(miss.error, 'unknown-host');
    const admin = (await s.waitFor(/admin listening on (\S+)/)).split(' ').at(-1)!;
    assert.equal((await fetch(`${admin}/servers/alpha/stop`, { method: 'POST' })).status, 200);
    const stopped = await get(port, 'alpha.test');
    assert.equal(stopped.status, 503);
    assert.equal(stopped.error, 'canceled');
    assert.equal((await get(port, 'beta.test')).body, 'beta beta.test');
    assert.equal((await fetch(`${admin}/servers/alpha/start`, { method: 'POST' })).status, 200);
    assert.equal((await get(port, 'alpha.test')).body, 'alpha alpha.test');
  } finally {
    await s.stop();
  }
});

test('a port shared by Host serves every server from its first readiness line on, even one slow to load', async () => {
  const port = await freePort();
  const dir = tempDir({
    'a.js': named('a'),
    // Three seconds of top-level code: the port must not answer for "a" alone meanwhile.
    'b.js': `const end = Date.now() + 3000; while (Date.now() < end) {}\n` + named('b'),
  });
  const file = path.join(dir, 'webdat.json');
  fs.writeFileSync(file, JSON.stringify({
    servers: [
      { name: 'a', port, host: '127.0.0.1', hosts: ['a.test'], callbacks: 'a.js' },
      { name: 'b', port, host: '127.0.0.1', hosts: ['b.test'], callbacks: 'b.js', limits: { timeoutMs: 20000, cpuMs: 20000 } },
    ],
    workers: 2,
  }));
  const s = await startWebdat(['--config', file], { expectServers: 1 });
  try {
    const b = await get(port, 'b.test');
    assert.equal(b.status, 200, `answered ${b.status} ${b.error ?? ''} while "b" was loading`);
    assert.equal(b.body, 'b b.test');
    assert.equal((await get(port, 'a.test')).body, 'a a.test');
  } finally {
    await s.stop();
  }
});

test('a shared port with two default servers, a repeated host or mixed TLS is an invalid config naming the key', async () => {
  const dir = tempDir({ 'a.js': named('a') });
  const cases: Array<[object[], RegExp]> = [
    [[{ name: 'a', port: 9990, callbacks: 'a.js' }, { name: 'b', port: 9990, callbacks: 'a.js' }], /servers\[1\]\.hosts: is required/],
    [[{ name: 'a', port: 9990, hosts: ['x.test'] }, { name: 'b', port: 9990, hosts: ['X.test'] }], /servers\[1\]\.hosts\[0\]: "X\.test" is already served/],
    [[{ name: 'a', port: 9990, hosts: ['x.test'] }, { name: 'b', port: 9990, hosts: ['y.test'], secure: true, privateKey: 'k', certificate: 'c' }], /servers\[1\]\.secure: must match servers\[0\]/],
  ];
  for (const [servers, message] of cases) {
    const r = await runWebdatExpectingExit(['serve', '--config', writeConfig(dir, { servers })]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, message);
  }
});

test('secure servers sharing a port each present their own certificate through SNI', async () => {
  const port = await freePort();
  const certs = makeCerts();
  const a = certs.issue('a.test');
  const b = certs.issue('b.test', 'b-secret');
  const dir = tempDir({ 'alpha.js': named('alpha'), 'beta.js': named('beta') });
  const file = writeConfig(dir, {
    servers: [
      { name: 'alpha', host: '127.0.0.1', port, callbacks: 'alpha.js', hosts: ['a.test'], secure: true, privateKey: a.key, certificate: a.cert },
      { name: 'beta', host: '127.0.0.1', port, callbacks: 'beta.js', hosts: ['b.test'], secure: true, privateKey: b.key, certificate: b.cert, password: 'b-secret' },
    ],
  });
  const s = await startWebdat(['--config', file], { expectServers: 2 });
  try {
    for (const [name, server] of [['a.test', 'alpha'], ['b.test', 'beta']]) {
      const body = execFileSync('curl', ['-sS', '--cacert', certs.ca, '--resolve', `${name}:${port}:127.0.0.1`, `https://${name}:${port}/`]).toString();
      assert.equal(body, `${server} ${name}:${port}`, 'curl verified the certificate for this name and reached its server');
      const subject = execFileSync('sh', ['-c', `openssl s_client -connect 127.0.0.1:${port} -servername ${name} </dev/null 2>/dev/null | openssl x509 -noout -subject`]).toString();
      assert.match(subject, new RegExp(`CN ?= ?${name.replace('.', '\\.')}`));
    }
    assert.doesNotMatch(s.stdout() + s.stderr(), /b-secret/);
  } finally {
    await s.stop();
  }
});

test('instances: N isolates of one server on different workers, module state per instance, a connection stays on one', async () => {
  const dir = tempDir({
    'app.js': `const me = crypto.randomUUID();
let n = 0;
export async function onHTTPRequest(w, req, res) { res.data = JSON.stringify({ me, n: ++n }); return res; }
const counts = {};
export function onWebSocketReceiveText(w, client, text) { counts[client] = (counts[client] ?? 0) + 1; w.webSocketSendText(client, me + ' ' + counts[client] + ' ' + text); }
`,
  });
  const file = writeConfig(dir, { servers: [{ name: 'app', host: '127.0.0.1', port: 0, callbacks: 'app.js', instances: 2 }], workers: 2 });
  const s = await startWebdat(['--config', file]);
  try {
    const seen = new Map<string, number[]>();
    for (let round = 0; round < 10; round++) {
      const replies = await Promise.all(Array.from({ length: 8 }, async () => JSON.parse(await (await fetch(s.url)).text()) as { me: string; n: number }));
      for (const r of replies) seen.set(r.me, [...(seen.get(r.me) ?? []), r.n]);
    }
    assert.equal(seen.size, 2, 'requests were spread over both instances');
    for (const ns of seen.values()) assert.deepEqual([...ns].sort((x, y) => x - y), ns.map((_, i) => i + 1).sort((x, y) => x - y), 'each instance counts its own requests');
    const ws = new WebSocket(s.url.replace('http', 'ws'));
    const got: string[] = [];
    ws.on('message', (d) => got.push(d.toString()));
    await new Promise((r) => ws.once('open', r));
    for (let i = 1; i <= 20; i++) ws.send(String(i));
    await until(() => got.length >= 20, 'the 20 answers');
    const owner = got[0].split(' ')[0];
    assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => `${owner} ${i + 1} ${i + 1}`), 'one connection, one instance, in order');
    ws.close();
  } finally {
    await s.stop();
  }
});

test('on a shared port each server keeps its own WebSocket message limit (1009 beyond it)', async () => {
  const port = await freePort();
  const dir = tempDir({ 'alpha.js': named('alpha'), 'beta.js': named('beta') });
  const file = writeConfig(dir, {
    servers: [
      { name: 'alpha', host: '127.0.0.1', port, callbacks: 'alpha.js', hosts: ['alpha.test'], limits: { maxMessageBytes: 1024 } },
      { name: 'beta', host: '127.0.0.1', port, callbacks: 'beta.js', hosts: ['beta.test'] },
    ],
  });
  const s = await startWebdat(['--config', file], { expectServers: 2 });
  try {
    const big = 'x'.repeat(2048);
    const b = await openWs(port, 'beta.test');
    b.ws.send(big);
    await until(() => b.got.length >= 1, 'beta\'s broadcast');
    assert.equal(b.got[0], 'beta:' + big);
    const a = await openWs(port, 'alpha.test');
    a.ws.send(big);
    assert.equal(await a.closed, 1009);
    assert.deepEqual(a.got, [], 'the message never reached a callback');
    b.ws.close();
  } finally {
    await s.stop();
  }
});
