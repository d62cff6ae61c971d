import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { serveSource } from './helpers/webdat.ts';

// What a callback can answer (SPEC §4) and what is refused, seen by real clients.
const server = await serveSource(`
let hits = 0;
export async function onHTTPRequest(webServer, request, response) {
  hits++;
  switch (request.uri) {
    case '/top-level':
      response['content-type'] = 'text/plain; charset=utf-8';
      response['X-Top'] = 'top';
      response['set-cookie'] = ['a=1', 'b=2'];
      response.data = 'top-level headers';
      return response;
    case '/headers-object':
      response.headers = { 'x-from-object': 'obj', 'content-type': 'application/json' };
      response.data = '{"ok":true}';
      return;
    case '/status':
      response.statusCode = 418;
      response.statusReason = 'Short And Stout';
      response.data = 'teapot';
      return response;
    case '/status-default-reason':
      response.statusCode = 404;
      return response;
    case '/async': {
      await null;
      const v = await Promise.resolve('async answer');
      response.data = v;
      return response;
    }
    case '/new-object':
      return { statusCode: 201, statusReason: 'Created', data: 'fresh', 'x-new': 'yes' };
    case '/bytes':
      response.data = new Uint8Array([0, 1, 2, 253, 254, 255]);
      return response;
    case '/arraybuffer':
      response.data = new Uint8Array([9, 8, 7]).buffer;
      return response;
    case '/big':
      response.data = 'x'.repeat(3 * 1024 * 1024);
      return response;
    case '/throw':
      throw new Error('secret-stack-marker');
    case '/crlf':
      response['x-evil'] = 'a\\r\\nInjected: yes';
      response.data = 'should not be sent';
      return response;
    case '/bad-name':
      response['bad name'] = 'x';
      return response;
    case '/bad-status':
      response.statusCode = 99999;
      return response;
    case '/bad-data':
      response.data = { not: 'allowed' };
      return response;
    case '/hits':
      response.data = String(hits);
      return response;
    case '/no-content':
    case '/not-modified':
      response.statusCode = request.uri === '/no-content' ? 204 : 304;
      response['x-kept'] = 'yes';
      response.data = 'a body HTTP forbids here';
      return response;
  }
  response.data = 'default';
}
`);
const missing = await serveSource(`export function onServerStart() {}`);
// README, "What a callback returns or throws": a getter callbacks put on Object.prototype is theirs, not how webdat reads answers.
const poisoned = await serveSource(`
export function onHTTPRequest(webServer, request, response) {
  if (request.uri === '/poison') {
    for (const key of ['headers', 'statusCode', 'statusReason', 'data']) {
      Object.defineProperty(Object.prototype, key, { get() { for (;;) {} }, configurable: true });
    }
  }
  delete response.statusReason;
  response.data = 'answered ' + request.uri;
}
`);
after(async () => { await server.stop(); await missing.stop(); await poisoned.stop(); });

