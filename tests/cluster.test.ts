import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { BIN, runWebdatExpectingExit, startWebdat, tempDir, type Running } from './helpers/webdat.ts';
import { connect, type Client } from './helpers/ws.ts';
import { freePort } from './helpers/free-port.ts';
import { startRedis } from './helpers/redis.ts';

// `cluster.redis` (SPEC §12), black-box: two `webdat serve` processes are two hosts of one
// cluster, joined through a real redis-server of the test's own. Everything that crosses hosts is
// awaited by a bounded poll, never by a sleep.

const CALLBACKS = `
export async function onHTTPRequest(w, request, response) {
  const [, op, key] = request.uri.split('/');
  if (op === 'put' || op === 'get') {
    try {
      const value = op === 'put' ? await w.storage.put(key, { v: request.pars.v, at: new Date(0) }) : await w.storage.get(key);
      response.data = JSON.stringify({ ok: true, value });
    } catch (err) {
      response.data = JSON.stringify({ ok: false, name: err.name });
    }
    return response;
  }
  response.data = JSON.stringify({ node: w.node, primary: w.primary });
  return response;
}
export function onWebSocketReceiveText(w, client, text) {
  const [cmd, arg] = text.split(' ');
  if (cmd === 'who') w.webSocketSendText(client, JSON.stringify({ node: w.node, me: client, conns: w.webSocketConnections, count: w.info.websocket_connections }));
  else if (cmd === 'all') w.webSocketBroadcastText('b:' + arg);
  else if (cmd === 'to') { const ok = []; for (let i = 0; i < 5; i++) ok.push(w.webSocketSendText(arg, 'm' + i)); w.webSocketSendText(client, 'sent ' + ok.join()); }
  else if (cmd === 'close') w.webSocketSendText(client, 'closed ' + w.webSocketClose(arg, 4001, 'from afar'));
}
`;

const redis = await startRedis();
after(() => redis.kill());
const dir = tempDir({
  'cb.js': CALLBACKS,
  'webdat.json': JSON.stringify({
    servers: [{ name: 'alpha', host: '127.0.0.1', port: 0, callbacks: 'cb.js', limits: { timeoutMs: 5000 } }],
    cluster: { redis: redis.url, name: 'test-cluster' },
  }),
  'two-processes.json': JSON.stringify({
    processes: 2,
    servers: [{ name: 'alpha', host: '127.0.0.1', port: 0, callbacks: 'cb.js', limits: { timeoutMs: 5000 } }],
    cluster: { redis: redis.url, name: 'test-cluster' },
  }),
});
const start = () => startWebdat(['--config', path.join(dir, 'webdat.json')]);
const hostA = await start();
const hostB = await start();
after(() => Promise.all([hostA.stop(), hostB.stop()]));

const wsUrl = (h: Running) => h.url.replace('http', 'ws') + '/';
interface Who { node: string; me: string; conns: string[]; count: number }
const who = async (c: Client): Promise<Who> => {
  c.ws.send('who');
  return JSON.parse(String(await c.next())) as Who;
};
const nodeOf = async (h: Running) => (await (await fetch(h.url)).json()) as { node: string; primary: boolean };

