import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { ROOT, startWebdat, tempDir } from './helpers/webdat.ts';
import { connect, type Client } from './helpers/ws.ts';
import { freePort } from './helpers/free-port.ts';
import { probeWhile, until } from './helpers/poll.ts';

// The hostile corpus (hostile-corpus.test.ts) with a second engine process (SPEC §12, issue 13 item 7):
// `--processes 2`, a hostile tenant whose clients sit on both processes, a quiet tenant on the same
// port (Host routing) probed on both processes through connections pinned to each, a tenant that
// breaks its memory limit and one that takes its engine process down. Which process a connection
// lands on is the kernel's choice: connections are opened until each process has one (bounded).

const HOSTILE = `
const KB = 'k'.repeat(1024);
let n = 0;
function json(v) { return { 'content-type': 'application/json', data: JSON.stringify(v) }; }
export function onHTTPRequest(w, req) {
  const p = req.pars;
  switch (req.uri) {
    case '/who': return json({ node: w.node, primary: w.primary, conns: w.webSocketConnections, count: w.info.websocket_connections });
    // broadcasts of 1 KiB until the output budget stops the invocation
    case '/storm': for (;;) w.webSocketBroadcastText(KB);
    // sends of 1 KiB to one client (of either process) until the budget stops it
    case '/send-flood': for (let i = 0; ; i++) w.webSocketSendText(p.to, i + ':' + KB.slice(0, 1000));
    case '/forged': {
      const real = w.webSocketConnections[0];
      const forged = [p.other, 'forged', '', real + ' ', real + '\\0', real.toUpperCase(), 'x'.repeat(1 << 20), '__proto__', 'constructor', 'toString'];
      const wrong = [undefined, null, 1, {}, [real], { toString() { return real; } }, Symbol.iterator];
      const out = [];
      for (const id of forged) out.push(w.webSocketSendText(id, 'forged'), w.webSocketSendBinary(id, new Uint8Array(1)), w.webSocketSendPing(id), w.webSocketClose(id, 4000, 'forged'));
      for (const id of wrong) out.push(w.webSocketSendText(id, 'forged'), w.webSocketClose(id));
      return json(out);
    }
    case '/close-hostile': {
      const bad = [];
      for (const code of [999, 1005, 1006, 2999, 5000, 4000.5, NaN, { [Symbol.toPrimitive]() { throw new Error('no'); } }]) {
        try { w.webSocketClose(p.to, code, 'r'); bad.push('closed'); } catch (e) { bad.push(e.name); }
      }
      const closed = w.webSocketClose(p.to, 4321, 'é'.repeat(300));
      return json({ bad, closed });
    }
    case '/node-abuse': {
      const tries = [];
      const attempt = (f) => { try { f(); tries.push('ok'); } catch (e) { tries.push(e.name); } };
      attempt(() => { w.node = 'forged-node'; });
      attempt(() => { w.primary = true; });
      attempt(() => Object.defineProperty(w, 'primary', { value: true }));
      attempt(() => { delete w.node; });
      attempt(() => Object.setPrototypeOf(w, { primary: true }));
      attempt(() => { w.info.websocket_connections = 1e9; });
      attempt(() => { w.webSocketConnections.push('forged'); });
      return json({ tries, node: w.node, primary: w.primary, count: w.info.websocket_connections, listed: w.webSocketConnections.includes('forged') });
    }
  }
  return { data: 'hostile ' + (++n) };
}
export function onWebSocketReceiveText(w, client, text) {
  const [cmd, arg, count] = text.split(' ');
  if (cmd === 'me') w.webSocketSendText(client, JSON.stringify({ node: w.node, me: client }));
  // a flood of sends to a client of the other process, 1 KiB each, numbered to check the order
  else if (cmd === 'relay') for (let i = 0; i < Number(count); i++) w.webSocketSendText(arg, 'r' + i + ' ' + 'r'.repeat(1000));
}
`;

const QUIET = `
export function onHTTPRequest(w, req) { return { data: 'quiet ' + w.node }; }
export function onWebSocketReceiveText(w, client, text) { w.webSocketSendText(client, text === 'id' ? client : 'quiet ' + w.node + ' ' + text); }
`;

const MEMORY = `
let n = 0;
const hoard = [];
export function onWebSocketReceiveText(w, client, text) {
  if (text === 'grow') for (;;) hoard.push(new Array(1e5).fill(n));
  w.webSocketSendText(client, JSON.stringify({ node: w.node, n: ++n }));
}
`;

