import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { makeCerts } from './helpers/certs.ts';
import { runWebdatExpectingExit, startWebdat, tempDir, type Running } from './helpers/webdat.ts';

// The admin API over HTTPS (SPEC §7, "For secure installations"): admin.secure with the servers' TLS
// checks, the https readiness line, and the start-up refusal of plain HTTP off loopback.

const certs = makeCerts();
const PASSWORD = `admin-pw-${process.pid}-secret`;
const site = certs.issue('localhost', PASSWORD);
const other = certs.issue('other');
const ca = fs.readFileSync(certs.ca);
const OPS = 'ops-token-for-secure-tests-0123456789';
const ADMIN_LINE = /webdat: admin listening on (https?:\/\/\S+)/;
const cb = `export function onHTTPRequest(w, req, res) { res.data = 'ok'; }`;

function writeConfig(admin: Record<string, unknown>, files: Record<string, string> = {}): string {
  const dir = tempDir({ 'cb.js': cb, ...files });
  const config = { servers: [{ name: 'alpha', host: '127.0.0.1', port: 0, callbacks: 'cb.js' }], workers: 1, admin: { port: 0, ...admin } };
  fs.writeFileSync(path.join(dir, 'webdat.json'), JSON.stringify(config));
  return path.join(dir, 'webdat.json');
}

async function startAdmin(admin: Record<string, unknown>, files: Record<string, string> = {}): Promise<Running & { admin: string; adminPort: number }> {
  const r = await startWebdat(['--config', writeConfig(admin, files)]);
  const url = ADMIN_LINE.exec(await r.waitFor(ADMIN_LINE))![1];
  return Object.assign(r, { admin: url, adminPort: Number(new URL(url).port) });
}

function httpsGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https.get(url, { ca, headers }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

// Bound to every interface: off loopback, HTTPS alone is enough (no admin.insecure); traffic goes to
// 127.0.0.1 only. Key and certificate are given relative to the config file.
const secure = await startAdmin({
  host: '0.0.0.0', secure: true, privateKey: 'admin.key', certificate: 'admin.pem', password: PASSWORD,
  tokens: [{ name: 'ops', token: OPS, role: 'operator' }],
}, { 'admin.key': fs.readFileSync(site.key, 'utf8'), 'admin.pem': fs.readFileSync(site.cert, 'utf8') });
after(() => secure.stop());

test('admin.secure serves the admin API over HTTPS with an encrypted key; the readiness line says https', async () => {
  assert.match(secure.admin, /^https:\/\/0\.0\.0\.0:\d+$/);
  const r = await httpsGet(`https://localhost:${secure.adminPort}/servers`, { authorization: `Bearer ${OPS}` });
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.body).servers.map((s: { name: string }) => s.name), ['alpha']);
  assert.equal((await httpsGet(`https://localhost:${secure.adminPort}/servers`)).status, 401, 'HTTPS does not replace the token');
  const page = await httpsGet(`https://localhost:${secure.adminPort}/`);
  assert.equal(page.status, 200);
  assert.match(page.body, /^<!doctype html>/i);
});

test('curl verifies the admin certificate against the test CA and can act with the token', () => {
  const out = execFileSync('curl', ['-sS', '--fail', '--cacert', certs.ca, '-X', 'POST', '-H', `authorization: Bearer ${OPS}`,
    '--resolve', `localhost:${secure.adminPort}:127.0.0.1`, `https://localhost:${secure.adminPort}/servers/alpha/restart`]).toString();
  assert.equal(JSON.parse(out).running, true);
  // Without the CA, curl refuses the certificate: exit 60 ("peer certificate cannot be authenticated").
  let code = 0;
  try {
    execFileSync('curl', ['-sS', '-o', '/dev/null', '--resolve', `localhost:${secure.adminPort}:127.0.0.1`, `https://localhost:${secure.adminPort}/`], { stdio: 'pipe' });
  } catch (err) {
    code = (err as { status: number }).status;
  }
  assert.equal(code, 60);
});

test('plain HTTP to a secure admin listener gets no HTTP answer', async () => {
  const outcome = await new Promise<string>((resolve) => {
    http.get({ host: '127.0.0.1', port: secure.adminPort, path: '/servers', headers: { authorization: `Bearer ${OPS}` } }, (res) => {
      res.resume();
      resolve(`status ${res.statusCode}`);
    }).on('error', (err) => resolve(`error ${(err as NodeJS.ErrnoException).code ?? err.message}`));
  });
  assert.match(outcome, /^error /, outcome);
});