/** Asks until `ok` holds, at most `ms`; fails with the last answer. */
async function until<T>(ask: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<T> {
  const end = Date.now() + ms;
  let last: T;
  do {
    last = await ask();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  } while (Date.now() < end);
  assert.fail(`condition not met within ${ms} ms; last: ${JSON.stringify(last)}`);
}

const a = await connect(wsUrl(hostA));
const b = await connect(wsUrl(hostB));
const meA = (await who(a)).me;
const meB = (await who(b)).me;

test('the lists and info.websocket_connections span both hosts', async () => {
  const seenA = await until(() => who(a), (w) => w.conns.includes(meB), 10_000);
  assert.deepEqual(new Set(seenA.conns), new Set([meA, meB]));
  assert.equal(seenA.count, 2);
  const seenB = await until(() => who(b), (w) => w.conns.includes(meA), 10_000);
  assert.equal(seenB.count, 2);
  assert.notEqual(seenA.node, seenB.node);
});

test('a broadcast on one host reaches the clients of the other', async () => {
  a.ws.send('all one');
  assert.equal(await b.next(), 'b:one');
  assert.equal(await a.next(), 'b:one');
  b.ws.send('all two');
  assert.equal(await a.next(), 'b:two');
  assert.equal(await b.next(), 'b:two');
});

test('sends to a client of the other host arrive in order, and a close reaches it', async () => {
  a.ws.send(`to ${meB}`);
  assert.equal(await a.next(), 'sent true,true,true,true,true');
  for (let i = 0; i < 5; i++) assert.equal(await b.next(), `m${i}`);
  const c = await connect(wsUrl(hostB));
  const meC = (await who(c)).me;
  await until(() => who(a), (w) => w.conns.includes(meC), 10_000);
  a.ws.send(`close ${meC}`);
  assert.equal(await a.next(), 'closed true');
  assert.deepEqual(await c.closed, { code: 4001, reason: 'from afar' });
  await until(() => who(a), (w) => !w.conns.includes(meC), 10_000);
});

test('webServer.primary is true on exactly one host', async () => {
  const both = await until(() => Promise.all([nodeOf(hostA), nodeOf(hostB)]), ([x, y]) => x.primary !== y.primary, 15_000);
  assert.equal(both.filter((n) => n.primary).length, 1);
});

test('storage lives in Redis: a value put on one host is read on the other', async () => {
  const put = await (await fetch(`${hostA.url}/put/shared?v=from-a`)).json();
  assert.deepEqual(put, { ok: true });
  const got = await (await fetch(`${hostB.url}/get/shared`)).json();
  assert.deepEqual(got, { ok: true, value: { v: 'from-a', at: new Date(0).toJSON() } });
});

test('while Redis is down each host serves its own clients and logs failed deliveries; all comes back with Redis', async () => {
  await redis.kill();
  const alone = await until(() => who(a), (w) => w.conns.length === 1, 10_000);
  assert.deepEqual(alone.conns, [meA]);
  assert.equal(alone.count, 1);
  assert.equal((await fetch(hostA.url)).status, 200);
  a.ws.send('all three');
  assert.equal(await a.next(), 'b:three');
  await hostA.waitFor(/cluster: broadcast to other hosts failed/, 10_000);
  // a send to a client no longer listed is refused, as for any unknown client
  a.ws.send(`to ${meB}`);
  assert.equal(await a.next(), 'sent false,false,false,false,false');
  assert.deepEqual(await (await fetch(`${hostA.url}/put/down?v=x`)).json(), { ok: false, name: 'StorageUnavailableError' });
  assert.deepEqual(await (await fetch(`${hostB.url}/get/shared`)).json(), { ok: false, name: 'StorageUnavailableError' });

  await redis.restart();
  await until(() => who(a), (w) => w.conns.includes(meB) && w.count === 2, 15_000);
  await until(() => who(b), (w) => w.conns.includes(meA), 15_000);
  a.ws.send('all four');
  assert.equal(await b.next(), 'b:four');
  assert.equal(await a.next(), 'b:four');
  const both = await until(() => Promise.all([nodeOf(hostA), nodeOf(hostB)]), ([x, y]) => x.primary !== y.primary, 15_000);
  assert.equal(both.filter((n) => n.primary).length, 1);
});

test('a host killed with SIGKILL leaves the lists within 10 s and the primary moves to the other', async () => {
  // make the host to be killed the primary, so that the primary has to move
  const victim = (await nodeOf(hostA)).primary ? hostA : hostB;
  const [survivor, client, gone] = victim === hostA ? [hostB, b, meA] : [hostA, a, meB];
  const engine = Number((await nodeOf(victim)).node.split(':').at(-1));
  await until(() => who(client), (w) => w.conns.includes(gone), 10_000);
  // the supervisor first, so that nobody restarts the engine
  victim.proc.kill('SIGKILL');
  process.kill(engine, 'SIGKILL');
  const killedAt = Date.now();
  await until(() => who(client), (w) => !w.conns.includes(gone), 15_000);
  assert.ok(Date.now() - killedAt < 10_000, `left after ${Date.now() - killedAt} ms`);
  const left = await who(client);
  assert.deepEqual(left.conns, [client === a ? meA : meB]);
  await until(() => nodeOf(survivor), (n) => n.primary, 15_000);
});

test('a host with --processes 2 joins the cluster: one readiness line, both processes in the lists, broadcasts reach them', async () => {
  const survivor = hostA.proc.exitCode === null && hostA.proc.signalCode === null ? hostA : hostB;
  const client = survivor === hostA ? a : b;
  const me = survivor === hostA ? meA : meB;
  const hostC = await startWebdat(['--config', path.join(dir, 'two-processes.json')]);
  try {
    // the kernel picks the process of each connection: open them until both processes have one (bounded)
    const byNode = new Map<string, { c: Client; me: string }>();
    for (let i = 0; i < 40 && byNode.size < 2; i++) {
      const c = await connect(wsUrl(hostC));
      const w = await who(c);
      if (byNode.has(w.node)) c.ws.close();
      else byNode.set(w.node, { c, me: w.me });
    }
    assert.equal(byNode.size, 2, 'connections reached one process only');
    assert.equal([...hostC.stdout().matchAll(/listening on/g)].length, 1);
    const theirs = [...byNode.values()];
    const all = await until(() => who(client), (w) => theirs.every((t) => w.conns.includes(t.me)), 15_000);
    assert.deepEqual(new Set(all.conns), new Set([me, ...theirs.map((t) => t.me)]));
    client.ws.send('all five');
    assert.equal(await client.next(), 'b:five');
    for (const t of theirs) assert.equal(await t.c.next(), 'b:five');
    client.ws.send(`to ${theirs[1].me}`);
    assert.equal(await client.next(), 'sent true,true,true,true,true');
    for (let i = 0; i < 5; i++) assert.equal(await theirs[1].c.next(), `m${i}`);
    assert.equal((await nodeOf(survivor)).primary, true);
  } finally {
    assert.equal(await hostC.stop(), 0);
  }
});

test('a cluster entry that is not a redis:// URL with a plain name is refused with exit 2', async () => {
  const cluster = { redis: 'http://127.0.0.1:6379', name: 'has space', extra: 1 };
  const cfg = tempDir({ 'cb.js': CALLBACKS, 'webdat.json': JSON.stringify({ servers: [{ name: 'alpha', port: 0, callbacks: 'cb.js' }], cluster }) });
  const r = await runWebdatExpectingExit(['serve', '--config', path.join(cfg, 'webdat.json')]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /WEBDAT_ERR_CONFIG/);
  assert.match(r.stderr, /cluster\.redis: must be a redis:\/\/ or rediss:\/\/ URL/);
  assert.match(r.stderr, /cluster\.name: must be 1 to 64 letters/);
  assert.match(r.stderr, /extra/);
});

test('with Redis unreachable at startup webdat waits, unannounced, and logs why without the URL\'s password', async () => {
  const port = await freePort();
  const cfg = tempDir({ 'cb.js': CALLBACKS, 'webdat.json': JSON.stringify({
    servers: [{ name: 'alpha', host: '127.0.0.1', port: 0, callbacks: 'cb.js', limits: { timeoutMs: 5000 } }],
    cluster: { redis: `redis://:s3cret-pass@127.0.0.1:${port}`, name: 'nowhere' },
  }) });
  const proc = spawn(process.execPath, [BIN, 'serve', '--config', path.join(cfg, 'webdat.json')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d) => { out += d; });
  const logged = new Promise<void>((resolve) => proc.stderr.on('data', (d) => { err += d; if (/cluster: redis connection failed/.test(err)) resolve(); }));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', resolve));
  const bound = setTimeout(() => proc.kill('SIGKILL'), 30_000);
  try {
    await logged;
  } finally {
    proc.kill('SIGTERM');
    assert.equal(await exited, 0, err);
    clearTimeout(bound);
  }
  assert.doesNotMatch(out, /listening on/);
  assert.doesNotMatch(err, /s3cret-pass/);
  assert.match(err, /\*\*\*@127\.0\.0\.1/);
});
