import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { serveConfig } from './helpers/webdat.ts';
import { startUpstream } from './helpers/upstream.ts';

// The mechanism under storage and fetch (README "Storage and fetch belong to the invocation that uses
// them"): an operation belongs to the invocation that started it, is canceled when that invocation
// ends or its isolate is recreated, and is refused at the top level of the module.

const up = await startUpstream();
after(() => up.close());

const source = `
const atTopLevel = (async () => { try { await webServerStorage(); } catch (e) { return e.message; } })();
function webServerStorage() { return fetch('http://127.0.0.1/'); }
let last = 'none';
export async function onHTTPRequest(w, req, res) {
  switch (req.uri) {
    case '/top-level': res.data = await atTopLevel; return;
    case '/unawaited':
      last = 'pending';
      w.storage.get('k').then(() => { last = 'resolved'; }, (e) => { last = e.name + ': ' + e.message; });
      res.data = 'started';
      return;
    case '/last': res.data = last; return;
    case '/hold': res.data = await (await fetch(req.pars.u)).text(); return;
    case '/bomb': { const keep = []; for (;;) keep.push(new Array(1e5).fill(1)); }
  }
  res.data = 'ok';
}
`;

const server = await serveConfig(source, {
  egress: { allow: [`127.0.0.1:${up.port}`] },
  limits: { timeoutMs: 600_000, cpuMs: 60_000, memoryMb: 32 },
});
after(() => server.stop());

async function text(p: string): Promise<{ status: number; error: string | null; body: string }> {
  const r = await fetch(server.url + p);
  return { status: r.status, error: r.headers.get('x-webdat-error'), body: await r.text() };
}

test('a host operation started at the top level of the module is refused', async () => {
  assert.equal((await text('/top-level')).body, 'fetch can be used only while a callback runs, not at the top level of the module');
});

test('an operation its invocation did not await is canceled when the invocation ends (AbortError)', async () => {
  assert.equal((await text('/unawaited')).body, 'started');
  assert.equal((await text('/last')).body, 'AbortError: the callback invocation that started this operation has ended');
});

test('recreating the isolate (memory breach) cancels the operations it had running', async () => {
  const held = text(`/hold?u=${encodeURIComponent(`${up.origin}/hold`)}`);
  await up.holds.reach(1);
  const bomb = await text('/bomb');
  assert.equal(bomb.error, 'memory');
  const r = await held;
  assert.equal(r.status, 503);
  assert.equal(r.error, 'memory');
  await up.holdsCut.reach(1);
  assert.equal((await text('/')).body, 'ok');
});
