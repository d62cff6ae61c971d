import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { serveConfig, serveSource, type Running } from './helpers/webdat.ts';
import { connect } from './helpers/ws.ts';

// SPEC §9 timers through a real server: browsers' behaviour, a timer callback as an invocation of its
// own (limits, logs, exception counts, WebSocket sends), awaiting a timer, limits.maxTimers, and
// timers cleared on stop, reload and isolate recreation.

const ADMIN_LINE = /webdat: admin listening on (http:\/\/\S+)/;

const source = `
let ticks = 0;
let ticker = null;
const seen = [];
export function onServerStart(w) {
  ticker = setInterval((label) => { ticks++; w.webSocketBroadcastText(label + ' ' + ticks); }, 20, 'tick');
}
export function onWebSocketOpen(w, client) {
  setTimeout((c, text) => w.webSocketSendText(c, text), 5, client, 'hello from a timer');
}
export async function onHTTPRequest(w, req, res) {
  switch (req.uri) {
    case '/sleep': {
      const t0 = Date.now();
      await new Promise((r) => setTimeout(r, 60));
      res.data = String(Date.now() - t0);
      return;
    }
    case '/sleep-too-long': await new Promise((r) => setTimeout(r, 5000)); res.data = 'late'; return;
    case '/order': {
      const order = [];
      const fired = new Promise((r) => setTimeout(() => { order.push('timeout'); r(); }, 0));
      queueMicrotask(() => order.push('microtask'));
      Promise.resolve().then(() => order.push('promise'));
      order.push('sync');
      await fired;
      res.data = order.join(',');
      return;
    }
    case '/cleared': {
      let fired = 0;
      const a = setTimeout(() => fired++, 0);
      clearTimeout(a);
      const b = setInterval(() => { fired += 10; if (fired >= 30) clearInterval(b); }, 1);
      await new Promise((r) => setTimeout(r, 100));
      res.data = String(fired);
      return;
    }
    case '/throw': setTimeout(() => { throw new Error('boom from a timer'); }, 0); return;
    case '/loop': setTimeout(() => { for (;;) {} }, 0); return;
    case '/bad': try { setTimeout('1 + 1', 0); } catch (e) { res.data = e.name; } return;
    case '/info': res.data = JSON.stringify(w.info); return;
    case '/ticks': res.data = String(ticks); return;
  }
  res.data = 'ok';
}
`;

const server = await serveSource(source, ['--timeout-ms', '1000']);
after(() => server.stop());

async function get(s: Running, p: string) {
  const r = await fetch(s.url + p);
  return { status: r.status, error: r.headers.get('x-webdat-error'), text: await r.text() };
}

