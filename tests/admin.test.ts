import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { noChromium, withChromium } from './helpers/browser.ts';
import { ROOT, runWebdatExpectingExit, startWebdat, tempDir, type Running } from './helpers/webdat.ts';
import { connect } from './helpers/ws.ts';
import { chunkedUpload } from './helpers/raw-http.ts';

// The admin API (SPEC §7) of a real `webdat serve --config`: bearer tokens, the loopback rule,
// server state and lifecycle, callbacks replaced over HTTP, Prometheus metrics and the dashboard.

const TOKEN = 'admin-token-for-tests-0123456789';
const ADMIN_LINE = /webdat: admin listening on (http:\/\/\S+)/;

const v1 = `
export function onHTTPRequest(w, req, res) { res.data = 'v1'; }
export function onWebSocketReceiveText(w, client, text) { w.webSocketSendText(client, 'v1:' + text); }
`;
const v2 = `
export function onHTTPRequest(w, req, res) { res.data = 'v2'; }
export function onWebSocketReceiveText(w, client, text) { w.webSocketSendText(client, 'v2:' + text); }
`;

function writeConfig(files: Record<string, string>, config: unknown): string {
  const dir = tempDir({ ...files, 'webdat.json': JSON.stringify(config) });
  return path.join(dir, 'webdat.json');
}

async function startAdmin(config: unknown, files: Record<string, string>, expectServers: number): Promise<Running & { admin: string }> {
  const r = await startWebdat(['--config', writeConfig(files, config)], { expectServers });
  const line = await r.waitFor(ADMIN_LINE);
  return Object.assign(r, { admin: ADMIN_LINE.exec(line)![1] });
}

const main = await startAdmin({
  servers: [
    { name: 'alpha', host: '127.0.0.1', port: 0, callbacks: 'alpha.js' },
    { name: 'beta', host: '127.0.0.1', port: 0, callbacks: 'beta.js' },
    { name: 'gamma', host: '127.0.0.1', port: 0, callbacks: 'gamma.js', limits: { timeoutMs: 5000 } },
  ],
  workers: 1,
  admin: { host: '127.0.0.1', port: 0, token: TOKEN },
}, {
  'alpha.js': v1,
  'beta.js': `export function onHTTPRequest(w, req, res) { res.data = 'beta'; }`,
  // a stop that takes a while, so a start can arrive while it is still going on
  'gamma.js': `
export function onHTTPRequest(w, req, res) { res.data = 'gamma'; }
export function onServerStop() { const end = Date.now() + 400; while (Date.now() < end); }
`,
}, 3);
after(() => main.stop());

const auth = { authorization: `Bearer ${TOKEN}` };
const api = (p: string, init: RequestInit = {}) => fetch(main.admin + p, { ...init, headers: { ...auth, ...(init.headers as Record<string, string> | undefined) } });
const json = async (p: string, init: RequestInit = {}) => {
  const r = await api(p, init);
  return { status: r.status, headers: r.headers, body: await r.json() as Record<string, any> };
};
const serverUrl = async (name: string) => `http://127.0.0.1:${(await json(`/servers/${name}`)).body.port}/`;
const text = async (url: string) => (await fetch(url)).text();

test('a configured token is enforced: 401 without it or with a wrong one, 200 with it', async () => {
  const none = await fetch(main.admin + '/servers');
  assert.equal(none.status, 401);
  assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer\b/);
  assert.equal((await none.json()).error, 'unauthorized');
  const wrong = await fetch(main.admin + '/servers', { headers: { authorization: 'Bearer not-the-right-token-at-all' } });
  assert.equal(wrong.status, 401);
  assert.match(wrong.headers.get('www-authenticate') ?? '', /^Bearer .*error="invalid_token"/);
  await wrong.arrayBuffer();
  const basic = await fetch(main.admin + '/servers', { headers: { authorization: 'Basic ' + Buffer.from(`x:${TOKEN}`).toString('base64') } });
  assert.equal(basic.status, 401);
  await basic.arrayBuffer();
  for (const [method, p] of [['POST', '/servers/alpha/stop'], ['PUT', '/servers/alpha/callbacks'], ['GET', '/metrics'], ['GET', '/nope']]) {
    const r = await fetch(main.admin + p, { method, body: method === 'PUT' ? v2 : undefined });
    assert.equal(r.status, 401, `${method} ${p} without a token`);
    await r.arrayBuffer();
  }
  assert.equal(await text(await serverUrl('alpha')), 'v1', 'nothing was changed by the refused requests');
  const ok = await api('/servers');
  assert.equal(ok.status, 200);
  assert.match(ok.headers.get('content-type') ?? '', /^application\/json/);
  await ok.arrayBuffer();
  assert.ok(main.stderr().includes('admin request with a wrong token refused'));
  assert.ok(!main.stderr().includes(TOKEN) && !main.stdout().includes(TOKEN), 'the token appeared in the output');
});