const CRASH = `export function onHTTPRequest(w, req) { if (req.uri === '/boom') new Array(6e7).fill(0); return { data: 'crash ok' }; }\n`;

const port = await freePort();
const dir = tempDir({
  'hostile.js': HOSTILE, 'quiet.js': QUIET, 'memory.js': MEMORY, 'crash.js': CRASH,
  'webdat.json': JSON.stringify({
    processes: 2,
    workers: 1,
    servers: [
      // the quiet tenant is the default server of the port the crasher shares (Host routing)
      // a generous time limit: a loaded machine once cut this trivial module's evaluation at the default 100 ms
      { name: 'quiet', host: '127.0.0.1', port, callbacks: 'quiet.js', limits: { timeoutMs: 5000 } },
      { name: 'crash', host: '127.0.0.1', port, hosts: ['crash.test'], callbacks: 'crash.js', limits: { timeoutMs: 60_000 } },
      { name: 'hostile', host: '127.0.0.1', port: 0, callbacks: 'hostile.js', limits: { maxOutputBytes: 65_536, timeoutMs: 5000 } },
      { name: 'memory', host: '127.0.0.1', port: 0, callbacks: 'memory.js', limits: { memoryMb: 32, timeoutMs: 60_000, cpuMs: 60_000 } },
    ],
  }),
});
const webdat = await startWebdat(['--config', path.join(dir, 'webdat.json')], { expectServers: 4 });
after(async () => {
  const code = await webdat.stop();
  assert.equal(code, 0, `webdat exited with ${code}\n${webdat.stderr().split('\n').filter((l) => !l.includes('"level":30') && !l.includes('maxOutputBytes')).slice(-60).join('\n')}`);
});
const url = (name: string) => webdat.urls.get(name)!;
const wsUrl = (name: string) => url(name).replace('http:', 'ws:') + '/';

/** Marks of the host that must never reach a client or a callback. */
const HOST_MARKS = [ROOT, dir, os.tmpdir(), '/work/', 'node:internal', 'isolated-vm', 'ioredis', 'lmdb', '.ts:', 'at async', 'webdat-test-'];
function assertNoHostLeak(text: string, what: string): void {
  for (const mark of HOST_MARKS) assert.ok(!text.includes(mark), `${what} reveals "${mark}": ${text.slice(0, 300)}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One GET on a fresh connection (the kernel places each anew) or on `agent`'s, answered within 15 s. */
function getFresh(target: string, headers: Record<string, string> = {}, agent: http.Agent | false = false): Promise<{ status: number; error: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(target, { agent, headers, timeout: 15_000 }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, error: res.headers['x-webdat-error'] as string | undefined, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within 15 s: ${target}`)));
    req.on('error', reject);
  });
}
const json = async <T>(target: string): Promise<T> => {
  const r = await getFresh(target);
  assert.equal(r.status, 200, `${target}: ${r.status} ${r.error} ${r.body.slice(0, 200)}`);
  assertNoHostLeak(r.body, target);
  return JSON.parse(r.body) as T;
};

/** An agent whose one kept-alive connection to the hostile tenant landed on process `node`. */
async function agentOn(node: string): Promise<http.Agent> {
  for (let i = 0; i < 60; i++) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const r = await getFresh(url('hostile') + '/who', {}, agent);
    if ((JSON.parse(r.body) as { node: string }).node === node) return agent;
    agent.destroy();
  }
  assert.fail(`60 connections missed process ${node}`);
}

interface Pinned { c: Client; node: string; me: string }
/** One connection to `name` on each process: `[first, other]`. */
async function onBothProcesses(name: string, hello: string, parse: (m: string) => { node: string; me?: string }): Promise<[Pinned, Pinned]> {
  const found = new Map<string, Pinned>();
  for (let i = 0; i < 60 && found.size < 2; i++) {
    const c = await connect(wsUrl(name));
    c.ws.send(hello);
    const { node, me } = parse(String(await c.next()));
    if (found.has(node)) c.ws.close();
    else found.set(node, { c, node, me: me ?? '' });
  }
  assert.equal(found.size, 2, `the kernel put 60 connections to ${name} on one process`);
  return [...found.values()] as [Pinned, Pinned];
}