function raw(port: number, path: string, method = 'GET'): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(`${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    let out = '';
    s.on('data', (d) => { out += d; });
    s.on('close', () => resolve(out));
    s.on('error', reject);
  });
}

test('headers set as top-level keys, including repeated ones', async () => {
  const r = await fetch(server.url + '/top-level');
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.equal(r.headers.get('x-top'), 'top');
  assert.deepEqual(r.headers.getSetCookie(), ['a=1', 'b=2']);
  assert.equal(await r.text(), 'top-level headers');
});

test('headers set in response.headers, and returning nothing sends the mutated response', async () => {
  const r = await fetch(server.url + '/headers-object');
  assert.equal(r.headers.get('x-from-object'), 'obj');
  assert.deepEqual(await r.json(), { ok: true });
});

test('statusCode and statusReason reach the status line', async () => {
  const text = await raw(server.port, '/status');
  assert.match(text, /^HTTP\/1\.1 418 Short And Stout\r\n/);
  assert.match(text, /teapot$/);
});

test('a status without its own reason gets the standard phrase', async () => {
  assert.match(await raw(server.port, '/status-default-reason'), /^HTTP\/1\.1 404 Not Found\r\n/);
});

test('async callbacks answer when their promise settles', async () => {
  const r = await fetch(server.url + '/async');
  assert.equal(await r.text(), 'async answer');
});

test('a callback may return a new response object', async () => {
  const r = await fetch(server.url + '/new-object');
  assert.equal(r.status, 201);
  assert.equal(r.headers.get('x-new'), 'yes');
  assert.equal(await r.text(), 'fresh');
});

test('binary bodies from Uint8Array and ArrayBuffer are byte-exact', async () => {
  assert.deepEqual([...new Uint8Array(await (await fetch(server.url + '/bytes')).arrayBuffer())], [0, 1, 2, 253, 254, 255]);
  assert.deepEqual([...new Uint8Array(await (await fetch(server.url + '/arraybuffer')).arrayBuffer())], [9, 8, 7]);
});

test('a 3 MiB body is streamed whole', async () => {
  const text = await (await fetch(server.url + '/big')).text();
  assert.equal(text.length, 3 * 1024 * 1024);
  assert.ok(/^x+$/.test(text));
});

test('a module without onHTTPRequest answers 404', async () => {
  const r = await fetch(missing.url + '/anything');
  assert.equal(r.status, 404);
});

test('a throw is a 500 with no stack in the body, and the stack goes to the log', async () => {
  const r = await fetch(server.url + '/throw');
  assert.equal(r.status, 500);
  assert.equal(r.headers.get('x-webdat-error'), 'exception');
  const body = await r.text();
  assert.doesNotMatch(body, /secret-stack-marker|at onHTTPRequest|callbacks\.js/);
  await server.waitFor(/secret-stack-marker[\s\S]*callbacks\.js:\d+/);
});

test('a CR/LF in a header value is a 500 and nothing is injected on the wire', async () => {
  const text = await raw(server.port, '/crlf');
  assert.match(text, /^HTTP\/1\.1 500 /);
  assert.match(text, /x-webdat-error: exception/i);
  assert.doesNotMatch(text, /Injected/i);
  assert.doesNotMatch(text, /should not be sent/);
});

test('an invalid header name, an invalid status or an unsupported data type is a 500', async () => {
  for (const path of ['/bad-name', '/bad-status', '/bad-data']) {
    const r = await fetch(server.url + path);
    assert.equal(r.status, 500, path);
    assert.equal(r.headers.get('x-webdat-error'), 'exception', path);
  }
});

test('module state persists across requests', async () => {
  const a = Number(await (await fetch(server.url + '/hits')).text());
  const b = Number(await (await fetch(server.url + '/hits')).text());
  assert.equal(b, a + 1);
});

test('many large binary bodies at once arrive byte-exact, more of them than the shared body ring holds', async () => {
  // Each worker passes large bodies through a 16 MiB shared ring; 48 × 1 MiB in flight overflow it,
  // so some bodies take the inline path and the ring wraps around while others are being written.
  const s = await serveSource(`
export function onHTTPRequest(w, req, res) {
  const n = Number(req.pars.n);
  const size = Number(req.pars.size);
  const body = new Uint8Array(size);
  for (let i = 0; i < size; i++) body[i] = (i * 31 + n * 7) & 255;
  res['content-type'] = 'application/octet-stream';
  res.data = body;
  return res;
}
`, ['--timeout-ms', '10000']); // filling 1 MiB in the isolate is not what is tested: no time limit may cut it on a busy machine
  try {
    const expected = (n: number, size: number) => {
      const b = new Uint8Array(size);
      for (let i = 0; i < size; i++) b[i] = (i * 31 + n * 7) & 255;
      return b;
    };
    for (const size of [1024 * 1024, 64 * 1024 + 3]) {
      const got = await Promise.all(Array.from({ length: 48 }, async (_, n) => new Uint8Array(await (await fetch(`${s.url}/?n=${n}&size=${size}`)).arrayBuffer())));
      got.forEach((b, n) => assert.deepEqual(b, expected(n, size), `body ${n} of ${size} bytes`));
    }
  } finally {
    await s.stop();
  }
});

test('answers to HEAD, and 204 and 304 answers, carry no body; kept-alive connections go on', async () => {
  const head = await raw(server.port, '/top-level', 'HEAD');
  assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(head, /\r\nx-top: top\r\n/i);
  for (const [path, status] of [['/no-content', 204], ['/not-modified', 304]] as const) {
    const text = await raw(server.port, path);
    assert.match(text, new RegExp(`^HTTP/1\\.1 ${status} `));
    assert.match(text, /\r\nx-kept: yes\r\n/i);
    assert.ok(text.endsWith('\r\n\r\n'), JSON.stringify(text));
  }
  assert.ok(head.endsWith('\r\n\r\n'), JSON.stringify(head));
  const error = await raw(server.port, '/throw', 'HEAD');
  assert.match(error, /^HTTP\/1\.1 500 /);
  assert.ok(error.endsWith('\r\n\r\n'), JSON.stringify(error));
  // One connection: each next answer is read where it starts.
  const answers = await sequence(server.port, ['HEAD /top-level', 'GET /no-content', 'GET /not-modified', 'GET /new-object']);
  assert.deepEqual(answers.map((a) => a.split('\r\n')[0]), ['HTTP/1.1 200 OK', 'HTTP/1.1 204 No Content', 'HTTP/1.1 304 Not Modified', 'HTTP/1.1 201 Created']);
  assert.ok(answers[3].endsWith('\r\n\r\nfresh'), JSON.stringify(answers[3]));
});

/** Sends requests one at a time on one kept-alive connection; each answer is read whole (by its Content-Length) before the next goes. */
function sequence(port: number, lines: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const answers: string[] = [];
    let buf = '';
    const next = () => {
      if (answers.length === lines.length) { s.end(); resolve(answers); return; }
      s.write(`${lines[answers.length]} HTTP/1.1\r\nHost: x\r\n\r\n`);
    };
    s.on('data', (d) => {
      buf += d;
      const headEnd = buf.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const isHead = lines[answers.length].startsWith('HEAD ');
      const length = isHead ? 0 : Number(/\r\ncontent-length: (\d+)/i.exec(buf.slice(0, headEnd))?.[1] ?? 0);
      if (buf.length < headEnd + 4 + length) return;
      answers.push(buf.slice(0, headEnd + 4 + length));
      buf = buf.slice(headEnd + 4 + length);
      assert.equal(buf, '', 'nothing follows an answer');
      next();
    });
    s.on('error', reject);
    s.on('close', () => { if (answers.length < lines.length) reject(new Error(`closed after ${answers.length} answers: ${JSON.stringify(answers)}`)); });
    s.on('connect', next);
  });
}

test('getters callbacks put on Object.prototype do not change how webdat reads their response', async () => {
  assert.equal(await (await fetch(poisoned.url + '/poison')).text(), 'answered /poison');
  const r = await fetch(poisoned.url + '/after');
  assert.equal(r.status, 200);
  assert.equal(await r.text(), 'answered /after');
});