/** Polls `probe` until it returns true, at most `ms`. */
async function until(probe: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('a ticker broadcasts to WebSocket clients with setInterval, its arguments passed', async () => {
  const c = await connect(server.url.replace('http', 'ws') + '/');
  try {
    const got = (await c.waitFor(5)).filter((m) => String(m).startsWith('tick '));
    const numbers = got.map((m) => Number(String(m).slice(5)));
    for (let i = 1; i < numbers.length; i++) assert.ok(numbers[i] > numbers[i - 1], `ticks out of order: ${numbers}`);
  } finally {
    c.ws.close();
  }
});

test('WebSocket sends made by a timer callback are delivered', async () => {
  const c = await connect(server.url.replace('http', 'ws') + '/');
  try {
    await until(async () => c.messages.includes('hello from a timer'));
  } finally {
    c.ws.close();
  }
});

test('a callback awaits a setTimeout promise within its time limit', async () => {
  const r = await get(server, '/sleep');
  assert.equal(r.status, 200);
  assert.ok(Number(r.text) >= 59, `slept only ${r.text} ms`);
});

test('awaiting a timer past the time limit is answered 503 timeout', async () => {
  const t0 = Date.now();
  const r = await get(server, '/sleep-too-long');
  assert.equal(r.status, 503);
  assert.equal(r.error, 'timeout');
  assert.ok(Date.now() - t0 < 4000, 'the answer waited for the timer');
  assert.equal((await get(server, '/')).text, 'ok');
});

test('timers, microtasks and clearing behave as in browsers', async () => {
  assert.equal((await get(server, '/order')).text, 'sync,microtask,promise,timeout');
  assert.equal((await get(server, '/cleared')).text, '30');
  assert.equal((await get(server, '/bad')).text, 'TypeError');
});

test('a timer callback that throws is logged and counted as an exception of the server', async () => {
  const before = JSON.parse((await get(server, '/info')).text).errors_exception;
  assert.equal((await get(server, '/throw')).status, 200);
  await server.waitFor(/setTimeout callback threw: Error: boom from a timer/);
  await until(async () => JSON.parse((await get(server, '/info')).text).errors_exception === before + 1);
});

test('a timer callback that loops is cut by the limits and counted as a timeout; the server goes on', async () => {
  const before = JSON.parse((await get(server, '/info')).text).errors_timeout;
  assert.equal((await get(server, '/loop')).status, 200);
  await until(async () => JSON.parse((await get(server, '/info')).text).errors_timeout >= before + 1);
  assert.equal((await get(server, '/')).text, 'ok');
  const a = Number((await get(server, '/ticks')).text);
  await until(async () => Number((await get(server, '/ticks')).text) > a);
});

const limited = `
let armed = 0;
export async function onHTTPRequest(w, req, res) {
  if (req.uri === '/arm') {
    try { for (;;) { setTimeout(() => {}, 600000); armed++; } } catch (e) { res.data = e.name + ' after ' + armed + ': ' + e.message; armed = 0; }
    return;
  }
  if (req.uri === '/arm-and-clear') {
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(setInterval(() => {}, 600000));
    ids.forEach(clearInterval);
    res.data = String(ids.length);
    return;
  }
  if (req.uri === '/bomb') { const keep = []; for (;;) keep.push(new Array(1e5).fill(1)); }
  res.data = 'ok';
}
`;

test('limits.maxTimers: setTimeout throws RangeError beyond it; cleared timers free their place', async () => {
  const s = await serveConfig(limited, { limits: { maxTimers: 3, timeoutMs: 2000 } });
  try {
    assert.equal((await get(s, '/arm')).text, 'RangeError after 3: too many pending timers: limits.maxTimers is 3');
    assert.equal((await get(s, '/arm')).text, 'RangeError after 0: too many pending timers: limits.maxTimers is 3');
  } finally {
    await s.stop();
  }
  const t = await serveConfig(limited, { limits: { maxTimers: 3, timeoutMs: 2000 } });
  try {
    for (let i = 0; i < 3; i++) assert.equal((await get(t, '/arm-and-clear')).text, '3');
    assert.equal((await get(t, '/arm')).text, 'RangeError after 3: too many pending timers: limits.maxTimers is 3');
  } finally {
    await t.stop();
  }
});

test('timers are cleared when the isolate is recreated after a memory breach', async () => {
  const s = await serveConfig(limited, { limits: { maxTimers: 3, memoryMb: 32, timeoutMs: 600000, cpuMs: 60000 } });
  try {
    assert.match((await get(s, '/arm')).text, /^RangeError after 3/);
    const r = await get(s, '/bomb');
    assert.equal(r.error, 'memory');
    assert.match((await get(s, '/arm')).text, /^RangeError after 3/);
  } finally {
    await s.stop();
  }
});

test('timers are cleared when the server stops', async () => {
  const s = await serveConfig(limited, { limits: { maxTimers: 3, timeoutMs: 2000 } }, ['--admin-port', '0']);
  try {
    const admin = ADMIN_LINE.exec(await s.waitFor(ADMIN_LINE))![1];
    assert.match((await get(s, '/arm')).text, /^RangeError after 3/);
    assert.equal((await fetch(admin + '/servers/default/stop', { method: 'POST' })).status, 200);
    const started = await fetch(admin + '/servers/default/start', { method: 'POST' });
    assert.equal(started.status, 200);
    // Port 0 picks a new free port at each start.
    const { port } = await started.json() as { port: number };
    assert.match((await get({ ...s, url: `http://127.0.0.1:${port}` }, '/arm')).text, /^RangeError after 3/);
  } finally {
    await s.stop();
  }
});

test('timers are cleared when the code is reloaded: the old ticker stops', async () => {
  const ticker = `export function onServerStart(w) { setInterval(() => w.webSocketBroadcastText('old'), 10); }`;
  const s = await serveSource(ticker, ['--admin-port', '0', '--timeout-ms', '2000']);
  try {
    const admin = ADMIN_LINE.exec(await s.waitFor(ADMIN_LINE))![1];
    const c = await connect(s.url.replace('http', 'ws') + '/');
    await c.waitFor(2);
    const put = await fetch(admin + '/servers/default/callbacks', { method: 'PUT', body: `export function onHTTPRequest(w, q, r) { r.data = 'new'; }` });
    assert.equal(put.status, 200);
    assert.equal((await get(s, '/')).text, 'new');
    // A broadcast already on its way when the code was swapped may still land; none may follow.
    await new Promise((r) => setTimeout(r, 200));
    const settled = c.messages.length;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(c.messages.length, settled, 'the old ticker kept broadcasting after the reload');
    c.ws.close();
  } finally {
    await s.stop();
  }
});

test('timer invocations do not count against maxQueue', async () => {
  const storm = `
export function onServerStart(w) { for (let i = 0; i < 50; i++) setInterval(() => {}, 1); }
export function onHTTPRequest(w, q, r) { r.data = 'ok'; }`;
  const s = await serveConfig(storm, { limits: { maxQueue: 1 } });
  try {
    for (let i = 0; i < 20; i++) assert.equal((await get(s, '/')).status, 200);
  } finally {
    await s.stop();
  }
});

const stopping = `
export function onServerStart(w) { setInterval(() => console.log('start tick'), 20); }
export async function onServerStop(w) {
  console.log('stop began');
  setInterval(() => console.log('stop tick'), 5);
  await new Promise((r) => setTimeout(r, 50));
  await w.storage.put('stop', 'finished');
  console.log('stop finished');
}
export async function onHTTPRequest(w, req, res) { res.data = String(await w.storage.get('stop')); }
`;

/** The output after the stop's last line, where no timer of the stopped server may log. */
function afterStop(s: Running): string {
  const text = s.stdout() + s.stderr();
  const at = text.indexOf('stop finished');
  assert.ok(at >= 0, 'onServerStop did not finish:\n' + text);
  // The server's own timers went when the stop began; the one onServerStop made ran while it awaited.
  const during = text.slice(text.indexOf('stop began'), at);
  assert.doesNotMatch(during, /start tick/);
  assert.match(during, /stop tick/);
  return text.slice(at);
}

test('an async onServerStop awaits a timer; every timer of the server is cleared once it ends (admin stop)', async () => {
  const s = await serveSource(stopping, ['--admin-port', '0', '--timeout-ms', '3000']);
  try {
    const admin = ADMIN_LINE.exec(await s.waitFor(ADMIN_LINE))![1];
    await s.waitFor(/start tick/);
    const t0 = Date.now();
    assert.equal((await fetch(admin + '/servers/default/stop', { method: 'POST' })).status, 200);
    // Ended by its own timer, well before the 3 s time limit would have cut it.
    assert.ok(Date.now() - t0 < 2500, `the stop took ${Date.now() - t0} ms`);
    await s.waitFor(/stop finished/);
    await new Promise((r) => setTimeout(r, 300));
    assert.doesNotMatch(afterStop(s), /tick/);
    const started = await fetch(admin + '/servers/default/start', { method: 'POST' });
    assert.equal(started.status, 200);
    const { port } = await started.json() as { port: number };
    assert.equal((await get({ ...s, url: `http://127.0.0.1:${port}` }, '/')).text, 'finished');
  } finally {
    await s.stop();
  }
});

test('an async onServerStop awaits a timer on SIGTERM; the process exits 0 and no timer fires after it', async () => {
  const s = await serveSource(stopping, ['--timeout-ms', '3000']);
  await s.waitFor(/start tick/);
  const t0 = Date.now();
  assert.equal(await s.stop('SIGTERM'), 0);
  assert.ok(Date.now() - t0 < 2500, `the stop took ${Date.now() - t0} ms`);
  assert.doesNotMatch(afterStop(s), /tick/);
});

test('an onServerStop cut by its time limit while awaiting a timer ends the stop; its interval stops with it', async () => {
  const stuck = `
export async function onServerStop(w) {
  setInterval(() => console.log('stop tick'), 20);
  await new Promise((r) => setTimeout(r, 60000));
}`;
  const s = await serveSource(stuck, ['--admin-port', '0', '--timeout-ms', '1000']);
  try {
    const admin = ADMIN_LINE.exec(await s.waitFor(ADMIN_LINE))![1];
    const t0 = Date.now();
    assert.equal((await fetch(admin + '/servers/default/stop', { method: 'POST' })).status, 200);
    assert.ok(Date.now() - t0 < 5000, `the stop took ${Date.now() - t0} ms`);
    const metrics = await (await fetch(admin + '/metrics')).text();
    assert.match(metrics, /webdat_errors_total\{server="default",kind="timeout"\} 1\b/);
    const ticks = () => (s.stdout() + s.stderr()).split('stop tick').length - 1;
    await s.waitFor(/stop tick/);
    // A line already on its way when the stop ended may still land; none may follow.
    await new Promise((r) => setTimeout(r, 200));
    const settled = ticks();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(ticks(), settled, 'the interval of onServerStop kept firing after the stop');
  } finally {
    await s.stop();
  }
});