const quiet = await onBothProcesses('quiet', 'hello', (m) => ({ node: m.split(' ')[1] }));
let probes = 0;
/** The quiet tenant answers on both processes (pinned WebSockets) and on a fresh connection, each within `boundMs`. */
async function assertQuietServes(after: string, boundMs = 5000): Promise<void> {
  for (const q of quiet) {
    const t0 = Date.now();
    q.c.ws.send(`p${++probes}`);
    assert.equal(await q.c.next(), `quiet ${q.node} p${probes}`, `quiet on ${q.node} after ${after}`);
    assert.ok(Date.now() - t0 < boundMs, `quiet on ${q.node} took ${Date.now() - t0} ms after ${after}`);
  }
  const t0 = Date.now();
  const r = await getFresh(url('quiet') + '/');
  assert.equal(r.status, 200, `quiet over HTTP after ${after}`);
  assert.match(r.body, /^quiet \S+:\d+$/);
  assert.ok(Date.now() - t0 < boundMs, `quiet over HTTP took ${Date.now() - t0} ms after ${after}`);
}
/** Probes the quiet tenant until `during` settles (at least 3 rounds). */
const quietWhile = <T>(what: string, during: Promise<T>): Promise<T> => probeWhile(during, () => assertQuietServes(what));

// Hostile clients: four on each process, so that every copy of a broadcast crosses to the other.
const victims: Pinned[] = [];
const on = (node: string) => victims.filter((v) => v.node === node).length;
// at most four kept per process: eight kept means four on each
for (let i = 0; i < 60 && victims.length < 8; i++) {
  const c = await connect(wsUrl('hostile'));
  c.ws.send('me');
  const m = JSON.parse(String(await c.next())) as { node: string; me: string };
  if (on(m.node) < 4) victims.push({ c, node: m.node, me: m.me });
  else c.ws.close();
}
assert.equal(victims.length, 8, 'four hostile clients on each process');
const nodes = [...new Set(victims.map((v) => v.node))];
/** Waits until every process lists exactly the hostile clients open. */
async function listsSettled(): Promise<void> {
  const ids = victims.filter((v) => v.c.ws.readyState === v.c.ws.OPEN).map((v) => v.me).sort();
  await until('both processes list every hostile client', async () => {
    const seen = new Map<string, string[]>();
    for (let i = 0; i < 40 && seen.size < 2; i++) {
      const w = await json<{ node: string; conns: string[]; count: number }>(url('hostile') + '/who');
      if (w.count !== ids.length || JSON.stringify([...w.conns].sort()) !== JSON.stringify(ids)) return undefined;
      seen.set(w.node, w.conns);
    }
    return seen.size === 2 ? true : undefined;
  });
}

test('a broadcast storm over both processes: the budget counts every copy, the other process\'s clients too', async () => {
  await listsSettled();
  const before = victims.map((v) => v.c.messages.length);
  const r = await quietWhile('a broadcast storm', getFresh(url('hostile') + '/storm'));
  assert.equal(r.status, 503);
  assert.equal(r.error, 'output');
  assertNoHostLeak(r.body, 'storm');
  // 64 KiB of budget, 1 KiB to 8 recipients: exactly 8 broadcasts go out, to every client of both processes
  for (const [i, v] of victims.entries()) {
    const got = await v.c.waitFor(before[i] + 8);
    assert.deepEqual(got.slice(before[i]).map((m) => String(m).length), Array(8).fill(1024));
  }
  await sleep(300);
  for (const [i, v] of victims.entries()) assert.equal(v.c.messages.length, before[i] + 8, `client on ${v.node} got more than 8`);
});

test('a send flood to a client of the other process: stopped at the budget, delivered in order', async () => {
  const target = victims.find((v) => v.node === nodes[1])!;
  const before = target.c.messages.length;
  // from the other process, then from the target's own
  for (const from of [nodes[0], nodes[1]]) {
    const agent = await agentOn(from);
    const k = target.c.messages.length;
    const r = await quietWhile('a send flood', getFresh(`${url('hostile')}/send-flood?to=${encodeURIComponent(target.me)}`, {}, agent));
    agent.destroy();
    assert.equal(r.status, 503);
    assert.equal(r.error, 'output');
    // 1,002–1,005 bytes each: the budget of 65,536 bytes takes the first 65
    const got = (await target.c.waitFor(k + 65)).slice(k).map((m) => String(m).split(':')[0]);
    assert.deepEqual(got, Array.from({ length: 65 }, (_, i) => String(i)));
  }
  await sleep(300);
  assert.equal(target.c.messages.length, before + 130);
});