test('GET /servers and /servers/:name describe each server with its info counters', async () => {
  await text(main.urls.get('alpha')! + '/');
  const list = await json('/servers');
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.servers.map((s: { name: string }) => s.name), ['alpha', 'beta', 'gamma']);
  for (const s of list.body.servers) {
    assert.equal(s.running, true);
    assert.equal(s.server_running, 1);
    assert.equal(s.secure, false);
    assert.equal(s.host, '127.0.0.1');
    assert.equal(`http://127.0.0.1:${s.port}`, main.urls.get(s.name));
    assert.equal(s.websocket_connections, 0);
    for (const k of ['requests', 'errors_exception', 'errors_timeout', 'errors_memory', 'errors_overloaded', 'errors_internal', 'memory_restarts', 'bytes_in', 'bytes_out', 'isolate_heap_bytes', 'cpu_time_ms']) {
      assert.equal(typeof s[k], 'number', `${s.name}.${k}`);
    }
  }
  const one = await json('/servers/alpha');
  assert.equal(one.body.name, 'alpha');
  assert.ok(one.body.requests >= 1);
  const c = await connect(main.urls.get('alpha')!.replace('http', 'ws') + '/');
  try {
    assert.equal((await json('/servers/alpha')).body.websocket_connections, 1);
  } finally {
    c.ws.close();
    await c.closed;
  }
});

test('unknown servers and routes answer 404, wrong methods 405, all as JSON', async () => {
  const unknown = await json('/servers/nope');
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.error, 'WEBDAT_ERR_SERVER_UNKNOWN');
  assert.match(unknown.body.message, /nope/);
  assert.equal((await json('/servers/nope/start', { method: 'POST' })).status, 404);
  assert.equal((await json('/servers/nope/callbacks', { method: 'PUT', body: v2 })).status, 404);
  for (const p of ['/nope', '/servers/alpha/explode', '/servers/alpha/start/now', '/servers/']) {
    const r = await json(p);
    assert.equal(r.status, 404, p);
    assert.equal(r.body.error, 'not-found');
  }
  const cases: Array<[string, string, string]> = [
    ['DELETE', '/servers/alpha', 'GET, HEAD'],
    ['POST', '/servers', 'GET, HEAD'],
    ['GET', '/servers/alpha/stop', 'POST'],
    ['POST', '/servers/alpha/callbacks', 'PUT'],
    ['PUT', '/metrics', 'GET, HEAD'],
  ];
  for (const [method, p, allow] of cases) {
    const r = await json(p, { method, body: method === 'GET' ? undefined : '' });
    assert.equal(r.status, 405, `${method} ${p}`);
    assert.equal(r.headers.get('allow'), allow);
    assert.equal(r.body.error, 'method-not-allowed');
  }
  const head = await api('/servers', { method: 'HEAD' });
  assert.equal(head.status, 200, 'HEAD is a GET without the body');
  assert.ok(Number(head.headers.get('content-length')) > 0);
  assert.equal(await head.text(), '');
  assert.equal(await text(await serverUrl('alpha')), 'v1');
});

