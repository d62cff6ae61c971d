import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import WebSocket from 'ws';
import { runWebdatExpectingExit, serveSource } from './helpers/webdat.ts';
import { makeCerts } from './helpers/certs.ts';

// --secure with real certificates made here; HTTPS and WSS checked with real clients.
const certs = makeCerts();
const PASSWORD = `pw-${process.pid}-secret`;
const site = certs.issue('localhost', PASSWORD);
const other = certs.issue('other');
const ca = fs.readFileSync(certs.ca);
const source = `
export function onHTTPRequest(w, req, res) { res.data = 'secure=' + w.secure; }
export function onWebSocketReceiveText(w, client, data) { w.webSocketSendText(client, 'wss:' + data); }
`;

const server = await serveSource(source, ['--secure', '--private-key', site.key, '--certificate', site.cert, '--password', PASSWORD]);
after(() => server.stop());

function httpsGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https.get(url, { ca }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

test('serves HTTPS with an encrypted key given by --password, and the readiness line says https', async () => {
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const r = await httpsGet(`https://localhost:${server.port}/`);
  assert.deepEqual(r, { status: 200, body: 'secure=true' });
});

test('curl verifies the certificate against the test CA', () => {
  const out = execFileSync('curl', ['-sS', '--cacert', certs.ca, '--resolve', `localhost:${server.port}:127.0.0.1`, `https://localhost:${server.port}/`]).toString();
  assert.equal(out, 'secure=true');
});

test('serves WSS', async () => {
  const ws = new WebSocket(`wss://localhost:${server.port}/`, { ca });
  await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
  const reply = new Promise<string>((r) => ws.once('message', (d) => r(String(d))));
  ws.send('hi');
  assert.equal(await reply, 'wss:hi');
  ws.close();
});

test('WEBDAT_TLS_PASSWORD works in place of --password', async () => {
  const s = await serveSource(source, ['--secure', '--private-key', site.key, '--certificate', site.cert], { WEBDAT_TLS_PASSWORD: PASSWORD });
  try {
    assert.equal((await httpsGet(`https://localhost:${s.port}/`)).body, 'secure=true');
  } finally {
    await s.stop();
  }
});

test('the password never appears in any output', () => {
  assert.ok(!server.stdout().includes(PASSWORD));
  assert.ok(!server.stderr().includes(PASSWORD));
});

async function failsWith(args: string[], message: RegExp, env?: NodeJS.ProcessEnv) {
  const r = await runWebdatExpectingExit(['serve', '--port', '0', '--host', '127.0.0.1', '--secure', ...args], { env });
  assert.equal(r.code, 2, `exited ${r.code}\n${r.stderr}`);
  assert.match(r.stderr, message);
  assert.ok(!(r.stdout + r.stderr).includes(PASSWORD), 'password leaked');
  assert.ok(!(r.stdout + r.stderr).includes('wrong-password-given'), 'password leaked');
  return r;
}

test('a wrong password names the key file and exits with code 2', async () => {
  await failsWith(['--private-key', site.key, '--certificate', site.cert, '--password', 'wrong-password-given'], new RegExp(`WEBDAT_ERR_TLS.*${site.key.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}.*wrong password`));
  await failsWith(['--private-key', site.key, '--certificate', site.cert], /wrong password/);
});

test('a missing file is named', async () => {
  await failsWith(['--private-key', '/nonexistent/key.pem', '--certificate', site.cert, '--password', PASSWORD], /private key file \/nonexistent\/key\.pem/);
  await failsWith(['--private-key', site.key, '--certificate', '/nonexistent/cert.pem', '--password', PASSWORD], /certificate file \/nonexistent\/cert\.pem/);
});

test('a key that does not match the certificate is named', async () => {
  await failsWith(['--private-key', other.key, '--certificate', site.cert], /does not match certificate file/);
});

test('--secure without key or certificate is a config error naming the key', async () => {
  await failsWith([], /privateKey: is required when secure is true/);
});
