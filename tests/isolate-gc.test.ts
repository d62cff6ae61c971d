import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { serveConfig } from './helpers/webdat.ts';

// An isolate whose heap grew is collected by the host between tasks (isolate-host.ts, collectIfGrown):
// V8 alone left a quiet server's old garbage in place for minutes, and RSS with it. The `gc` that V8
// puts on the isolate's global for this is the host's only: the callbacks see it undefined.

// '/garbage' keeps 200,000 objects alive long enough to be promoted to the old generation, then drops them.
const source = `export function onHTTPRequest(w, req, res) {
  if (req.uri === '/garbage') { const t = []; for (let i = 0; i < 200000; i++) t.push({ i, s: 'x' + i }); }
  let set = 'no';
  try { globalThis.gc = () => 1; set = String(globalThis.gc); } catch (e) { set = e.name; }
  res.data = typeof gc + ' ' + set;
  return res;
}`;

const s = await serveConfig(source, { limits: { timeoutMs: 5000, cpuMs: 5000 } }, [], { admin: { host: '127.0.0.1', port: 0 } });
after(() => s.stop());
const port = Number(/listening on http:\/\/[^:]+:(\d+)/.exec(await s.waitFor(/webdat: server "default" listening on \S+/))![1]);
const admin = /webdat: admin listening on (http:\/\/\S+)/.exec(await s.waitFor(/webdat: admin listening on \S+/))![1];

const get = async (uri: string) => { const r = await fetch(`http://127.0.0.1:${port}${uri}`); assert.equal(r.status, 200); return r.text(); };
async function heapMiB(): Promise<number> {
  const text = await (await fetch(`${admin}/metrics`)).text();
  const m = /^webdat_isolate_heap_bytes\{server="default"\} (\S+)/m.exec(text);
  assert.ok(m !== null, text);
  return Number(m[1]) / 1048576;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('the callbacks see no gc and cannot put one there', async () => {
  assert.equal(await get('/'), 'undefined TypeError');
});

test('garbage an isolate left in its heap is collected within seconds, without waiting for V8', async () => {
  const before = await heapMiB();
  await get('/garbage');
  // The host reads the heap at most every 100 ms, with a task's result, and collects between tasks.
  let now = Infinity;
  for (let i = 0; i < 40 && now >= before + 3; i++) { await sleep(150); await get('/'); now = await heapMiB(); }
  assert.ok(now < before + 3, `heap ${now.toFixed(1)} MiB, ${before.toFixed(1)} MiB before the garbage`);
});