test('forged, huge and foreign client ids, and ids of another tenant on the other process: refused, nothing delivered', async () => {
  // the quiet tenant's client on the other process: another server's client is never reachable
  quiet[1].c.ws.send('id');
  const other = String(await quiet[1].c.next());
  const before = victims.map((v) => v.c.messages.length);
  const quietBefore = quiet.map((q) => q.c.messages.length);
  const out = await json<unknown[]>(`${url('hostile')}/forged?other=${encodeURIComponent(other)}`);
  assert.equal(out.length, 10 * 4 + 7 * 2);
  assert.deepEqual([...new Set(out)], [false]);
  await assertQuietServes('forged ids');
  await sleep(200);
  assert.deepEqual(victims.map((v) => v.c.messages.length), before);
  assert.deepEqual(quiet.map((q) => q.c.messages.length), quietBefore.map((n) => n + 1), 'the quiet clients got their probe and nothing else');
  for (const v of victims) assert.equal(v.c.ws.readyState, v.c.ws.OPEN);
});

test('webServer.node and webServer.primary cannot be forged; exactly one process is primary', async () => {
  const seen = new Map<string, { tries: string[]; node: string; primary: boolean; count: number; listed: boolean }>();
  for (let i = 0; i < 60 && seen.size < 2; i++) {
    const r = await json<{ tries: string[]; node: string; primary: boolean; count: number; listed: boolean }>(url('hostile') + '/node-abuse');
    seen.set(r.node, r);
  }
  assert.equal(seen.size, 2);
  for (const [node, r] of seen) {
    assert.deepEqual(r.tries, ['TypeError', 'TypeError', 'TypeError', 'TypeError', 'TypeError', 'ok', 'ok'], node);
    assert.match(node, /^\S+:\d+$/);
    assert.equal(r.count, 8);
    assert.equal(r.listed, false);
  }
  assert.deepEqual([...seen.values()].map((r) => r.primary).sort(), [false, true]);
});

test('1,000 relayed sends of 1 KiB each across processes, from each side: all delivered in order; the quiet tenant serves meanwhile', async () => {
  for (const [from, to] of [[nodes[0], nodes[1]], [nodes[1], nodes[0]]]) {
    const sender = victims.find((v) => v.node === from)!;
    const target = victims.find((v) => v.node === to)!;
    const k = target.c.messages.length;
    // 1,000 messages of one event: over the budget after 65, so each event sends 65; 16 events make the flood
    for (let e = 0; e < 16; e++) sender.c.ws.send(`relay ${target.me} 1000`);
    await quietWhile('a relay flood', target.c.waitFor(k + 16 * 65));
    const got = target.c.messages.slice(k).map((m) => String(m).split(' ')[0]);
    assert.deepEqual(got, Array.from({ length: 16 }, () => Array.from({ length: 65 }, (_, i) => `r${i}`)).flat());
    assert.equal(sender.c.ws.readyState, sender.c.ws.OPEN);
  }
});

test('hostile close codes and a 600-byte reason to a client of the other process: RangeError, then one close with the reason cut', async () => {
  const target = victims.find((v) => v.node === nodes[1])!;
  const agent = await agentOn(nodes[0]);
  const r = await getFresh(`${url('hostile')}/close-hostile?to=${encodeURIComponent(target.me)}`, {}, agent);
  agent.destroy();
  assert.equal(r.status, 200, r.body);
  assertNoHostLeak(r.body, 'close-hostile');
  const answer = JSON.parse(r.body) as { bad: string[]; closed: boolean };
  assert.deepEqual(answer.bad, ['RangeError', 'RangeError', 'RangeError', 'RangeError', 'RangeError', 'RangeError', 'RangeError', 'Error']);
  assert.equal(answer.closed, true);
  const closed = await target.c.closed;
  assert.equal(closed.code, 4321);
  assert.equal(closed.reason, 'é'.repeat(61));
  victims.splice(victims.indexOf(target), 1);
  await listsSettled();
});