test('the admin password and tokens never appear in any output', () => {
  for (const secret of [PASSWORD, OPS]) {
    assert.ok(!secure.stdout().includes(secret) && !secure.stderr().includes(secret), 'a secret leaked');
  }
});

test('an admin listener off loopback without admin.secure is refused at start, naming admin.secure and admin.insecure', async () => {
  const r = await runWebdatExpectingExit(['serve', '--config', writeConfig({ host: '0.0.0.0', token: OPS })]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /WEBDAT_ERR_CONFIG/);
  assert.match(r.stderr, /admin\.secure: must be true when admin\.host \("0\.0\.0\.0"\) is not a loopback address; set admin\.insecure: true/);
  assert.doesNotMatch(r.stdout, /listening/, 'a server was announced before the refusal');
  assert.ok(!(r.stdout + r.stderr).includes(OPS), 'the token leaked');
});

test('admin.insecure: true allows plain HTTP off loopback, with the token still enforced', async () => {
  const r = await startAdmin({ host: '0.0.0.0', token: OPS, insecure: true });
  try {
    assert.match(r.admin, /^http:\/\/0\.0\.0\.0:\d+$/);
    const base = `http://127.0.0.1:${r.adminPort}`;
    assert.equal((await fetch(base + '/servers', { headers: { authorization: `Bearer ${OPS}` } })).status, 200);
    assert.equal((await fetch(base + '/servers')).status, 401);
  } finally {
    assert.equal(await r.stop(), 0);
  }
});

function httpsPost(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'POST', ca, headers }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('error', reject);
    req.end();
  });
}

test('a tokenless secure admin on loopback takes its own https origin as the dashboard, and refuses the http one', async () => {
  const r = await startAdmin({ host: '127.0.0.1', secure: true, privateKey: site.key, certificate: site.cert, password: PASSWORD });
  try {
    assert.match(r.admin, /^https:\/\/127\.0\.0\.1:\d+$/);
    const url = `${r.admin}/servers/alpha/restart`;
    assert.equal(await httpsPost(url, { origin: r.admin }), 200);
    assert.equal(await httpsPost(url, { origin: r.admin.replace('https:', 'http:') }), 403);
    assert.equal(await httpsPost(url, { origin: 'https://evil.example' }), 403);
  } finally {
    assert.equal(await r.stop(), 0);
  }
});

test('admin.secure without key or certificate is a config error naming both keys', async () => {
  const r = await runWebdatExpectingExit(['serve', '--config', writeConfig({ host: '127.0.0.1', secure: true, token: OPS })]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /admin\.privateKey: is required when admin\.secure is true/);
  assert.match(r.stderr, /admin\.certificate: is required when admin\.secure is true/);
});

async function tlsFails(admin: Record<string, unknown>, message: RegExp) {
  const r = await runWebdatExpectingExit(['serve', '--config', writeConfig({ host: '127.0.0.1', secure: true, token: OPS, ...admin })]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /webdat: WEBDAT_ERR_TLS: admin: /);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stdout, /listening/, 'a server was announced before the TLS check');
  for (const secret of [PASSWORD, 'wrong-admin-password', OPS]) assert.ok(!(r.stdout + r.stderr).includes(secret), 'a secret leaked');
}

const escaped = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

test('a wrong or missing admin.password names the key file and exits 2 with WEBDAT_ERR_TLS', async () => {
  await tlsFails({ privateKey: site.key, certificate: site.cert, password: 'wrong-admin-password' }, new RegExp(`private key file ${escaped(site.key)}: wrong password`));
  await tlsFails({ privateKey: site.key, certificate: site.cert }, /wrong password/);
});

test('a missing admin key or certificate file, or a key that does not match, is named', async () => {
  await tlsFails({ privateKey: '/nonexistent/admin-key.pem', certificate: site.cert, password: PASSWORD }, /cannot read private key file \/nonexistent\/admin-key\.pem/);
  await tlsFails({ privateKey: site.key, certificate: '/nonexistent/admin-cert.pem', password: PASSWORD }, /cannot read certificate file \/nonexistent\/admin-cert\.pem/);
  await tlsFails({ privateKey: other.key, certificate: site.cert }, /does not match certificate file/);
});
