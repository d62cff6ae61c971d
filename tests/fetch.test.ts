import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeCerts } from './helpers/certs.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { runWebdatExpectingExit, startWebdat, tempDir, type Running } from './helpers/webdat.ts';

// SPEC §10 and §5 (maxFetches, maxFetchBytes), black-box: callbacks call `fetch` inside webdat
// against upstreams this file starts on 127.0.0.1; `egress` comes from a config file.

const CALLBACKS = `
function fail(e) { return { error: e && e.name, message: e && e.message }; }
async function describe(r) {
  const seen = [];
  r.headers.forEach((value, name) => { if (name === 'x-upstream') seen.push(value); });
  const entries = [...r.headers.entries()].filter(([name]) => name === 'x-upstream');
  return { status: r.status, statusText: r.statusText, ok: r.ok, url: r.url, type: r.headers.get('content-type'),
    has: r.headers.has('x-upstream'), seen, entries, location: r.headers.get('location'), body: await r.text() };
}
export async function onHTTPRequest(webServer, request, response) {
  const u = request.pars.u;
  let out;
  try {
    switch (request.uri) {
      case '/get':
        out = await describe(await fetch(u, request.pars.redirect ? { redirect: request.pars.redirect } : undefined));
        break;
      case '/send': {
        const kind = request.pars.kind;
        const body = kind === 'string' ? 'héllo' : kind === 'bytes' ? new Uint8Array([0, 1, 255]) : new Uint8Array([7, 8]).buffer;
        const headers = new Headers({ 'X-One': '1' });
        headers.append('x-two', '2');
        out = await (await fetch(u, { method: 'POST', headers, body })).json();
        break;
      }
      case '/binary': {
        const bytes = new Uint8Array(await (await fetch(u)).arrayBuffer());
        out = { length: bytes.length, first: bytes[0] };
        break;
      }
      case '/big': {
        const r = await fetch(u);
        out = { status: r.status };
        try { await r.text(); out.read = 'ok'; } catch (e) { out.read = fail(e); }
        break;
      }
      case '/slots': {
        // maxFetches is 2: two responses whose bodies are unread hold both slots.
        const first = await fetch(u);
        const second = await fetch(u);
        try { await fetch(u); out = { third: 'resolved' }; } catch (e) { out = { third: fail(e) }; }
        await first.text();
        out.fourth = await (await fetch(u)).text();
        out.second = await second.text();
        break;
      }
      case '/flood': {
        // A hostile loop: hundreds of fetches at once, allowed and refused, none awaited in turn. (Not
        // thousands: each is a host call, and on a loaded machine their wall time meets the time limit.)
        const all = [];
        for (let i = 0; i < 400; i++) all.push(fetch(i % 2 ? u + '/hello' : 'http://not-allowed.test/'));
        const settled = await Promise.allSettled(all);
        const count = (pred) => settled.filter(pred).length;
        out = {
          fulfilled: count((r) => r.status === 'fulfilled'),
          refusedHost: count((r) => r.status === 'rejected' && r.reason instanceof TypeError && /not-allowed\.test/.test(r.reason.message)),
          refusedSlots: count((r) => r.status === 'rejected' && r.reason instanceof TypeError && /limits\.maxFetches/.test(r.reason.message)),
        };
        break;
      }
      case '/concurrent': {
        const held = [fetch(u + '/hold'), fetch(u + '/hold')];
        held.forEach((p) => p.catch(() => {}));
        try { await fetch(u + '/hello'); out = { third: 'resolved' }; } catch (e) { out = { third: fail(e) }; }
        break;
      }
    }
  } catch (e) {
    out = fail(e);
  }
  response['content-type'] = 'application/json';
  response.data = JSON.stringify(out);
  return response;
}
`;

let up: Upstream;
let other: Upstream;
let secure: Upstream;
let slow: Upstream;
let webdat: Running;

async function call(server: string, uri: string, pars: Record<string, string>): Promise<Record<string, any>> {
  const res = await fetch(`${webdat.urls.get(server)}${uri}?${new URLSearchParams(pars)}`);
  assert.equal(res.status, 200, `${server}${uri}: ${res.headers.get('x-webdat-error')}`);
  return await res.json() as Record<string, any>;
}

function assertTypeError(out: Record<string, any>, pattern: RegExp): void {
  assert.equal(out.error, 'TypeError', JSON.stringify(out));
  assert.match(out.message, pattern);
}

