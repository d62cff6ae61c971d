import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { runWebdatExpectingExit, startWebdat, tempDir } from './helpers/webdat.ts';
import { connect, type Client } from './helpers/ws.ts';
import { freePort } from './helpers/free-port.ts';
import { until } from './helpers/poll.ts';

// `--processes 2` (SPEC §12), black-box: two engine processes share each port, and the callbacks
// API covers the clients of both. Which process a connection lands on is the kernel's choice, so
// every test opens connections until it has seen both processes (bounded), never by chance.

const TOKEN = 'processes-admin-token-0123456789';
const CALLBACKS = `
export function onHTTPRequest(w, request, response) {
  response.data = JSON.stringify({ node: w.node, primary: w.primary });
  return response;
}
export function onWebSocketReceiveText(w, client, text) {
  const [cmd, arg] = text.split(' ');
  if (cmd === 'who') w.webSocketSendText(client, JSON.stringify({
    node: w.node, primary: w.primary, me: client, conns: w.webSocketConnections, count: w.info.websocket_connections,
    hasPrimaryChannel: 'primary' in w.info }));
  else if (cmd === 'all') w.webSocketBroadcastText('b:' + arg);
  else if (cmd === 'to') { const ok = []; for (let i = 0; i < 5; i++) ok.push(w.webSocketSendText(arg, 'm' + i)); w.webSocketSendText(client, 'sent ' + ok.join()); }
  else if (cmd === 'close') w.webSocketSendText(client, 'closed ' + w.webSocketClose(arg, 4001, 'from afar'));
}
`;


const adminPort = await freePort();
const dir = tempDir({
  'cb.js': CALLBACKS,
  'webdat.json': JSON.stringify({
    processes: 2,
    servers: [
      { name: 'alpha', host: '127.0.0.1', port: 0, callbacks: 'cb.js' },
      { name: 'beta', host: '127.0.0.1', port: 0, callbacks: 'cb.js' },
    ],
    admin: { host: '127.0.0.1', port: adminPort, token: TOKEN },
  }),
});
const main = await startWebdat(['--config', path.join(dir, 'webdat.json')], { expectServers: 2 });
after(() => main.stop());
const admin = `http://127.0.0.1:${adminPort}`;
const api = (p: string, method = 'GET') => fetch(admin + p, { method, headers: { authorization: `Bearer ${TOKEN}` } });
const wsUrl = main.urls.get('alpha')!.replace('http', 'ws') + '/';

interface Who { node: string; primary: boolean; me: string; conns: string[]; count: number; hasPrimaryChannel: boolean }
const who = async (c: Client): Promise<Who> => {
  c.ws.send('who');
  return JSON.parse(String(await c.next())) as Who;
};
/** Polls `check` until it returns a value (bounded); the last error tells what never became true. */
const pidOf = (node: string) => Number(node.slice(node.lastIndexOf(':') + 1));
const servesLines = (index: number) => [...main.stderr().matchAll(new RegExp(`engine process ${index} \\(pid (\\d+)\\) serves`, 'g'))].map((m) => Number(m[1]));

/** One GET on a fresh connection, so the kernel places each request anew. */
function getFresh(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    }).on('error', reject);
  });
}

const clients: Array<{ c: Client; w: Who }> = [];
const nodes = () => new Set(clients.map((x) => x.w.node));

test('each server announces itself once, when both processes serve it', async () => {
  await main.waitFor(/engine process 1 \(pid \d+\) serves/, 60_000);
  for (const name of ['alpha', 'beta']) {
    const lines = main.stdout().split('\n').filter((l) => l.includes(`server "${name}" listening on`));
    assert.equal(lines.length, 1, main.stdout());
  }
});

test('connections land on both processes, each with its own webServer.node', async () => {
  for (let i = 0; i < 60 && (nodes().size < 2 || clients.length < 6); i++) {
    const c = await connect(wsUrl);
    clients.push({ c, w: await who(c) });
  }
  assert.equal(nodes().size, 2, 'the kernel spread 60 connections over one process only');
  for (const n of nodes()) assert.match(n, /^.+:\d+$/);
});

