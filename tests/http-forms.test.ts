import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startWebdat, tempDir } from './helpers/webdat.ts';
import { exchange } from './helpers/raw-http.ts';
import { freePort } from './helpers/free-port.ts';

// Request forms a client can send on a raw socket (issue 9, item 10). webdat answers them as nginx
// does where uWebSockets.js v20.30 lets it see them; the forms uWS drops itself are shown as they are.

const named = (name: string) => `
let seen = 0;
export function onHTTPRequest(w, req, res) {
  seen++;
  res.data = req.uri === '/seen' ? String(seen) : '${name} ' + req.headers.host;
}
`;


const shared = await freePort();
const dir = tempDir({ 'solo.js': named('solo'), 'alpha.js': named('alpha'), 'beta.js': named('beta') });
const config = path.join(dir, 'webdat.json');
fs.writeFileSync(config, JSON.stringify({
  servers: [
    { name: 'solo', host: '127.0.0.1', port: 0, callbacks: 'solo.js' },
    { name: 'alpha', host: '127.0.0.1', port: shared, callbacks: 'alpha.js', hosts: ['alpha.test'] },
    { name: 'beta', host: '127.0.0.1', port: shared, callbacks: 'beta.js', hosts: ['beta.test'] },
  ],
}));
const server = await startWebdat(['--config', config], { expectServers: 3 });
after(() => server.stop());
const solo = Number(new URL(server.urls.get('solo')!).port);

const get = (port: number, head: string) => exchange(port, `GET / HTTP/1.1\r\n${head}Connection: close\r\n\r\n`);

async function seen(port: number, host: string): Promise<number> {
  return Number((await exchange(port, `GET /seen HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)).body);
}

async function refused(port: number, raw: string, status: number, kind: string, text: RegExp) {
  const r = await exchange(port, raw);
  assert.equal(r.status, status, `${JSON.stringify(raw.slice(0, 80))}\n${r.headers}`);
  assert.match(r.headers, new RegExp(`\\r\\nx-webdat-error: ${kind}\\r\\n`));
  assert.match(r.headers, /\r\nConnection: close\r\n/);
  assert.match(r.body, text);
}

test('an invalid Content-Length is answered 400 before any callback runs, also where uWS closes the connection itself', async () => {
  const before = await seen(solo, 'x');
  for (const value of ['-1', '0x5', '5,5', '+5', '', '1e3', '99999999999999999999']) {
    await refused(solo, `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${value}\r\n\r\nhello`, 400, 'bad-request', /^Invalid Content-Length\.\n/);
  }
  await refused(solo, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello', 400, 'bad-request', /^Duplicate Content-Length header\.\n/);
  assert.equal(await seen(solo, 'x'), before + 1, 'only the counting request reached the callback');
});

test('a duplicate, empty or malformed Host is answered 400, on a single-server port and a shared one', async () => {
  for (const port of [solo, shared]) {
    const before = await seen(port, 'alpha.test');
    await refused(port, 'GET / HTTP/1.1\r\nHost: alpha.test\r\nHost: beta.test\r\n\r\n', 400, 'bad-request', /^Duplicate Host header\.\n/);
    for (const host of ['', 'alpha..test', 'alpha.test/x', 'alpha test', '.']) {
      await refused(port, `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`, 400, 'bad-request', /^Missing or invalid Host header\.\n/);
    }
    assert.equal(await seen(port, 'alpha.test'), before + 1, 'only the counting request reached the callback');
  }
});

test('a Host with a trailing dot is routed without it, as nginx does', async () => {
  for (const [host, owner] of [['alpha.test.', 'alpha'], ['ALPHA.Test.:80', 'alpha'], ['beta.test.', 'beta']]) {
    const r = await get(shared, `Host: ${host}\r\n`);
    assert.equal(r.status, 200);
    assert.equal(r.body, `${owner} ${host}`, 'the callback sees the header as sent');
  }
  assert.equal((await get(shared, 'Host: gamma.test.\r\n')).status, 421);
});

test('header fields over 8 KiB each or 32 KiB in all get 431; a request target over 8 KiB gets 414', async () => {
  const ok = await get(solo, `Host: x\r\nx-big: ${'a'.repeat(8000)}\r\n`);
  assert.equal(ok.status, 200);
  await refused(solo, `GET / HTTP/1.1\r\nHost: x\r\nx-big: ${'a'.repeat(8200)}\r\n\r\n`, 431, 'headers-too-large', /^Request header fields too large\.\n/);
  const many = Array.from({ length: 40 }, (_, i) => `x-h${i}: ${'b'.repeat(1000)}\r\n`).join('');
  await refused(solo, `GET / HTTP/1.1\r\nHost: x\r\n${many}\r\n`, 431, 'headers-too-large', /^Request header fields too large\.\n/);
  assert.equal((await exchange(solo, `GET /${'p'.repeat(4000)}?${'q'.repeat(4000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)).status, 200);
  await refused(solo, `GET /${'p'.repeat(4100)}?${'q'.repeat(4100)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414, 'uri-too-long', /^Request target too long\.\n/);
});

// README, "Choices and deviations": uWS.js v20.30 drops these before webdat sees them. Checked on a
// bare uWS.js app too: no byte is written, and uWS closes the idle connection about 10 s later.
test('forms uWS.js drops itself get no answer and are closed within 30 s', async () => {
  const fields = (n: number) => Array.from({ length: n - 1 }, (_, i) => `x-h${i}: v\r\n`).join('');
  const dropped = {
    'HTTP/1.0': 'GET / HTTP/1.0\r\nHost: x\r\n\r\n',
    'HTTP/1.1 without Host': 'GET / HTTP/1.1\r\n\r\n',
    'absolute-form target': 'GET http://x/y HTTP/1.1\r\nHost: x\r\n\r\n',
    'OPTIONS *': 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n',
    CONNECT: 'CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n',
    '49 header fields': `GET / HTTP/1.1\r\nHost: x\r\n${fields(49)}\r\n`,
    'HTTP/2.0 in a request line': 'GET / HTTP/2.0\r\nHost: x\r\n\r\n',
    'Content-Length with Transfer-Encoding': 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    'a header name with an underscore': 'GET / HTTP/1.1\r\nHost: x\r\nx_y: 1\r\n\r\n',
    '__proto__ as a header name': 'GET / HTTP/1.1\r\nHost: x\r\n__proto__: 1\r\n\r\n',
    // webdat always answers on a later loop turn: uWS closes when a second request arrives meanwhile.
    'two pipelined requests': 'GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n',
  };
  const results = await Promise.all(Object.entries(dropped).map(async ([form, raw]) => [form, await exchange(solo, raw)] as const));
  for (const [form, r] of results) assert.equal(r.bytes, 0, `${form}: ${r.headers}`);
  assert.equal((await get(solo, `Host: x\r\n${fields(47)}`)).status, 200, '48 header fields are served');
});
