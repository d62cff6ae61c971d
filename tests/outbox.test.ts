import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { serveSource, startWebdat, tempDir } from './helpers/webdat.ts';

// Large response bodies (8 KiB and more) leave an isolate through its outbox, a ring of shared memory
// the isolate writes and the I/O thread writes to the sockets from and frees (sandbox worker/outbox.ts).
// Each path a response takes out of an isolate is provoked here with bodies whose bytes say where they
// came from: a synchronous callback, an async one answered in the same batch, one resumed by a timer
// (the worker's host loop, outside any task: copied), views with offsets, callbacks that rewrite the
// built-ins the outbox uses, the ring wrapping around many times, servers sharing a worker, and an
// isolate recycled while its bodies are still being written.
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

test('many large bodies at once, more than an outbox holds, each arrive whole and in their own response', async () => {
  // 100 × 64 KiB at once (6.25 MiB): more than the 4 MiB outbox, so some wait for room or go the ordinary way.
  for (const path of ['/sync', '/async', '/timer']) {
    const got = await Promise.all(Array.from({ length: 100 }, (_, n) => body(`${path}?size=65536&seed=${n}`)));
    got.forEach((b, n) => assert.deepEqual(b, expected(65536, n), `${path} body ${n}`));
  }
});

test('bodies stay byte-exact while the outbox wraps around many times, at every size and alignment', async () => {
  // 12 rounds of 24 bodies of 8 KiB to ~300 KiB: ~45 MiB through a 4 MiB ring, its ends falling anywhere.
  for (let round = 0; round < 12; round++) {
    const sizes = Array.from({ length: 24 }, (_, n) => 8192 + ((round * 24 + n) * 104_729) % (300 * 1024));
    const paths = sizes.map((size, n) => `${n % 3 === 0 ? '/view' : '/sync'}?size=${size}&seed=${(round + n) % 251}`);
    const got = await Promise.all(paths.map(body));
    got.forEach((b, n) => assert.deepEqual(b, expected(sizes[n], (round + n) % 251, n % 3 === 0 ? 3 : 0), paths[n]));
  }
});

test('a body larger than the outbox is sent whole the ordinary way', async () => {
  const size = 4 * 1024 * 1024 + 5;
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

test('servers on one worker get only their own bytes, also while one of them is recycled at its memory limit', async () => {
  // One worker thread: three isolates, three outboxes, one I/O thread reading them all. Server "c"
  // exhausts its memory on /boom between bodies, so its isolate and outbox are replaced while bodies
  // it wrote earlier may still be on their way.
  const source = (seed: number) => `
function fill(size, seed) {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 13 + seed) & 255;
  return b;
}
export function onHTTPRequest(webServer, request, response) {
  if (request.uri === '/boom') { const hog = []; for (;;) hog.push(new Array(1e5).fill(1)); }
  response.data = fill(Number(request.pars.size), ${seed} + Number(request.pars.n));
  return response;
}`;
  const dir = tempDir({ 'a.js': source(0), 'b.js': source(100), 'c.js': source(200) });
  const server = (name: string) => ({ name, host: '127.0.0.1', port: 0, callbacks: path.join(dir, `${name}.js`), limits: { memoryMb: 32, timeoutMs: 10_000, cpuMs: 10_000 } });
  const config = path.join(dir, 'webdat.json');
  fs.writeFileSync(config, JSON.stringify({ workers: 1, servers: [server('a'), server('b'), server('c')] }));
  const running = await startWebdat(['--config', config], { expectServers: 3 });
  try {
    // A request of "c" that shares the breaching turn is lost with the isolate (503 memory, as SPEC §5
    // says); any other answer is 200 with exactly its own bytes.
    const get = async (name: string, n: number, size: number): Promise<Uint8Array | null> => {
      const r = await fetch(`${running.urls.get(name)}/?size=${size}&n=${n}`);
      if (name === 'c' && r.status === 503 && r.headers.get('x-webdat-error') === 'memory') return null;
      assert.equal(r.status, 200, `${name} ${n}: ${r.status} ${r.headers.get('x-webdat-error')}`);
      return new Uint8Array(await r.arrayBuffer());
    };
    for (let round = 0; round < 4; round++) {
      const asked: [string, number, number][] = [];
      for (let n = 0; n < 30; n++) asked.push([['a', 'b', 'c'][n % 3], n, 20_000 + n * 4099]);
      const pending = asked.map(([name, n, size]) => get(name, n, size));
      const boom = await fetch(`${running.urls.get('c')}/boom`);
      assert.equal(boom.status, 503, 'the memory breach is answered 503');
      const got = await Promise.all(pending);
      got.forEach((b, i) => {
        const [name, n, size] = asked[i];
        if (b === null) return;
        assert.deepEqual(b, expected(size, ({ a: 0, b: 100, c: 200 } as Record<string, number>)[name] + n), `round ${round}: ${name} ${n}`);
      });
    }
    // After its last breach, "c" answers as before, from its new isolate and outbox.
    assert.deepEqual(await get('c', 7, 70_000), expected(70_000, 207));
  } finally {
    await running.stop();
  }
});