test('webSocketConnections and info.websocket_connections cover the clients of both processes', async () => {
  const ids = clients.map((x) => x.w.me).sort();
  for (const { c } of clients) {
    const w = await until('every process lists every client', async () => {
      const w = await who(c);
      return w.conns.length === ids.length ? w : undefined;
    });
    assert.deepEqual([...w.conns].sort(), ids);
    assert.equal(w.count, ids.length);
    assert.equal(w.hasPrimaryChannel, false, 'primary is webServer.primary, not an info channel');
  }
});

test('webServer.primary is true in exactly one process', async () => {
  const byNode = new Map<string, boolean>();
  for (const { c } of clients) {
    const w = await who(c);
    assert.equal(byNode.get(w.node) ?? w.primary, w.primary, 'clients of one process agree');
    byNode.set(w.node, w.primary);
  }
  assert.deepEqual([...byNode.values()].filter(Boolean), [true]);
});

test('a broadcast reaches the clients of both processes', async () => {
  clients[0].c.ws.send('all hello');
  for (const { c } of clients) assert.equal(await c.next(), 'b:hello');
});

test('a send to a client of the other process arrives, in order; so does a close', async () => {
  const a = clients[0];
  const b = clients.find((x) => x.w.node !== a.w.node)!;
  const k = b.c.messages.length;
  a.c.ws.send(`to ${b.w.me}`);
  assert.equal(await a.c.next(), 'sent true,true,true,true,true');
  assert.deepEqual((await b.c.waitFor(k + 5)).slice(k), ['m0', 'm1', 'm2', 'm3', 'm4']);
  a.c.ws.send(`close ${b.w.me}`);
  assert.equal(await a.c.next(), 'closed true');
  assert.deepEqual(await b.c.closed, { code: 4001, reason: 'from afar' });
  clients.splice(clients.indexOf(b), 1);
  // Leaving is seen everywhere too.
  await until('the closed client left every list', async () => ((await who(a.c)).conns.includes(b.w.me) ? undefined : true));
});

test('GET /servers and /metrics count the requests of both processes', async () => {
  const metric = async () => {
    const text = await (await api('/metrics')).text();
    return Number(/^webdat_requests_total\{server="alpha"\} (\d+)$/m.exec(text)?.[1] ?? NaN);
  };
  const before = await metric();
  const seen = new Set<string>();
  let made = 0;
  while (seen.size < 2 && made < 60) {
    const r = await getFresh(main.urls.get('alpha')! + '/');
    assert.equal(r.status, 200);
    seen.add((JSON.parse(r.body) as { node: string }).node);
    made++;
  }
  assert.equal(seen.size, 2, 'the kernel spread 60 connections over one process only');
  assert.equal(await metric(), before + made);
  const alpha = await (await api('/servers/alpha')).json() as { requests: number; websocket_connections: number };
  assert.equal(alpha.requests, before + made);
  assert.equal(alpha.websocket_connections, clients.length);
});

/** A new client on a process `wanted` accepts (the kernel decides: bounded retries). */
async function clientWhere(wanted: (w: Who) => boolean): Promise<{ c: Client; w: Who }> {
  return until('a connection lands on the wanted process', async () => {
    const c = await connect(wsUrl);
    const w = await who(c);
    if (wanted(w)) return { c, w };
    c.ws.close();
    await c.closed;
    return undefined;
  }, 30_000);
}

