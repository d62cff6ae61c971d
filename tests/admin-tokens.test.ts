import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { noChromium, withChromium } from './helpers/browser.ts';
import { runWebdatExpectingExit, startWebdat, tempDir, type Running } from './helpers/webdat.ts';

// Named admin tokens with roles and the audit log (SPEC §7, "For secure installations"): a `read`
// token may use every GET route and gets 403 on actions; `admin.token` is one operator token; every
// action and every refused request writes one JSON audit line on stderr, naming the token, never
// showing its value.

const LEGACY = 'legacy-admin-token-0123456789abcdef';
const OPS = 'ops-operator-token-0123456789abcdef';
const GRAFANA = 'grafana-read-token-0123456789abcdef';
/** base64, as `openssl rand -base64` makes them: a token may contain `/`, `+` and `=` */
const SLASHED = 'ci/base64+token/0123456789abcdef=';
const ADMIN_LINE = /webdat: admin listening on (http:\/\/\S+)/;

const v1 = `export function onHTTPRequest(w, req, res) { res.data = 'v1'; }`;
const v2 = `export function onHTTPRequest(w, req, res) { res.data = 'v2'; }`;

function writeConfig(admin: Record<string, unknown>): string {
  const dir = tempDir({ 'alpha.js': v1, 'beta.js': `export function onHTTPRequest(w, req, res) { res.data = 'beta'; }` });
  const config = {
    servers: [{ name: 'alpha', host: '127.0.0.1', port: 0, callbacks: 'alpha.js' }, { name: 'beta', host: '127.0.0.1', port: 0, callbacks: 'beta.js' }],
    workers: 1,
    admin: { host: '127.0.0.1', port: 0, ...admin },
  };
  fs.writeFileSync(path.join(dir, 'webdat.json'), JSON.stringify(config));
  return path.join(dir, 'webdat.json');
}

const main: Running = await startWebdat(['--config', writeConfig({
  token: LEGACY,
  tokens: [{ name: 'ops', token: OPS, role: 'operator' }, { name: 'grafana', token: GRAFANA, role: 'read' }, { name: 'ci', token: SLASHED, role: 'read' }],
})], { expectServers: 2 });
after(() => main.stop());
const ADMIN = ADMIN_LINE.exec(await main.waitFor(ADMIN_LINE))![1];

const as = (token: string | null, p: string, init: RequestInit = {}) =>
  fetch(ADMIN + p, { ...init, headers: token === null ? {} : { authorization: `Bearer ${token}` } });
const describeServer = async (name: string) => (await (await as(OPS, `/servers/${name}`)).json()) as { port: number; running: boolean };
const text = async (name: string) => (await fetch(`http://127.0.0.1:${(await describeServer(name)).port}/`)).text();

/** The audit lines written from now on: `take(n)` waits (bounded) for exactly the next n of them. */
function auditFrom(r: Running) {
  const seen = auditLines(r).length;
  return {
    async take(n: number): Promise<Array<Record<string, unknown>>> {
      const deadline = Date.now() + 15_000;
      while (auditLines(r).length < seen + n) {
        assert.ok(Date.now() < deadline, `expected ${n} audit lines, got ${auditLines(r).length - seen}:\n${r.stderr()}`);
        await new Promise((res) => setTimeout(res, 20));
      }
      return auditLines(r).slice(seen);
    },
  };
}

function auditLines(r: Running): Array<Record<string, unknown>> {
  return r.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((o) => o.audit === true);
}

/** The fields SPEC §7 names, as they appear in one audit line. */
const spec = (o: Record<string, unknown>) => ({ audit: o.audit, action: o.action, server: o.server, token: o.token, remote: o.remote, result: o.result });