test('POST stop, start and restart drive a server; the other keeps serving', async () => {
  const betaBefore = await serverUrl('beta');
  const stopped = await json('/servers/beta/stop', { method: 'POST' });
  assert.equal(stopped.status, 200);
  assert.equal(stopped.body.running, false);
  assert.equal(stopped.body.server_running, 0);
  const answer = await fetch(betaBefore).then((r) => r.headers.get('x-webdat-error') ?? `status ${r.status}`, () => 'refused');
  assert.ok(answer === 'refused' || answer === 'canceled', `a stopped server answered: ${answer}`);
  assert.equal(await text(await serverUrl('alpha')), 'v1', 'alpha was affected by stopping beta');
  assert.equal((await json('/servers/beta/stop', { method: 'POST' })).status, 200, 'stopping a stopped server is a no-op');

  const started = await json('/servers/beta/start', { method: 'POST' });
  assert.equal(started.status, 200);
  assert.equal(started.body.running, true);
  assert.equal(await text(`http://127.0.0.1:${started.body.port}/`), 'beta');

  const c = await connect(`ws://127.0.0.1:${started.body.port}/`);
  const restarted = await json('/servers/beta/restart', { method: 'POST' });
  assert.equal(restarted.status, 200);
  assert.equal(restarted.body.running, true);
  assert.equal((await c.closed).code, 1012, 'restart closes WebSocket clients with 1012');
  assert.equal(await text(`http://127.0.0.1:${restarted.body.port}/`), 'beta');
});

test('actions on one server never interleave: a start sent during a stop runs after it', async () => {
  const url = await serverUrl('gamma');
  const stopping = json('/servers/gamma/stop', { method: 'POST' });
  // The listening socket closes first, then onServerStop runs: once connections are refused, the stop is under way.
  const until = Date.now() + 10_000;
  while (await fetch(url).then((r) => r.arrayBuffer().then(() => true), () => false)) assert.ok(Date.now() < until, 'the listening socket never closed');
  const starting = json('/servers/gamma/start', { method: 'POST' });
  const [stopped, started] = await Promise.all([stopping, starting]);
  assert.equal(stopped.body.running, false);
  assert.equal(started.body.running, true);
  assert.equal((await json('/servers/gamma')).body.running, true, 'the start was lost in the stop');
  assert.equal(await text(`http://127.0.0.1:${started.body.port}/`), 'gamma');

  const actions = ['stop', 'start', 'restart', 'stop', 'start'];
  const answers = await Promise.all(actions.map((a) => json(`/servers/beta/${a}`, { method: 'POST' })));
  answers.forEach((a, i) => assert.equal(a.body.running, actions[i] !== 'stop', `${actions[i]} answered running=${a.body.running}`));
  const beta = await json('/servers/beta/start', { method: 'POST' });
  assert.equal(await text(`http://127.0.0.1:${beta.body.port}/`), 'beta');
});

test('PUT /servers/:name/callbacks swaps the code; WebSockets stay open; a broken source gives 400 and the old code keeps serving', async () => {
  const url = await serverUrl('alpha');
  assert.equal(await text(url), 'v1');
  const c = await connect(url.replace('http', 'ws'));
  c.ws.send('a');
  assert.equal(await c.next(), 'v1:a');

  const put = await json('/servers/alpha/callbacks', { method: 'PUT', headers: { 'content-type': 'text/javascript' }, body: v2 });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.equal(put.body.name, 'alpha');
  assert.equal(await text(url), 'v2', 'the next request did not run the new code');
  c.ws.send('b');
  assert.equal(await c.next(), 'v2:b', 'the open WebSocket did not survive the reload');

  const broken = await json('/servers/alpha/callbacks', { method: 'PUT', body: 'export function onHTTPRequest(w, req, res) {' });
  assert.equal(broken.status, 400);
  assert.equal(broken.body.error, 'WEBDAT_ERR_CALLBACKS_LOAD');
  assert.match(broken.body.message, /alpha/);
  assert.match(broken.body.message, /SyntaxError|Unexpected/);
  assert.equal(await text(url), 'v2', 'a broken source replaced the working one');

  const importing = await json('/servers/alpha/callbacks', { method: 'PUT', body: `import fs from 'node:fs';\nexport function onHTTPRequest() {}` });
  assert.equal(importing.status, 400);
  assert.match(importing.body.message, /node:fs/);

  const throwing = await json('/servers/alpha/callbacks', { method: 'PUT', body: `throw new Error('top-level failure');` });
  assert.equal(throwing.status, 400);
  assert.match(throwing.body.message, /top-level failure/);

  const empty = await json('/servers/alpha/callbacks', { method: 'PUT', body: '' });
  assert.equal(empty.status, 400);
  assert.equal(empty.body.error, 'bad-request');

  const notUtf8 = await json('/servers/alpha/callbacks', { method: 'PUT', body: new Uint8Array([0x2f, 0x2f, 0xff, 0xfe]) });
  assert.equal(notUtf8.status, 400);
  assert.match(notUtf8.body.message, /UTF-8/);

  assert.equal(await text(url), 'v2');
  c.ws.send('c');
  assert.equal(await c.next(), 'v2:c');
  c.ws.close();
  await c.closed;
  assert.match(main.stderr(), /new callbacks did not load/);
});