test('kill -9 of the primary process: it is restarted, the primary moves, the other keeps serving', async () => {
  if (!clients.some((x) => x.w.primary)) clients.push(await clientWhere((w) => w.primary));
  if (clients.every((x) => x.w.primary)) clients.push(await clientWhere((w) => !w.primary));
  const primary = clients.find((x) => x.w.primary)!.w.node;
  const survivors = clients.filter((x) => x.w.node !== primary);
  const victims = clients.filter((x) => x.w.node === primary);
  const index = servesLines(0).includes(pidOf(primary)) ? 0 : 1;
  const servedBefore = servesLines(index).length;
  process.kill(pidOf(primary), 'SIGKILL');
  for (const v of victims) assert.equal((await v.c.closed).code, 1006);
  clients.splice(0, clients.length, ...survivors);
  const s = survivors[0].c;
  const w = await until('the survivor becomes primary', async () => { const w = await who(s); return w.primary ? w : undefined; });
  assert.equal(w.primary, true);
  // The hub tells the survivor both; the departures reach its isolate as events, the primary with the next batch.
  const left = await until('the clients of the dead process leave the lists', async () => {
    const now = await who(s);
    return now.conns.length === survivors.length ? now : undefined;
  });
  assert.deepEqual([...left.conns].sort(), survivors.map((x) => x.w.me).sort(), 'clients of the dead process left the lists');
  assert.equal((await getFresh(main.urls.get('alpha')! + '/')).status, 200);
  await until('the killed process is restarted', async () => (servesLines(index).length > servedBefore ? true : undefined), 60_000);
  const restarted = servesLines(index).at(-1)!;
  assert.notEqual(restarted, pidOf(primary));
  // The primary stays where it moved; the restarted process serves without it.
  const fresh = await clientWhere((x) => pidOf(x.node) === restarted);
  assert.equal(fresh.w.primary, false);
  assert.equal((await who(s)).primary, true);
  clients.push(fresh);
  assert.equal(main.stdout().split('\n').filter((l) => l.includes('server "alpha" listening on')).length, 1, 'no second readiness line');
});

test('an admin stop applies to both processes, and to one restarted later', async () => {
  const beta = main.urls.get('beta')!;
  assert.equal((await api('/servers/beta/stop', 'POST')).status, 200);
  const refusedEverywhere = async () => {
    for (let i = 0; i < 20; i++) await assert.rejects(getFresh(beta + '/'), /ECONNREFUSED/);
  };
  await refusedEverywhere();
  const pid = servesLines(1).at(-1)!;
  const served = servesLines(1).length;
  process.kill(pid, 'SIGKILL');
  await until('process 1 is restarted', async () => (servesLines(1).length > served ? true : undefined), 60_000);
  await refusedEverywhere();
  const lines = () => main.stdout().split('\n').filter((l) => l.includes('server "beta" listening on')).length;
  assert.equal((await api('/servers/beta/start', 'POST')).status, 200);
  await until('beta announces itself again once both processes serve it', async () => (lines() === 2 ? true : undefined));
  // Every process serves the port announced.
  const again = [...main.stdout().matchAll(/server "beta" listening on (http:\/\/\S+)/g)].at(-1)![1];
  const seen = new Set<string>();
  for (let i = 0; i < 60 && seen.size < 2; i++) seen.add((JSON.parse((await getFresh(again + '/')).body) as { node: string }).node);
  assert.equal(seen.size, 2);
});

test('an admin restart of a port-0 server: every process serves one port again, announced once', async () => {
  const lines = () => [...main.stdout().matchAll(/server "alpha" listening on (http:\/\/\S+)/g)].map((m) => m[1]);
  assert.equal(lines().length, 1);
  const r = await api('/servers/alpha/restart', 'POST');
  assert.equal(r.status, 200);
  const { port } = await r.json() as { port: number };
  await until('alpha announces itself again', async () => (lines().length === 2 ? true : undefined));
  assert.equal(new URL(lines()[1]).port, String(port));
  const seen = new Set<string>();
  for (let i = 0; i < 60 && seen.size < 2; i++) seen.add((JSON.parse((await getFresh(lines()[1] + '/')).body) as { node: string }).node);
  assert.equal(seen.size, 2);
  assert.equal(lines().length, 2, 'once, not once per process');
});

test('a port used by anything else, another webdat included, is refused with exit code 2', async () => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as net.AddressInfo).port;
  // The running webdat holds its ports with SO_REUSEPORT, which a second one must not join.
  const held = new URL([...main.stdout().matchAll(/server "alpha" listening on (http:\/\/\S+)/g)].at(-1)![1]).port;
  try {
    const refused = await Promise.all([String(port), held].map((p) => runWebdatExpectingExit(
      ['serve', '--callbacks', path.join(dir, 'cb.js'), '--host', '127.0.0.1', '--port', p, '--processes', '2'], { ms: 120_000 })));
    for (const r of refused) {
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /WEBDAT_ERR_LISTEN/);
    }
  } finally {
    blocker.close();
  }
});