test('a read token may use every GET route: list, one server, metrics, the dashboard and HEAD', async () => {
  const audit = auditFrom(main);
  for (const p of ['/servers', '/servers/alpha', '/metrics', '/']) {
    const r = await as(GRAFANA, p);
    assert.equal(r.status, 200, p);
    await r.arrayBuffer();
  }
  const list = await as(GRAFANA, '/servers');
  assert.equal(list.headers.get('x-webdat-role'), 'read');
  assert.deepEqual(((await list.json()) as { servers: Array<{ name: string }> }).servers.map((s) => s.name), ['alpha', 'beta']);
  const head = await as(GRAFANA, '/servers/alpha', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal((await as(GRAFANA, '/servers/nope')).status, 404);
  // Reads are not audited: the next audit line is the refusal below, not any of the reads above.
  await as(null, '/servers').then((r) => r.arrayBuffer());
  const [line] = await audit.take(1);
  assert.deepEqual(spec(line), { audit: true, action: 'list', server: null, token: null, remote: '127.0.0.1', result: 401 });
});

test('a read token gets 403 on every action, and nothing changes', async () => {
  const audit = auditFrom(main);
  for (const action of ['start', 'stop', 'restart']) {
    const r = await as(GRAFANA, `/servers/alpha/${action}`, { method: 'POST' });
    assert.equal(r.status, 403, action);
    const body = await r.json() as { error: string; message: string };
    assert.equal(body.error, 'forbidden');
    assert.match(body.message, /"grafana" has the read role/);
  }
  const put = await as(GRAFANA, '/servers/alpha/callbacks', { method: 'PUT', body: v2 });
  assert.equal(put.status, 403);
  await put.arrayBuffer();
  // Also for a server that does not exist: a read token learns nothing from an action route.
  const unknown = await as(GRAFANA, '/servers/nope/stop', { method: 'POST' });
  assert.equal(unknown.status, 403);
  await unknown.arrayBuffer();
  assert.equal((await describeServer('alpha')).running, true);
  assert.equal(await text('alpha'), 'v1', 'a refused upload replaced the code');
  const lines = await audit.take(5);
  assert.deepEqual(lines.map(spec), [
    ...['start', 'stop', 'restart', 'upload'].map((action) => ({ audit: true, action, server: 'alpha', token: 'grafana', remote: '127.0.0.1', result: 403 })),
    { audit: true, action: 'stop', server: 'nope', token: 'grafana', remote: '127.0.0.1', result: 403 },
  ]);
});

test('a named operator token and admin.token both drive servers; each action writes one audit line with its result', async () => {
  const audit = auditFrom(main);
  const stop = await as(OPS, '/servers/beta/stop', { method: 'POST' });
  assert.equal(stop.status, 200);
  assert.equal(stop.headers.get('x-webdat-role'), 'operator');
  assert.equal(((await stop.json()) as { running: boolean }).running, false);
  const start = await as(LEGACY, '/servers/beta/start', { method: 'POST' });
  assert.equal(start.status, 200);
  assert.equal(((await start.json()) as { running: boolean }).running, true);
  assert.equal((await as(OPS, '/servers/beta/restart', { method: 'POST' })).status, 200);
  assert.equal(await text('beta'), 'beta');
  assert.equal((await as(OPS, '/servers/alpha/callbacks', { method: 'PUT', body: v2 })).status, 200);
  assert.equal(await text('alpha'), 'v2');
  assert.equal((await as(LEGACY, '/servers/alpha/callbacks', { method: 'PUT', body: 'export function onHTTPRequest( {' })).status, 400);
  assert.equal((await as(OPS, '/servers/alpha/callbacks', { method: 'PUT', body: v1 })).status, 200);
  assert.equal((await as(OPS, '/servers/nope/restart', { method: 'POST' })).status, 404);
  const lines = await audit.take(7);
  assert.deepEqual(lines.map(spec), [
    { audit: true, action: 'stop', server: 'beta', token: 'ops', remote: '127.0.0.1', result: 200 },
    { audit: true, action: 'start', server: 'beta', token: 'admin.token', remote: '127.0.0.1', result: 200 },
    { audit: true, action: 'restart', server: 'beta', token: 'ops', remote: '127.0.0.1', result: 200 },
    { audit: true, action: 'upload', server: 'alpha', token: 'ops', remote: '127.0.0.1', result: 200 },
    { audit: true, action: 'upload', server: 'alpha', token: 'admin.token', remote: '127.0.0.1', result: 400 },
    { audit: true, action: 'upload', server: 'alpha', token: 'ops', remote: '127.0.0.1', result: 200 },
    { audit: true, action: 'restart', server: 'nope', token: 'ops', remote: '127.0.0.1', result: 404 },
  ]);
  for (const l of lines) assert.equal(typeof l.result, 'number');
});

test('every refused request writes one audit line: no token, a wrong token, any route', async () => {
  const audit = auditFrom(main);
  const cases: Array<[string | null, string, string]> = [
    [null, 'POST', '/servers/alpha/stop'],
    ['not-a-configured-token-at-all-0123', 'POST', '/servers/alpha/stop'],
    ['not-a-configured-token-at-all-0123', 'GET', '/metrics'],
    [null, 'PUT', '/servers/beta/callbacks'],
    [null, 'GET', '/nowhere'],
    [null, 'POST', '/'],
  ];
  for (const [token, method, p] of cases) {
    const r = await as(token, p, { method, body: method === 'GET' ? undefined : v2 });
    assert.equal(r.status, 401, `${method} ${p}`);
    await r.arrayBuffer();
  }
  assert.equal(await text('alpha'), 'v1');
  const lines = await audit.take(cases.length);
  assert.deepEqual(lines.map(spec), [
    { audit: true, action: 'stop', server: 'alpha', token: null, remote: '127.0.0.1', result: 401 },
    { audit: true, action: 'stop', server: 'alpha', token: null, remote: '127.0.0.1', result: 401 },
    { audit: true, action: 'metrics', server: null, token: null, remote: '127.0.0.1', result: 401 },
    { audit: true, action: 'upload', server: 'beta', token: null, remote: '127.0.0.1', result: 401 },
    { audit: true, action: null, server: null, token: null, remote: '127.0.0.1', result: 401 },
    { audit: true, action: 'dashboard', server: null, token: null, remote: '127.0.0.1', result: 401 },
  ]);
  assert.deepEqual(lines.map((l) => `${l.method} ${l.path}`), cases.map(([, m, p]) => `${m} ${p}`));
});

test('a token pasted into a request path is logged as [token] in its audit line', async () => {
  const audit = auditFrom(main);
  // a path crafted so that every segment could start a token: withheld rather than hashed through
  const crafted = `/${'a/'.repeat(100)}`;
  const paths = [`/servers/${OPS}`, `/servers/alpha/${encodeURIComponent(GRAFANA)}/stop`, `/servers/${SLASHED}/stop`, `/servers/${encodeURIComponent(SLASHED)}`, crafted];
  for (const p of paths) {
    const r = await as(null, p, { method: 'POST' });
    assert.equal(r.status, 401, p);
    await r.arrayBuffer();
  }
  const lines = await audit.take(paths.length);
  assert.deepEqual(lines.map((l) => [l.server, l.path]), [
    ['[token]', '/servers/[token]'],
    [null, '/servers/alpha/[token]/stop'],
    [null, '/servers/[token]/stop'],
    // the name is the token decoded; the path is logged decoded, since only that form shows the token
    ['[token]', '/servers/[token]'],
    [null, `[${crafted.length} characters withheld]`],
  ]);
});

test('no token value ever appears in the output; audit lines are JSON on stderr only', () => {
  for (const secret of [LEGACY, OPS, GRAFANA, SLASHED, encodeURIComponent(SLASHED), 'not-a-configured-token-at-all-0123']) {
    assert.ok(!main.stdout().includes(secret) && !main.stderr().includes(secret), `a token value leaked: ${main.stderr().split('\n').filter((l) => l.includes(secret)).join('\n')}`);
  }
  assert.doesNotMatch(main.stdout(), /audit/);
  assert.equal(auditLines(main).length, 24, 'one line per audited request of the tests above');
});

test('the dashboard hides its action buttons for a read token and shows them for an operator', { skip: noChromium }, async () => {
  await withChromium(async (browser) => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error' && !/401/.test(m.text())) errors.push(m.text()); });
    await page.goto(ADMIN + '/');
    await page.locator('#login').waitFor({ state: 'visible' });
    await page.fill('#token', GRAFANA);
    await page.click('#login button[type=submit]');
    const alpha = page.locator('tr[data-server="alpha"]');
    await alpha.locator('td.state', { hasText: 'running' }).waitFor();
    await page.locator('#status', { hasText: 'read-only token' }).waitFor();
    assert.equal(await page.locator('button[data-action]').count(), 0, 'a read token sees action buttons');
    await page.click('#forget');
    await page.locator('#login').waitFor({ state: 'visible' });
    await page.fill('#token', OPS);
    await page.click('#login button[type=submit]');
    await alpha.locator('button[data-action="restart"]').waitFor();
    assert.equal(await page.locator('tr[data-server="beta"] button[data-action]').count(), 3);
    assert.deepEqual(errors, [], 'errors in the page (CSP or script)');
  });
});