test('a callbacks source over 1 MiB is refused with 413, declared or streamed', async () => {
  // Declared: the answer comes from the headers alone (the body is never sent, so no reset can race it).
  const declared = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const u = new URL(main.admin + '/servers/alpha/callbacks');
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'PUT', headers: { ...auth, 'content-length': 1024 * 1024 + 1 } }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; }).on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.flushHeaders();
  });
  assert.equal(declared.status, 413);
  assert.equal(JSON.parse(declared.body).error, 'body-too-large');
  const streamed = await chunkedUpload(Number(new URL(main.admin).port), `PUT /servers/alpha/callbacks HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n`, 1024 * 1024 + 1);
  assert.equal(streamed.status, 413, streamed.headers);
  assert.equal(JSON.parse(streamed.body).error, 'body-too-large');
  const ok = await json('/servers/alpha/callbacks', { method: 'PUT', body: '// ' + 'x'.repeat(1024 * 1024 - 200) + '\n' + v2 });
  assert.equal(ok.status, 200, 'a source just under 1 MiB loads');
  assert.equal(await text(await serverUrl('alpha')), 'v2');
});

test('GET /metrics is Prometheus text with per-server counters that grow with requests', async () => {
  const scrape = async () => {
    const r = await api('/metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return r.text();
  };
  const value = (body: string, series: string) => {
    const line = body.split('\n').find((l) => l.startsWith(series + ' '));
    assert.ok(line, `no ${series} in\n${body}`);
    return Number(line.slice(series.length + 1));
  };
  const before = await scrape();
  assert.match(before, /^# HELP webdat_requests_total /m);
  assert.match(before, /^# TYPE webdat_requests_total counter$/m);
  assert.match(before, /^# TYPE webdat_server_running gauge$/m);
  assert.match(before, /^process_cpu_seconds_total /m, 'process metrics');
  assert.equal(value(before, 'webdat_server_running{server="beta"}'), 1);
  assert.equal(value(before, 'webdat_errors_total{server="alpha",kind="exception"}'), 0);
  const url = await serverUrl('alpha');
  for (let i = 0; i < 3; i++) await text(url);
  const afterRequests = await scrape();
  assert.equal(value(afterRequests, 'webdat_requests_total{server="alpha"}'), value(before, 'webdat_requests_total{server="alpha"}') + 3);
  assert.ok(value(afterRequests, 'webdat_sent_bytes_total{server="alpha"}') > value(before, 'webdat_sent_bytes_total{server="alpha"}'));
  assert.equal(value(afterRequests, 'webdat_requests_total{server="beta"}'), value(before, 'webdat_requests_total{server="beta"}'));
});

test('GET / is the self-contained dashboard page, served without a token', async () => {
  const r = await fetch(main.admin + '/');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  const html = await r.text();
  assert.match(html, /^<!doctype html>/i);
  assert.match(html, /fetch\(/);
  assert.match(html, /sessionStorage/);
  assert.doesNotMatch(html, /(src|href)=["']?(https?:)?\/\//, 'the page loads an external asset');
  assert.equal((await fetch(main.admin + '/', { method: 'POST' })).status, 401, 'only GET / is open');
});

test('the dashboard asks for the token, then shows the servers and drives them', { skip: noChromium }, async () => {
  await withChromium(async (browser) => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error' && !/401/.test(m.text())) errors.push(m.text()); });
    await page.goto(main.admin + '/');
    await page.locator('#login').waitFor({ state: 'visible' });
    await page.fill('#token', 'a-wrong-token-of-enough-length');
    await page.click('#login button[type=submit]');
    await page.locator('#status', { hasText: 'refused' }).waitFor();
    await page.fill('#token', TOKEN);
    await page.click('#login button[type=submit]');
    const beta = page.locator('tr[data-server="beta"]');
    await beta.locator('td.state', { hasText: 'running' }).waitFor();
    await page.locator('tr[data-server="alpha"]').waitFor();
    await beta.locator('button[data-action="stop"]').click();
    await beta.locator('td.state', { hasText: 'stopped' }).waitFor();
    assert.equal((await json('/servers/beta')).body.running, false);
    await beta.locator('button[data-action="start"]').click();
    await beta.locator('td.state', { hasText: 'running' }).waitFor();
    assert.equal((await json('/servers/beta')).body.running, true);
    assert.deepEqual(errors, [], 'errors in the page (CSP or script)');
  });
});

test('without a token, a loopback admin listener answers local requests and refuses browser-forged ones', async () => {
  const dir = tempDir({ 'cb.js': v1 });
  const r = await startWebdat(['--callbacks', path.join(dir, 'cb.js'), '--port', '0', '--host', '127.0.0.1', '--admin-port', '0']);
  try {
    const admin = ADMIN_LINE.exec(await r.waitFor(ADMIN_LINE))![1];
    assert.match(admin, /^http:\/\/127\.0\.0\.1:\d+$/);
    const list = await fetch(admin + '/servers');
    assert.equal(list.status, 200);
    assert.deepEqual((await list.json()).servers.map((s: { name: string }) => s.name), ['default']);
    assert.equal((await fetch(admin + '/metrics')).status, 200);
    // A page on another site posting to the loopback API (a "simple" request, no preflight).
    const forged = await fetch(admin + '/servers/default/stop', { method: 'POST', headers: { origin: 'http://evil.example' } });
    assert.equal(forged.status, 403);
    // A DNS-rebound name resolving to 127.0.0.1.
    const rebound = await new Promise<number>((resolve, reject) => {
      const u = new URL(admin + '/servers');
      http.get({ host: u.hostname, port: u.port, path: u.pathname, headers: { host: `evil.example:${u.port}` } }, (res) => { res.resume(); resolve(res.statusCode!); }).on('error', reject);
    });
    assert.equal(rebound, 403);
    assert.equal(await text(r.url + '/'), 'v1', 'the forged stop took effect');
    const sameOrigin = await fetch(admin + '/servers/default/restart', { method: 'POST', headers: { origin: admin } });
    assert.equal(sameOrigin.status, 200, 'the dashboard (same origin) may act');
    // Both refusals and the action were audited (no token: the token field is null).
    await r.waitFor(/"audit":true[^\n]*"action":"restart"/);
    const audit = r.stderr().split('\n').filter((l) => l.includes('"audit":true')).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(audit.map((a) => [a.action, a.server, a.token, a.result]), [['stop', 'default', null, 403], ['list', null, null, 403], ['restart', 'default', null, 200]]);
  } finally {
    await r.stop();
  }
});

test('an admin listener off loopback without a token is refused at start, naming admin.token', async () => {
  const config = writeConfig({ 'cb.js': v1 }, {
    servers: [{ name: 'a', host: '127.0.0.1', port: 0, callbacks: 'cb.js' }],
    admin: { host: '0.0.0.0', port: 0 },
  });
  const r = await runWebdatExpectingExit(['serve', '--config', config]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /admin\.token/);
  assert.match(r.stderr, /WEBDAT_ERR_CONFIG/);
  assert.doesNotMatch(r.stdout, /listening/);

  const short = writeConfig({ 'cb.js': v1 }, {
    servers: [{ name: 'a', host: '127.0.0.1', port: 0, callbacks: 'cb.js' }],
    admin: { host: '127.0.0.1', port: 0, token: 'short' },
  });
  const r2 = await runWebdatExpectingExit(['serve', '--config', short]);
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /admin\.token: must be at least 16 characters/);
});