test('200 connections opened and closed at once on both processes: every list ends exact', async () => {
  const churn = await Promise.all(Array.from({ length: 200 }, () => connect(wsUrl('hostile'))));
  await Promise.all(churn.map((c) => { c.ws.close(); return c.closed; }));
  const half = await Promise.all(Array.from({ length: 100 }, () => connect(wsUrl('hostile'))));
  await Promise.all(half.map((c) => { c.ws.terminate(); return c.closed; }));
  await listsSettled();
  await assertQuietServes('connection churn');
});

test('a memory breach in one process: its events end, the same tenant in the other process keeps its state', async () => {
  const [a, b] = await onBothProcesses('memory', 'hi', (m) => JSON.parse(m) as { node: string });
  b.c.ws.send('count');
  const nb = (JSON.parse(String(await b.c.next())) as { n: number }).n;
  a.c.ws.send('grow');
  assert.deepEqual(await quietWhile('a memory breach', a.c.closed), { code: 1011, reason: 'Event Lost' });
  await webdat.waitFor(/memory limit/);
  b.c.ws.send('count');
  assert.deepEqual(JSON.parse(String(await b.c.next())), { node: b.node, n: nb + 1 });
  // the breached process's isolate starts afresh
  const fresh = await until('a connection on the breached process', async () => {
    const c = await connect(wsUrl('memory'));
    c.ws.send('count');
    const m = JSON.parse(String(await c.next())) as { node: string; n: number };
    if (m.node === a.node) return m;
    c.ws.close();
    return undefined;
  });
  assert.equal(fresh.n, 1);
  assert.equal(b.c.ws.readyState, b.c.ws.OPEN);
});

test('a crasher takes one process down at a time; the quiet tenant on its port is served by the other; only the crasher is quarantined, in every process', async () => {
  const deaths = () => [...webdat.stderr().matchAll(/engine process \d \(pid \d+\) died/g)].length;
  const serves = () => [...webdat.stderr().matchAll(/engine process \d \(pid \d+\) serves/g)].length;
  let killed = 0;
  while (!/server "crash" brought the engine down/.test(webdat.stderr())) {
    assert.ok(killed < 10, `the crasher was quarantined within 10 deaths\n${webdat.stderr()}`);
    const d = deaths();
    const s = serves();
    const boom = await getFresh(url('quiet') + '/boom', { host: 'crash.test' }).then((r) => r, () => null);
    // the other process serves the quiet tenant on the port the crasher shares while this one restarts
    if (boom === null) {
      killed++;
      await until('the death is seen', async () => (deaths() > d ? true : undefined), 30_000);
      const r = await getFresh(url('quiet') + '/');
      assert.equal(r.status, 200);
      assert.match(r.body, /^quiet /);
      await until('the process is back', async () => (serves() > s ? true : undefined), 60_000);
    } else {
      // a process restarted after the quarantine no longer serves "crash": the quiet default answers
      assert.match(boom.body, /^quiet /, `${boom.status} ${boom.body}`);
    }
  }
  assert.ok(killed >= 3);
  assert.doesNotMatch(webdat.stderr(), /server "(quiet|hostile|memory)" (brought the engine down|was the only one running)/);
  // left inactive in every process, the one that did not die too (each says so). Whichever takes the
  // connection, the crasher never runs: a process that stopped it answers its host 503 `canceled` (as
  // after an admin stop), one started after the quarantine never routed it (the port's default answers).
  await until('both processes left "crash" inactive', async () => (
    [...webdat.stderr().matchAll(/"server":"crash","msg":"server left inactive/g)].length >= 2 ? true : undefined), 30_000);
  for (let i = 0; i < 20; i++) {
    const r = await getFresh(url('quiet') + '/boom', { host: 'crash.test' });
    const answer = r.status === 200 ? r.body.replace(/:\d+$/, ':PID') : `${r.status} ${r.error}`;
    assert.ok(answer === '503 canceled' || /^quiet \S+:PID$/.test(answer), `request ${i} to the quarantined server: ${r.status} ${r.error} ${r.body}`);
  }
  assert.equal(webdat.proc.exitCode, null);
  assert.equal(deaths(), killed, 'no death after the quarantine');
});

test('after every attack: webdat is up and the quiet tenant serves on both processes', async () => {
  const fresh = await onBothProcesses('quiet', 'hello', (m) => ({ node: m.split(' ')[1] }));
  for (const q of fresh) {
    q.c.ws.send('last');
    assert.equal(await q.c.next(), `quiet ${q.node} last`);
  }
  assert.equal(webdat.proc.exitCode, null);
});