test('audit lines are written whatever WEBDAT_LOG_LEVEL says', async () => {
  const quiet = await startWebdat(['--config', writeConfig({ tokens: [{ name: 'grafana', token: GRAFANA, role: 'read' }] })], { expectServers: 2, env: { WEBDAT_LOG_LEVEL: 'error' } });
  try {
    const admin = ADMIN_LINE.exec(await quiet.waitFor(ADMIN_LINE))![1];
    const audit = auditFrom(quiet);
    const r = await fetch(admin + '/servers/beta/stop', { method: 'POST', headers: { authorization: `Bearer ${GRAFANA}` } });
    assert.equal(r.status, 403);
    await r.arrayBuffer();
    const [line] = await audit.take(1);
    assert.deepEqual(spec(line), { audit: true, action: 'stop', server: 'beta', token: 'grafana', remote: '127.0.0.1', result: 403 });
    assert.doesNotMatch(quiet.stderr(), /"level":30,(?![^\n]*"audit":true)/, 'an ordinary info line was written at level error');
  } finally {
    assert.equal(await quiet.stop(), 0);
  }
});

async function refused(admin: Record<string, unknown>, message: RegExp, secrets: string[] = []) {
  const r = await runWebdatExpectingExit(['serve', '--config', writeConfig(admin)]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /WEBDAT_ERR_CONFIG/);
  assert.match(r.stderr, message);
  for (const s of secrets) assert.ok(!(r.stdout + r.stderr).includes(s), 'a token value leaked');
}

