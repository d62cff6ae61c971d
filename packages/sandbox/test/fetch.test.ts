import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import net from 'node:net';
import { makeCerts } from '../../../tests/helpers/certs.ts';
import { startUpstream, type Upstream } from '../../../tests/helpers/upstream.ts';
import { allowListProblem, parseAllowEntry } from '../src/worker/capabilities/fetch/allow-list.ts';
import type { Lookup } from '../src/worker/capabilities/fetch/egress.ts';
import { createFetcher } from '../src/worker/capabilities/fetch/fetcher.ts';
import { specialKind } from '../src/worker/capabilities/fetch/special-address.ts';
import type { EgressPolicy, FetchResponse, FetchResult, InstanceFetcher } from '../src/worker/capabilities/fetch/types.ts';

// Every upstream here listens on 127.0.0.1 and is started by this file. Names other than
// `localhost` come from a lookup given to the fetcher, which records each query, so a test can
// prove that a refused name was never resolved (nothing is ever asked of a real DNS server).

/** A resolver for made-up names; every query is recorded. Unknown names fail like NXDOMAIN. */
function fakeDns(names: Record<string, string[]>): { lookup: Lookup; asked: string[] } {
  const asked: string[] = [];
  const lookup: Lookup = async (hostname) => {
    asked.push(hostname);
    const list = names[hostname];
    if (list === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return { lookup, asked };
}

const LIMITS = { maxFetches: 16, maxFetchBytes: 1024 * 1024 };
const fetchers: InstanceFetcher[] = [];
function fetcher(policy: EgressPolicy, limits = LIMITS, lookup?: Lookup): InstanceFetcher {
  const f = createFetcher(policy, limits, lookup === undefined ? {} : { lookup });
  fetchers.push(f);
  return f;
}

function get(url: string, extra: Record<string, unknown> = {}) {
  return { url, method: 'GET', headers: [], body: null, redirect: 'follow', ...extra };
}

function ok(r: FetchResult): FetchResponse {
  if (!r.ok) assert.fail(`expected a response, got TypeError: ${r.error.message}`);
  return r.value;
}

function refused(r: FetchResult, pattern: RegExp): void {
  assert.equal(r.ok, false, 'expected a TypeError');
  if (!r.ok) {
    assert.equal(r.error.name, 'TypeError');
    assert.match(r.error.message, pattern);
  }
}

const text = (r: FetchResponse) => Buffer.from(r.body).toString();
const never = () => new AbortController().signal;

let a: Upstream;
let b: Upstream;
let secure: Upstream;
let secureNamed: Upstream;
let caFile: string;

before(async () => {
  const certs = makeCerts();
  caFile = certs.ca;
  a = await startUpstream();
  b = await startUpstream();
  secure = await startUpstream(certs.issue('localhost'));
  secureNamed = await startUpstream(certs.issue('api.upstream.test'));
});

after(async () => {
  await Promise.all(fetchers.map((f) => f.close()));
  await Promise.all([a, b, secure, secureNamed].map((u) => u.close()));
});

describe('allow list entries', () => {
  test('a host name, *.suffix, host:port and bracketed IPv6 parse; names are canonical', () => {
    assert.deepEqual(parseAllowEntry('API.Example.com'), { host: 'api.example.com', wildcard: false, port: null });
    assert.deepEqual(parseAllowEntry('*.example.org'), { host: 'example.org', wildcard: true, port: null });
    assert.deepEqual(parseAllowEntry('127.0.0.1:8080'), { host: '127.0.0.1', wildcard: false, port: 8080 });
    assert.deepEqual(parseAllowEntry('[::1]:8443'), { host: '::1', wildcard: false, port: 8443 });
    assert.deepEqual(parseAllowEntry('::1'), { host: '::1', wildcard: false, port: null });
    assert.deepEqual(parseAllowEntry('example.com.'), { host: 'example.com', wildcard: false, port: null });
  });

  test('bad entries are refused with a message naming them', () => {
    for (const bad of ['', 'a:b', 'a:0', 'a:70000', 'a*.b', 'x.*.y', '*.127.0.0.1', 'http://a', 'a/b', 'a b', 'user@a']) {
      const problem = allowListProblem(['ok.example', bad]);
      assert.ok(problem !== null && problem.includes(`"${bad}"`), `${bad}: ${problem}`);
    }
    assert.equal(allowListProblem(['a.example', '*.b.example', 'c.example:81', '10.0.0.1:5432']), null);
    assert.throws(() => createFetcher({ allow: ['bad entry'] }, LIMITS), /egress.allow entry "bad entry"/);
  });
});

describe('special addresses', () => {
  test('loopback, private, link-local, unspecified, CGNAT and their IPv6 forms are special; public ones are not', () => {
    const special: Record<string, string> = {
      '127.0.0.1': 'loopback', '127.255.0.9': 'loopback', '10.1.2.3': 'private', '172.16.0.1': 'private',
      '172.31.255.255': 'private', '192.168.1.1': 'private', '169.254.169.254': 'link-local',
      '0.0.0.0': 'unspecified', '100.64.0.1': 'carrier-grade NAT', '224.0.0.1': 'multicast',
      '255.255.255.255': 'reserved', '::': 'unspecified', '::1': 'loopback', 'fd00::1': 'private',
      'fc00::1': 'private', 'fe80::1': 'link-local', 'ff02::1': 'multicast', '::ffff:127.0.0.1': 'loopback',
      '::ffff:7f00:1': 'loopback', '::ffff:a00:1': 'private', '::ffff:169.254.169.254': 'link-local',
      '::127.0.0.1': 'loopback', '64:ff9b::a00:1': 'private', '::ffff:0.0.0.0': 'unspecified',
    };
    for (const [address, kind] of Object.entries(special)) assert.equal(specialKind(address), kind, address);
    for (const address of ['93.184.215.14', '8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '::ffff:8.8.8.8']) {
      assert.equal(specialKind(address), null, address);
    }
  });
});

describe('egress policy', () => {
  test('a host not in the list is refused by name, before any DNS query', async () => {
    const dns = fakeDns({ 'api.upstream.test': ['127.0.0.1'] });
    const f = fetcher({ allow: ['api.upstream.test', '*.allowed.test', 'port.test:8443'] }, LIMITS, dns.lookup);
    refused(await f.fetch(get('http://evil.example/'), never()), /"evil\.example:80" refused: host "evil\.example" is not allowed/);
    refused(await f.fetch(get('http://sub.api.upstream.test/'), never()), /host "sub\.api\.upstream\.test" is not allowed/);
    refused(await f.fetch(get('http://allowed.test/'), never()), /host "allowed\.test" is not allowed/);
    refused(await f.fetch(get('http://port.test:8444/'), never()), /"port\.test:8444" refused/);
    refused(await f.fetch(get('https://port.test/'), never()), /"port\.test:443" refused/);
    assert.deepEqual(dns.asked, []);
  });

  test('only http: and https: are fetched', async () => {
    const f = fetcher({ allow: ['127.0.0.1', 'files.test'] });
    refused(await f.fetch(get('ftp://files.test/x'), never()), /only http: and https:/);
    refused(await f.fetch(get('file:///etc/passwd'), never()), /only http: and https:/);
    refused(await f.fetch(get('data:text/plain,hi'), never()), /only http: and https:/);
  });

  test('an allowed name is resolved; a loopback, private, link-local or unspecified answer is refused', async () => {
    const dns = fakeDns({
      'a.allowed.test': ['127.0.0.1'], 'b.allowed.test': ['10.0.0.7'], 'c.allowed.test': ['169.254.169.254'],
      'd.allowed.test': ['0.0.0.0'], 'e.allowed.test': ['fd12::1'], 'f.allowed.test': ['::ffff:192.168.0.1'],
      'g.allowed.test': ['203.0.113.9', '127.0.0.1'], 'h.allowed.test': ['100.64.1.1'],
    });
    const f = fetcher({ allow: ['*.allowed.test'] }, LIMITS, dns.lookup);
    const expect: Record<string, string> = {
      a: '127.0.0.1, which is a loopback', b: '10.0.0.7, which is a private', c: '169.254.169.254, which is a link-local',
      d: '0.0.0.0, which is an unspecified', e: 'fd12::1, which is a private', f: '::ffff:192.168.0.1, which is a private',
      g: '127.0.0.1, which is a loopback', h: '100.64.1.1, which is a carrier-grade NAT',
    };
    for (const [label, why] of Object.entries(expect)) {
      const r = await f.fetch(get(`http://${label}.allowed.test:${a.port}/`), never());
      refused(r, new RegExp(`"${label}\\.allowed\\.test:${a.port}" refused: host "${label}\\.allowed\\.test" resolves to ${why.replace(/[.]/g, '\\.')} address; only an exact "${label}\\.allowed\\.test:${a.port}" entry`));
    }
    assert.equal(dns.asked.length, 8);
    refused(await f.fetch(get('http://nowhere.allowed.test/'), never()), /host "nowhere\.allowed\.test" could not be resolved \(ENOTFOUND\)/);
    assert.deepEqual(a.seen, []);
  });

  test('an IP literal of a special range needs its exact host:port, a bare IP or another port is not enough', async () => {
    const loose = fetcher({ allow: ['127.0.0.1', `127.0.0.1:${a.port + 1}`, '[::ffff:7f00:1]', '[::1]'] });
    refused(await loose.fetch(get(`${a.origin}/`), never()), new RegExp(`"127\\.0\\.0\\.1:${a.port}" refused: host "127\\.0\\.0\\.1" is a loopback address`));
    refused(await loose.fetch(get(`http://[::ffff:127.0.0.1]:${a.port}/`), never()), /host "::ffff:7f00:1" is a loopback address/);
    refused(await loose.fetch(get(`http://[::1]:${a.port}/`), never()), /host "::1" is a loopback address/);
    refused(await loose.fetch(get(`http://2130706433:${a.port}/`), never()), /host "127\.0\.0\.1" is a loopback address/);
    assert.deepEqual(a.seen, []);
    const exact = fetcher({ allow: [`127.0.0.1:${a.port}`] });
    const r = ok(await exact.fetch(get(`${a.origin}/hello`), never()));
    assert.equal(r.status, 200);
    assert.equal(text(r), 'hello');
    assert.equal(r.statusText, 'OK');
    assert.equal(r.url, `${a.origin}/hello`);
    assert.equal(r.redirected, false);
    assert.ok(r.headers.some(([n, v]) => n === 'x-upstream' && v === 'yes'));
    assert.deepEqual(a.seen, ['GET /hello']);
    a.seen.length = 0;
  });

  test('localhost (the system resolver says 127.0.0.1) is refused unless localhost:port is listed', async () => {
    refused(await fetcher({ allow: ['localhost', `127.0.0.1:${a.port}`] }).fetch(get(`http://localhost:${a.port}/`), never()),
      new RegExp(`"localhost:${a.port}" refused: host "localhost" resolves to 127\\.0\\.0\\.1, which is a loopback address`));
    assert.deepEqual(a.seen, []);
    const r = ok(await fetcher({ allow: [`localhost:${a.port}`] }).fetch(get(`http://localhost:${a.port}/echo`), never()));
    assert.equal(JSON.parse(text(r)).headers.host, `localhost:${a.port}`);
    a.seen.length = 0;
  });

  test('the connection goes to the address that was checked: the socket never resolves the name itself', async () => {
    // `pinned.test` exists only in this resolver: had the socket looked the name up again, the
    // connection would fail. Every new connection costs exactly one lookup.
    const dns = fakeDns({ 'pinned.test': ['127.0.0.1'] });
    const f = fetcher({ allow: [`pinned.test:${a.port}`] }, LIMITS, dns.lookup);
    const before = a.connections();
    for (let i = 0; i < 3; i++) assert.equal(text(ok(await f.fetch(get(`http://pinned.test:${a.port}/hello`), never()))), 'hello');
    assert.ok(dns.asked.length >= 1);
    assert.equal(dns.asked.length, a.connections() - before);
    a.seen.length = 0;
  });
  test('more origins than the agent keeps: pools are recycled without cutting a fetch that is still running', async () => {
    const names = Array.from({ length: 70 }, (_, i) => `o${i}.many.test`);
    const dns = fakeDns(Object.fromEntries(names.map((n) => [n, ['127.0.0.1']])));
    const f = fetcher({ allow: names.map((n) => `${n}:${a.port}`) }, LIMITS, dns.lookup);
    const holds = a.holds.value;
    const long = f.fetch(get(`http://${names[0]}:${a.port}/hold`), never());
    await a.holds.reach(holds + 1);
    for (const n of names.slice(1)) {
      const r = ok(await f.fetch(get(`http://${n}:${a.port}/hello`), never()));
      assert.equal(text(r), 'hello');
      f.release(r.slot as number);
    }
    a.releaseHeld();
    assert.equal(text(ok(await long)), 'released');
    a.seen.length = 0;
  });
});

describe('redirects', () => {
  test('followed hop by hop: an allowed hop is followed, a disallowed one refused before it is resolved', async () => {
    const dns = fakeDns({});
    const f = fetcher({ allow: [`127.0.0.1:${a.port}`] }, LIMITS, dns.lookup);
    const to = (target: string, status = 302) => `${a.origin}/redirect?status=${status}&to=${encodeURIComponent(target)}`;
    const r = ok(await f.fetch(get(to('/hello', 301)), never()));
    assert.equal(text(r), 'hello');
    assert.equal(r.redirected, true);
    assert.equal(r.url, `${a.origin}/hello`);
    refused(await f.fetch(get(to(`${b.origin}/hello`)), never()), new RegExp(`"127\\.0\\.0\\.1:${b.port}" refused: host "127\\.0\\.0\\.1" is not allowed`));
    refused(await f.fetch(get(to('http://internal.evil.test/')), never()), /host "internal\.evil\.test" is not allowed/);
    refused(await f.fetch(get(to('file:///etc/passwd')), never()), /only http: and https:/);
    assert.deepEqual(b.seen, []);
    assert.deepEqual(dns.asked, []);
    a.seen.length = 0;
  });

  test('a hop to a listed name that resolves to a special address is refused at that hop', async () => {
    const dns = fakeDns({ 'inside.test': ['192.168.7.7'] });
    const f = fetcher({ allow: [`127.0.0.1:${a.port}`, 'inside.test'] }, LIMITS, dns.lookup);
    refused(await f.fetch(get(`${a.origin}/redirect?to=${encodeURIComponent('http://inside.test/')}`), never()),
      /"inside\.test:80" refused: host "inside\.test" resolves to 192\.168\.7\.7/);
    assert.deepEqual(dns.asked, ['inside.test']);
    a.seen.length = 0;
  });

  test('manual returns the 3xx itself, error rejects, a loop stops after 20 hops', async () => {
    const f = fetcher({ allow: [`127.0.0.1:${a.port}`] });
    const r = ok(await f.fetch(get(`${a.origin}/redirect?status=307&to=${encodeURIComponent('http://elsewhere.test/')}`, { redirect: 'manual' }), never()));
    assert.equal(r.status, 307);
    assert.equal(r.redirected, false);
    assert.ok(r.headers.some(([n, v]) => n === 'location' && v === 'http://elsewhere.test/'));
    assert.equal(text(r), 'moved');
    refused(await f.fetch(get(`${a.origin}/redirect?to=/hello`, { redirect: 'error' }), never()), /redirects \(302\) and redirect is "error"/);
    a.seen.length = 0;
    refused(await f.fetch(get(`${a.origin}/loop`), never()), /more than 20 redirects/);
    assert.equal(a.seen.length, 21);
    a.seen.length = 0;
  });

  test('303 turns a POST into a body-less GET; 307 keeps method and body; credentials stay with their origin', async () => {
    const f = fetcher({ allow: [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`] });
    const post = (status: number, target: string) => ({
      url: `${a.origin}/redirect?status=${status}&to=${encodeURIComponent(target)}`, method: 'POST', redirect: 'follow',
      headers: [['content-type', 'text/plain'], ['authorization', 'Bearer secret']], body: new TextEncoder().encode('payload'),
    });
    const e303 = JSON.parse(text(ok(await f.fetch(post(303, '/echo'), never()))));
    assert.equal(e303.method, 'GET');
    assert.equal(e303.body, '');
    assert.equal(e303.headers['content-type'], undefined);
    assert.equal(e303.headers.authorization, 'Bearer secret');
    const e307 = JSON.parse(text(ok(await f.fetch(post(307, `${b.origin}/echo`), never()))));
    assert.equal(e307.method, 'POST');
    assert.equal(Buffer.from(e307.body, 'base64').toString(), 'payload');
    assert.equal(e307.headers.authorization, undefined, 'dropped on a cross-origin hop');
    a.seen.length = 0;
    b.seen.length = 0;
  });
});

describe('requests and responses', () => {
  test('method, headers and body go out as given; host and hop-by-hop headers are dropped', async () => {
    const f = fetcher({ allow: [`127.0.0.1:${a.port}`] });
    const bytes = new Uint8Array([0, 1, 2, 253, 254, 255]);
    const r = ok(await f.fetch({
      url: `${a.origin}/echo`, method: 'put', redirect: 'follow', body: bytes,
      headers: [['X-Custom', ' spaced '], ['x-multi', '1'], ['x-multi', '2'], ['Host', 'evil.test'], ['connection', 'upgrade'],
        ['transfer-encoding', 'chunked'], ['content-length', '999'], ['upgrade', 'websocket'], ['proxy-authorization', 'x']],
    }, never()));
    const echo = JSON.parse(text(r));
    assert.equal(echo.method, 'PUT');
    assert.equal(echo.headers['x-custom'], 'spaced');
    assert.equal(echo.headers['x-multi'], '1, 2');
    assert.equal(echo.headers.host, `127.0.0.1:${a.port}`);
    assert.equal(echo.headers['content-length'], '6');
    assert.equal(echo.headers.upgrade, undefined);
    assert.equal(echo.headers['proxy-authorization'], undefined);
    assert.deepEqual([...Buffer.from(echo.body, 'base64')], [...bytes]);
    assert.deepEqual(r.headers.filter(([n]) => n === 'set-cookie'), [['set-cookie', 'a=1'], ['set-cookie', 'b=2']]);
    const patch = JSON.parse(text(ok(await f.fetch({ url: `${a.origin}/echo`, method: 'PATCH', headers: [], body: 'héllo', redirect: 'follow' }, never()))));
    assert.equal(patch.method, 'PATCH');
    assert.equal(Buffer.from(patch.body, 'base64').toString(), 'héllo');
    assert.equal(patch.headers['content-type'], 'text/plain;charset=UTF-8');
    const ab = JSON.parse(text(ok(await f.fetch({ url: `${a.origin}/echo`, method: 'POST', headers: [], body: new Uint8Array([7, 8]).buffer, redirect: 'follow' }, never()))));
    assert.deepEqual([...Buffer.from(ab.body, 'base64')], [7, 8]);
    a.seen.length = 0;
  });

  test('malformed requests are TypeErrors, checked before anything is sent', async () => {
    const f = fetcher({ allow: [`127.0.0.1:${a.port}`] });
    const bad: [unknown, RegExp][] = [
      [null, /must be an object/],
      [{ url: 5 }, /URL must be a string/],
      [get('not a url'), /Invalid URL: not a url/],
      [get(`http://user:pw@127.0.0.1:${a.port}/`), /must not include credentials/],
      [get(`${a.origin}/`, { method: 'TRACE' }), /"TRACE" HTTP method is unsupported/],
      [get(`${a.origin}/`, { method: 'connect' }), /"connect" HTTP method is unsupported/],
      [get(`${a.origin}/`, { method: 'GE T' }), /not a valid HTTP method/],
      [get(`${a.origin}/`, { body: 'x' }), /a GET request cannot have a body/],
      [get(`${a.origin}/`, { method: 'HEAD', body: new Uint8Array(1) }), /a HEAD request cannot have a body/],
      [get(`${a.origin}/`, { headers: [['bad name', 'v']] }), /"bad name" is an invalid header name/],
      [get(`${a.origin}/`, { headers: [['x', 'a\r\nInjected: 1']] }), /header "x" has an invalid value/],
      [get(`${a.origin}/`, { headers: { x: '1' } }), /list of \[name, value\] pairs/],
      [get(`${a.origin}/`, { method: 'POST', body: { toString: 1 } }), /body must be a string, a Uint8Array or an ArrayBuffer/],
      [get(`${a.origin}/`, { redirect: 'follow-anyway' }), /redirect must be/],
    ];
    for (const [req, pattern] of bad) refused(await f.fetch(req, never()), pattern);
    assert.deepEqual(a.seen, []);
    assert.equal(f.active, 0);
  });

  test('an upstream that drops the connection is a TypeError naming the URL', async () => {
    const rude = net.createServer((socket) => socket.destroy());
    await new Promise<void>((r) => rude.listen(0, '127.0.0.1', r));
    const { port } = rude.address() as net.AddressInfo;
    try {
      refused(await fetcher({ allow: [`127.0.0.1:${port}`] }).fetch(get(`http://127.0.0.1:${port}/`), never()), new RegExp(`^fetch to http://127\\.0\\.0\\.1:${port}/ failed: `));
    } finally {
      await new Promise((r) => rude.close(r));
    }
  });
});

describe('https', () => {
  test('certificates are verified; egress.caFile adds a CA to the default roots', async () => {
    const url = `https://localhost:${secure.port}/hello`;
    refused(await fetcher({ allow: [`localhost:${secure.port}`] }).fetch(get(url), never()), /failed: .*(self[- ]signed|unable to (get|verify))/i);
    assert.deepEqual(secure.seen, []);
    const r = ok(await fetcher({ allow: [`localhost:${secure.port}`, `127.0.0.1:${secure.port}`], caFile }).fetch(get(url), never()));
    assert.equal(text(r), 'hello');
    assert.throws(() => createFetcher({ allow: [], caFile: `${caFile}.missing` }, LIMITS), /egress\.caFile ".*\.missing" cannot be read/);
    assert.throws(() => createFetcher({ allow: [], caFile: '/etc/hostname' }, LIMITS), /egress\.caFile "\/etc\/hostname" holds no PEM certificate/);
    secure.seen.length = 0;
  });

  test('TLS verifies the URL name (and sends it as SNI and Host) while connecting to the checked address', async () => {
    const dns = fakeDns({ 'api.upstream.test': ['127.0.0.1'], 'other.upstream.test': ['127.0.0.1'] });
    const f = fetcher({ allow: [`api.upstream.test:${secureNamed.port}`, `other.upstream.test:${secureNamed.port}`], caFile }, LIMITS, dns.lookup);
    const echo = JSON.parse(text(ok(await f.fetch(get(`https://api.upstream.test:${secureNamed.port}/echo`), never()))));
    assert.equal(echo.headers.host, `api.upstream.test:${secureNamed.port}`);
    refused(await f.fetch(get(`https://other.upstream.test:${secureNamed.port}/echo`), never()), /failed: .*(altnames|does not match|Hostname\/IP)/i);
    secureNamed.seen.length = 0;
  });
});

describe('limits', () => {
  test('a body over maxFetchBytes: status and headers arrive, the body carries the error', async () => {
    const limit = 1000;
    const f = fetcher({ allow: [`127.0.0.1:${a.port}`] }, { maxFetches: 4, maxFetchBytes: limit });
    assert.equal(ok(await f.fetch(get(`${a.origin}/bytes?n=${limit}`), never())).body.byteLength, limit);
    assert.equal(ok(await f.fetch(get(`${a.origin}/bytes?n=${limit}&chunked`), never())).body.byteLength, limit);
    for (const path of [`/bytes?n=${limit + 1}`, `/bytes?n=${limit + 1}&chunked`, `/gzip?n=${100 * limit}`]) {
      const r = ok(await f.fetch(get(`${a.origin}${path}`), never()));
      assert.equal(r.status, 200, path);
      assert.ok(r.headers.length > 0);
      assert.equal(r.body.byteLength, 0);
      assert.match(r.bodyError ?? '', /exceeds limits\.maxFetchBytes \(1000 bytes\)/, path);
      assert.notEqual(r.slot, null, 'the failed body still holds its slot until the isolate reads it');
      f.release(r.slot as number);
    }
    const gz = ok(await f.fetch(get(`${a.origin}/gzip?n=${limit}`), never()));
    assert.equal(gz.body.byteLength, limit, 'bodies are counted and delivered decoded');
    f.release(gz.slot as number);
    a.seen.length = 0;
  });

  test('the (maxFetches+1)-th concurrent fetch is refused; slots are held until the body is consumed', async () => {
    const f = fetcher({ allow: [`127.0.0.1:${a.port}`] }, { maxFetches: 2, maxFetchBytes: 1024 });
    const holds = a.holds.value;
    const first = f.fetch(get(`${a.origin}/hold`), never());
    const second = f.fetch(get(`${a.origin}/hello`), never());
    assert.equal(f.active, 2);
    for (let slot = 0; slot < 100; slot++) f.release(slot);
    assert.equal(f.active, 2, 'the isolate cannot free the slot of a fetch still running');
    refused(await f.fetch(get(`${a.origin}/hello`), never()), /refused: 2 fetches of this server are running or have unread bodies \(limits\.maxFetches\)/);
    refused(await f.fetch(get('http://elsewhere.test/'), never()), /host "elsewhere\.test" is not allowed/);
    const done = ok(await second);
    assert.equal(f.active, 2, 'a delivered body holds its slot until released');
    refused(await f.fetch(get(`${a.origin}/hello`), never()), /limits\.maxFetches/);
    f.release(done.slot as number);
    f.release(done.slot as number);
    assert.equal(f.active, 1, 'releasing twice frees one slot');
    const empty = ok(await f.fetch(get(`${a.origin}/empty`), never()));
    assert.equal(empty.status, 204);
    assert.equal(empty.slot, null, 'an empty body is consumed on arrival');
    assert.equal(f.active, 1);
    await a.holds.reach(holds + 1);
    a.releaseHeld();
    const held = ok(await first);
    assert.equal(text(held), 'released');
    f.release(held.slot as number);
    assert.equal(f.active, 0);
    a.seen.length = 0;
  });

  test('an invocation making many fetches leaves no listeners piling up on its signal', async () => {
    const f = fetcher({ allow: [`127.0.0.1:${a.port}`] }, { maxFetches: 4, maxFetchBytes: 1024 });
    const invocation = new AbortController();
    for (let i = 0; i < 200; i++) f.release(ok(await f.fetch(get(`${a.origin}/hello`), invocation.signal)).slot as number);
    assert.ok(getEventListeners(invocation.signal, 'abort').length <= 1, `${getEventListeners(invocation.signal, 'abort').length} listeners`);
    a.seen.length = 0;
  });

  test('ending the invocation aborts its running fetch and frees the slots it holds', async () => {
    const f = fetcher({ allow: [`127.0.0.1:${a.port}`] }, { maxFetches: 4, maxFetchBytes: 1024 });
    const invocation = new AbortController();
    const delivered = ok(await f.fetch(get(`${a.origin}/hello`), invocation.signal));
    assert.notEqual(delivered.slot, null);
    const [holds, cut] = [a.holds.value, a.holdsCut.value];
    const running = f.fetch(get(`${a.origin}/hold`), invocation.signal);
    await a.holds.reach(holds + 1);
    assert.equal(f.active, 2);
    invocation.abort();
    refused(await running, /^fetch aborted: its invocation ended$/);
    assert.equal(f.active, 0);
    await a.holdsCut.reach(cut + 1);
    refused(await f.fetch(get(`${a.origin}/hello`), invocation.signal), /^fetch aborted/);
    assert.equal(f.active, 0);
    a.releaseHeld();
    a.seen.length = 0;
  });
});