before(async () => {
  const certs = makeCerts();
  up = await startUpstream();
  other = await startUpstream();
  secure = await startUpstream(certs.issue('localhost'));
  slow = await startUpstream();
  const dir = tempDir({ 'api.js': CALLBACKS });
  fs.copyFileSync(certs.ca, path.join(dir, 'ca.pem'));
  const server = (name: string, extra: object) => ({ name, port: 0, host: '127.0.0.1', callbacks: 'api.js', ...extra });
  fs.writeFileSync(path.join(dir, 'webdat.json'), JSON.stringify({
    servers: [
      server('api', {
        egress: { allow: [`127.0.0.1:${up.port}`, `localhost:${secure.port}`], caFile: 'ca.pem' },
        // The flood starts 400 fetches in one stretch: on a loaded machine that can take more than the
        // default CPU limit (1 s, measured as the stretch's run time).
        limits: { timeoutMs: 20_000, cpuMs: 20_000, maxFetches: 2, maxFetchBytes: 1000 },
      }),
      server('closed', { limits: { timeoutMs: 20_000 } }),
      server('loose', { egress: { allow: ['127.0.0.1', 'localhost', '[::ffff:127.0.0.1]', `127.0.0.1:${up.port + 1}`] }, limits: { timeoutMs: 20_000 } }),
      server('short', { egress: { allow: [`127.0.0.1:${slow.port}`] }, limits: { timeoutMs: 3000 } }),
    ],
    // One worker for all: a server waiting on a slow upstream must not hold up the others.
    workers: 1,
  }));
  webdat = await startWebdat(['--config', path.join(dir, 'webdat.json')], { expectServers: 4 });
});

after(async () => {
  assert.equal(await webdat.stop(), 0);
  await Promise.all([up, other, secure, slow].map((u) => u.close()));
});

test('a callback fetches an allowed upstream: status, headers, body as in browsers', async () => {
  const out = await call('api', '/get', { u: `${up.origin}/hello` });
  assert.deepEqual(out, {
    status: 200, statusText: 'OK', ok: true, url: `${up.origin}/hello`, type: 'text/plain', has: true,
    seen: ['yes'], entries: [['x-upstream', 'yes']], location: null, body: 'hello',
  });
  assert.deepEqual(await call('api', '/binary', { u: `${up.origin}/bytes?n=700` }), { length: 700, first: 120 });
});

test('method, Headers and string, Uint8Array and ArrayBuffer bodies reach the upstream byte-exact', async () => {
  const s = await call('api', '/send', { kind: 'string', u: `${up.origin}/echo` });
  assert.equal(s.method, 'POST');
  assert.equal(s.headers['x-one'], '1');
  assert.equal(s.headers['x-two'], '2');
  assert.equal(s.headers['content-type'], 'text/plain;charset=UTF-8');
  assert.equal(Buffer.from(s.body, 'base64').toString(), 'héllo');
  assert.deepEqual([...Buffer.from((await call('api', '/send', { kind: 'bytes', u: `${up.origin}/echo` })).body, 'base64')], [0, 1, 255]);
  assert.deepEqual([...Buffer.from((await call('api', '/send', { kind: 'buffer', u: `${up.origin}/echo` })).body, 'base64')], [7, 8]);
});

test('egress is denied unless allowed: a TypeError names the host', async () => {
  assertTypeError(await call('closed', '/get', { u: `${up.origin}/hello` }), new RegExp(`host "127\\.0\\.0\\.1" is not allowed`));
  assertTypeError(await call('api', '/get', { u: 'http://not-allowed.test/' }), /host "not-allowed\.test" is not allowed/);
  assertTypeError(await call('api', '/get', { u: `${other.origin}/hello` }), new RegExp(`"127\\.0\\.0\\.1:${other.port}" refused`));
  assertTypeError(await call('api', '/get', { u: 'file:///etc/passwd' }), /only http: and https:/);
  assert.deepEqual(other.seen, []);
});

test('loopback is refused unless the exact host:port is listed, also when a name resolves to it', async () => {
  assertTypeError(await call('loose', '/get', { u: `${up.origin}/hello` }), new RegExp(`"127\\.0\\.0\\.1:${up.port}" refused: host "127\\.0\\.0\\.1" is a loopback address`));
  assertTypeError(await call('loose', '/get', { u: `http://localhost:${up.port}/hello` }), /host "localhost" resolves to 127\.0\.0\.1, which is a loopback address/);
  assertTypeError(await call('loose', '/get', { u: `http://[::ffff:127.0.0.1]:${up.port}/hello` }), /is a loopback address/);
});