test('invalid admin.tokens are refused at start with exit code 2, naming the key', async () => {
  await refused({ tokens: [{ name: 'a', token: OPS, role: 'admin' }] }, /admin\.tokens\[0\]\.role: /);
  await refused({ tokens: [{ name: 'a', token: 'short', role: 'read' }] }, /admin\.tokens\[0\]\.token: must be at least 16 characters/);
  await refused({ tokens: [] }, /admin\.tokens: must list at least one token/);
  await refused({ tokens: [{ name: 'a', token: 'a token with spaces in it', role: 'read' }] }, /admin\.tokens\[0\]\.token: must be visible ASCII without spaces/, ['a token with spaces in it']);
  await refused({ tokens: [{ name: 'a', token: OPS, role: 'read' }, { name: 'a', token: GRAFANA, role: 'read' }] }, /admin\.tokens\[1\]\.name: duplicates the token name "a"/);
  await refused({ token: OPS, tokens: [{ name: 'b', token: OPS, role: 'read' }] }, /admin\.tokens\[0\]\.token: is the same secret as another admin token/, [OPS]);
  await refused({ tokens: [{ name: 'admin.token', token: GRAFANA, role: 'read' }], token: OPS }, /admin\.tokens\[0\]\.name: duplicates the token name "admin\.token"/);
});

test('--admin-port moves the config file\'s admin listener and keeps its tokens enforced', async () => {
  const r = await startWebdat(['--config', writeConfig({ tokens: [{ name: 'ops', token: OPS, role: 'operator' }] }), '--admin-port', '0'], { expectServers: 2 });
  try {
    const admin = ADMIN_LINE.exec(await r.waitFor(ADMIN_LINE))![1];
    assert.equal((await fetch(admin + '/servers')).status, 401);
    assert.equal((await fetch(admin + '/servers', { headers: { authorization: `Bearer ${OPS}` } })).status, 200);
  } finally {
    await r.stop();
  }
});
