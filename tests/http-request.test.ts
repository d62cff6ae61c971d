import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { serveSource, startWebdat } from './helpers/webdat.ts';

// What a callback sees of a request (SPEC §4), through a real server and real clients.
const server = await serveSource(`
export function onHTTPRequest(webServer, request, response) {
  if (request.uri === '/echo') {
    response['content-type'] = typeof request.data === 'string' ? 'text/plain; charset=utf-8' : 'application/octet-stream';
    response['x-data-type'] = typeof request.data === 'string' ? 'string' : request.data.constructor.name;
    response.data = request.data;
    return response;
  }
  response['content-type'] = 'application/json';
  response.data = JSON.stringify({
    method: request.method, uri: request.uri, pars: request.pars,
    headers: request.headers, canonical: request['X-Custom-Thing'], ua: request['User-Agent'],
    clientAddress: request.clientAddress, serverAddress: request.serverAddress,
    dataType: typeof request.data, dataLength: request.data.length,
  });
}
`);
after(() => server.stop());

async function describe(path: string, init?: RequestInit): Promise<any> {
  const r = await fetch(server.url + path, init);
  assert.equal(r.status, 200);
  return r.json();
}

test('method, uri and decoded query parameters', async () => {
  const d = await describe('/a/b%20c?x=1&y=h%C3%A9llo+w&flag&x=2');
  assert.equal(d.method, 'GET');
  assert.equal(d.uri, '/a/b%20c');
  assert.deepEqual(d.pars, { x: '1', y: 'héllo w', flag: '' });
});

test('every usual method reaches the callback with its name', async () => {
  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
    const d = await describe('/m', { method, body: method === 'OPTIONS' ? undefined : 'x' });
    assert.equal(d.method, method);
  }
  const head = await fetch(server.url + '/m', { method: 'HEAD' });
  assert.equal(head.status, 200);
});

test('a non-standard method is refused by the I/O layer without hanging, and the server keeps serving', async () => {
  // uWS v20.30 closes the connection for methods outside its table (README: "HTTP methods").
  const text = await new Promise<string>((resolve, reject) => {
    const s = net.connect(server.port, '127.0.0.1', () => s.write('PURGE /cache HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    let out = '';
    s.on('data', (d) => { out += d; });
    s.on('close', () => resolve(out));
    s.on('error', reject);
  });
  assert.doesNotMatch(text, /"method"/);
  assert.equal((await describe('/after')).uri, '/after');
});

test('headers arrive lower-case in request.headers and canonical-case as top-level keys', async () => {
  const d = await describe('/h', { headers: { 'X-Custom-Thing': 'v1', 'User-Agent': 'webdat-test' } });
  assert.equal(d.headers['x-custom-thing'], 'v1');
  assert.equal(d.headers['user-agent'], 'webdat-test');
  assert.equal(d.canonical, 'v1');
  assert.equal(d.ua, 'webdat-test');
});

test('clientAddress is the peer address and serverAddress names the listener', async () => {
  const d = await describe('/addr');
  assert.equal(d.clientAddress, '127.0.0.1');
  assert.equal(d.serverAddress, `127.0.0.1:${server.port}`);
});

test('on a dual-stack listener an IPv4 client reads as 127.0.0.1 and an IPv6 one as ::1', async () => {
  const dual = await startWebdat(['--callbacks', path.join(server.dir, 'callbacks.js'), '--port', '0', '--host', '::']);
  try {
    const v4 = await (await fetch(`http://127.0.0.1:${dual.port}/addr`)).json();
    assert.equal(v4.clientAddress, '127.0.0.1');
    const v6 = await (await fetch(`http://[::1]:${dual.port}/addr`)).json();
    assert.equal(v6.clientAddress, '::1');
    assert.equal(v6.serverAddress, `[::]:${dual.port}`);
    assert.equal(dual.url, `http://[::]:${dual.port}`, 'the readiness line holds a URL');
  } finally {
    await dual.stop();
  }
});

test('a request without a body has data = ""', async () => {
  const d = await describe('/nobody');
  assert.equal(d.dataType, 'string');
  assert.equal(d.dataLength, 0);
});

test('textual bodies arrive as strings', async () => {
  const cases: Array<[string, string]> = [
    ['text/plain; charset=utf-8', 'héllo ✓'],
    ['application/json', '{"a":[1,2,"é"]}'],
    ['application/x-www-form-urlencoded', 'a=1&b=%C3%A9'],
    ['application/xml', '<a>é</a>'],
    ['application/vnd.api+json', '{"x":1}'],
    ['text/javascript', 'let a = "é";'],
  ];
  for (const [type, body] of cases) {
    const r = await fetch(server.url + '/echo', { method: 'POST', headers: { 'content-type': type }, body });
    assert.equal(r.headers.get('x-data-type'), 'string', type);
    assert.equal(await r.text(), body, type);
  }
});

test('a 1 MiB random binary body arrives as a Uint8Array and echoes byte-exact', async () => {
  const body = crypto.randomBytes(1024 * 1024);
  const r = await fetch(server.url + '/echo', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-data-type'), 'Uint8Array');
  const back = Buffer.from(await r.arrayBuffer());
  assert.equal(back.length, body.length);
  assert.ok(back.equals(body), 'echoed bytes differ');
});

test('a binary body without content-type is bytes too', async () => {
  const body = Buffer.from([0, 255, 1, 254, 0x0d, 0x0a]);
  const r = await fetch(server.url + '/echo', { method: 'PUT', body });
  assert.equal(r.headers.get('x-data-type'), 'Uint8Array');
  assert.ok(Buffer.from(await r.arrayBuffer()).equals(body));
});