test('redirects are checked hop by hop; manual returns the 3xx, error rejects', async () => {
  const via = (to: string, status = 302) => `${up.origin}/redirect?status=${status}&to=${encodeURIComponent(to)}`;
  const followed = await call('api', '/get', { u: via('/hello') });
  assert.equal(followed.body, 'hello');
  assert.equal(followed.url, `${up.origin}/hello`);
  assertTypeError(await call('api', '/get', { u: via(`${other.origin}/hello`) }), new RegExp(`"127\\.0\\.0\\.1:${other.port}" refused`));
  assert.deepEqual(other.seen, []);
  const manual = await call('api', '/get', { u: via('/hello', 307), redirect: 'manual' });
  assert.equal(manual.status, 307);
  assert.equal(manual.location, '/hello');
  assertTypeError(await call('api', '/get', { u: via('/hello'), redirect: 'error' }), /redirect is "error"/);
});

test('https upstreams: certificates verified against egress.caFile (relative to the config file)', async () => {
  assert.equal((await call('api', '/get', { u: `https://localhost:${secure.port}/hello` })).body, 'hello');
});

test('maxFetchBytes: status resolves, the body read rejects with TypeError', async () => {
  assert.deepEqual(await call('api', '/big', { u: `${up.origin}/bytes?n=1000` }), { status: 200, read: 'ok' });
  const big = await call('api', '/big', { u: `${up.origin}/bytes?n=1001&chunked` });
  assert.equal(big.status, 200);
  assertTypeError(big.read, /limits\.maxFetchBytes/);
});

test('maxFetches: the next concurrent fetch rejects with TypeError; a slot is held until its body is consumed', async () => {
  const concurrent = await call('api', '/concurrent', { u: up.origin });
  assertTypeError(concurrent.third, /limits\.maxFetches/);
  const slots = await call('api', '/slots', { u: `${up.origin}/hello` });
  assertTypeError(slots.third, /limits\.maxFetches/);
  assert.equal(slots.fourth, 'hello');
  assert.equal(slots.second, 'hello');
});

test('a flood of fetches in one invocation: refusals are immediate TypeErrors, the answer comes', async () => {
  assert.deepEqual(await call('api', '/flood', { u: up.origin }), { fulfilled: 2, refusedHost: 200, refusedSlots: 198 });
  assert.equal((await call('api', '/get', { u: `${up.origin}/hello` })).body, 'hello', 'the slots of the flood are free again');
});

test('a fetch still running when its invocation ends is aborted, and the client gets its answer; other servers go on meanwhile', async () => {
  const answer = fetch(`${webdat.urls.get('short')}/get?u=${encodeURIComponent(`${slow.origin}/hold`)}`);
  await slow.holds.reach(1);
  assert.equal((await call('api', '/get', { u: `${up.origin}/hello` })).body, 'hello', 'another server of the worker answers meanwhile');
  const res = await answer;
  assert.equal(res.status, 503);
  assert.equal(res.headers.get('x-webdat-error'), 'timeout');
  await slow.holdsCut.reach(1);
});

test('a body that trickles forever is cut when the invocation ends', async () => {
  const [holds, cut] = [slow.holds.value, slow.holdsCut.value];
  const answer = fetch(`${webdat.urls.get('short')}/get?u=${encodeURIComponent(`${slow.origin}/hold?drip`)}`);
  await slow.holds.reach(holds + 1);
  const res = await answer;
  assert.equal(res.status, 503);
  assert.equal(res.headers.get('x-webdat-error'), 'timeout');
  await slow.holdsCut.reach(cut + 1);
});

test('an invalid egress config is refused at start, naming the key', async () => {
  const dir = tempDir({ 'api.js': CALLBACKS });
  const write = (egress: object) => {
    fs.writeFileSync(path.join(dir, 'webdat.json'), JSON.stringify({ servers: [{ name: 'x', port: 0, callbacks: 'api.js', egress }] }));
    return ['serve', '--config', path.join(dir, 'webdat.json')];
  };
  const bad = await runWebdatExpectingExit(write({ allow: ['bad entry'] }));
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /WEBDAT_ERR_CONFIG: .*\nservers\[0\]\.egress\.allow\[0\]: egress\.allow entry "bad entry" is not a valid host\n/);
  const noCa = await runWebdatExpectingExit(write({ allow: [], caFile: 'missing.pem' }));
  assert.equal(noCa.code, 2);
  assert.match(noCa.stderr, /WEBDAT_ERR_CONFIG: .*\nservers\[0\]\.egress\.caFile: egress\.caFile ".*missing\.pem" cannot be read \(ENOENT\)\n/);
});
