import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { serveSource } from './helpers/webdat.ts';

// Large response bodies (8 KiB and more) leave an isolate through its outbox, shared memory the
// isolate writes and the worker reads before the isolate runs again (sandbox worker/outbox.ts). Each
// path a response takes out of an isolate is provoked here with bodies whose bytes say where they
// came from: a synchronous callback, an async one answered in the same batch, one resumed by a timer
// (the worker's host loop, outside any task), views with offsets, and callbacks that rewrite the
// built-ins the outbox uses.
const server = await serveSource(`
function fill(size, seed) {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 13 + seed) & 255;
  return b;
}
export async function onHTTPRequest(webServer, request, response) {
  const size = Number(request.pars.size ?? 65536);
  const seed = Number(request.pars.seed ?? 1);
  response['content-type'] = 'application/octet-stream';
  switch (request.uri) {
    case '/sync':
      response.data = fill(size, seed);
      return response;
    case '/async':
      await null;
      response.data = fill(size, seed);
      return response;
    case '/timer':
      await new Promise((r) => setTimeout(r, 5));
      response.data = fill(size, seed);
      return response;
    case '/view': {
      // 3 bytes in, 5 short of the end: only the view's bytes are the body
      const whole = fill(size + 8, seed);
      response.data = whole.subarray(3, size + 3);
      return response;
    }
    case '/dataview':
      response.data = new DataView(fill(size + 8, seed).buffer, 3, size);
      return response;
    case '/int16':
      response.data = new Int16Array(fill(size, seed).buffer);
      return response;
    case '/arraybuffer':
      response.data = fill(size, seed).buffer;
      return response;
    case '/mutated': {
      // bytes changed after the answer was read (its promise settled) must not reach the client
      const b = fill(size, seed);
      response.data = b;
      setTimeout(() => b.fill(0), 0);
      return response;
    }
  }
}
`, ['--timeout-ms', '10000']); // filling bodies in the isolate is not what is tested: no time limit may cut it on a busy machine
after(async () => { await server.stop(); });

function expected(size: number, seed: number, offset = 0): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = ((i + offset) * 13 + seed) & 255;
  return b;
}

async function body(path: string): Promise<Uint8Array> {
  const r = await fetch(server.url + path);
  assert.equal(r.status, 200, `${path}: ${r.status} ${r.headers.get('x-webdat-error')}`);
  return new Uint8Array(await r.arrayBuffer());
}

test('bodies from synchronous, async and timer-resumed callbacks are byte-exact', async () => {
  for (const path of ['/sync', '/async', '/timer']) {
    for (const size of [8 * 1024 - 1, 8 * 1024, 64 * 1024 + 3, 600 * 1024]) {
      assert.deepEqual(await body(`${path}?size=${size}&seed=${size % 251}`), expected(size, size % 251), `${path} ${size}`);
    }
  }
});

test('a view sends only its own bytes, whatever its type and offset', async () => {
  const size = 40 * 1024;
  assert.deepEqual(await body(`/view?size=${size}&seed=7`), expected(size, 7, 3));
  assert.deepEqual(await body(`/dataview?size=${size}&seed=8`), expected(size, 8, 3));
  assert.deepEqual(await body(`/int16?size=${size}&seed=9`), expected(size, 9));
  assert.deepEqual(await body(`/arraybuffer?size=${size}&seed=10`), expected(size, 10));
});

test('bytes changed after the answer do not reach the client', async () => {
  assert.deepEqual(await body('/mutated?size=65536&seed=11'), expected(65536, 11));
});

test('many large bodies of one batch, more than an outbox holds, each arrive whole and in their own response', async () => {
  // 40 × 64 KiB at once: a 1 MiB outbox takes about 8 per call, so the batch spans several calls
  // and the outbox is reused between them.
  for (const path of ['/sync', '/async', '/timer']) {
    const got = await Promise.all(Array.from({ length: 40 }, (_, n) => body(`${path}?size=65536&seed=${n}`)));
    got.forEach((b, n) => assert.deepEqual(b, expected(65536, n), `${path} body ${n}`));
  }
});

test('a body larger than the outbox is sent whole the ordinary way', async () => {
  const size = 1024 * 1024 + 5;
  assert.deepEqual(await body(`/sync?size=${size}&seed=12`), expected(size, 12));
});

test('callbacks that rewrite the typed-array built-ins cannot change how a body is read', async () => {
  const rewriting = await serveSource(`
const BODY = new Uint8Array(65536);
for (let i = 0; i < BODY.length; i++) BODY[i] = (i * 13 + 14) & 255;
export function onHTTPRequest(webServer, request, response) {
  const T = Object.getPrototypeOf(Uint8Array.prototype);
  T.set = function () { throw new Error('rewritten set'); };
  for (const name of ['byteLength', 'byteOffset', 'length']) Object.defineProperty(T, name, { get() { return 1; }, configurable: true });
  Object.defineProperty(T, 'buffer', { get() { return new ArrayBuffer(1); }, configurable: true });
  Object.defineProperty(ArrayBuffer.prototype, 'byteLength', { get() { return 1; }, configurable: true });
  globalThis.Uint8Array = function () { throw new Error('rewritten Uint8Array'); };
  globalThis.DataView = function () { throw new Error('rewritten DataView'); };
  response.data = BODY;
  return response;
}
`);
  try {
    for (let i = 0; i < 3; i++) {
      const r = await fetch(rewriting.url + '/');
      assert.equal(r.status, 200);
      assert.deepEqual(new Uint8Array(await r.arrayBuffer()), expected(65536, 14), `request ${i}`);
    }
  } finally {
    await rewriting.stop();
  }
});
