import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { serveSource } from './helpers/webdat.ts';

// The Web-platform extras of SPEC §4 are written for the isolate; each must agree with Node's own
// implementation on the same inputs. The same function runs on both sides.
const cases = String(function cases() {
  const out: Record<string, unknown> = {};
  const strings = ['', 'ascii', 'héllo wörld', '日本語', '🎉 emoji 👍🏽', 'lone \ud800 surrogate', '\u0000\u007f\u0080\u07ff\u0800\uffff'];
  out.encode = strings.map((s) => Array.from(new TextEncoder().encode(s)));
  out.decode = out.encode.map((b: number[]) => new TextDecoder().decode(new Uint8Array(b)));
  out.decodeInvalid = [[0xff], [0xc3], [0xe2, 0x82], [0xf0, 0x9f, 0x8e], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xef, 0xbb, 0xbf, 0x41]]
    .map((b) => new TextDecoder().decode(new Uint8Array(b)));
  out.fatal = (() => { try { new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array([0xff])); return 'no'; } catch (e) { return (e as Error).name; } })();
  out.btoa = ['', 'a', 'ab', 'abc', 'hello world', '\u00ff\u00fe'].map((s) => btoa(s));
  out.atob = ['', 'YQ==', 'YWI=', 'YWJj', 'aGVsbG8gd29ybGQ=', ' aGVs bG8= ', 'YQ'].map((s) => atob(s));
  out.atobBad = (() => { try { atob('a'); return 'no'; } catch (e) { return (e as Error).name; } })();
  out.btoaBad = (() => { try { btoa('\u0100'); return 'no'; } catch (e) { return (e as Error).name; } })();
  const u = new URL('https://user:pw@Example.COM:8443/a/../b/%7Efoo?x=1&y=%20z#frag');
  out.url = [u.href, u.origin, u.protocol, u.username, u.password, u.host, u.hostname, u.port, u.pathname, u.search, u.hash];
  const rel = new URL('../c?q=1', 'http://h.test/a/b/');
  out.relative = rel.href;
  u.pathname = '/new path';
  u.searchParams.append('k', 'v w');
  u.hash = '';
  out.mutated = u.href;
  out.invalid = (() => { try { new URL('not a url'); return 'no'; } catch (e) { return (e as Error).name; } })();
  out.canParse = [URL.canParse('http://x'), URL.canParse('nope')];
  const p = new URLSearchParams('a=1&b=2&a=3&c=%26&d=a+b');
  out.params = [p.get('a'), p.getAll('a'), p.get('c'), p.get('d'), p.has('b'), p.toString(), [...p.keys()]];
  p.set('a', 'x'); p.delete('b'); p.append('e', 'é&=');
  out.paramsMutated = p.toString();
  out.paramsFromObject = new URLSearchParams({ q: 'a b', r: '/' }).toString();
  const uuid = crypto.randomUUID();
  out.uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(uuid);
  const r = crypto.getRandomValues(new Uint8Array(64));
  out.random = r.length === 64 && r.some((x) => x !== 0);
  out.randomTooBig = (() => { try { crypto.getRandomValues(new Uint8Array(65537)); return 'no'; } catch (e) { return (e as Error).name; } })();
  const src = { a: [1, { b: new Date(0).toISOString() }], m: new Map([[1, 2]]) };
  const copy = structuredClone(src);
  out.clone = [copy !== src, copy.a[1] !== src.a[1], JSON.stringify(copy.a), copy.m instanceof Map && copy.m.get(1)];
  out.cloneFunction = (() => { try { structuredClone(() => 1); return 'no'; } catch { return 'threw'; } })();
  return out;
});

const server = await serveSource(`
const cases = ${cases};
export function onHTTPRequest(w, req, res) { res.data = JSON.stringify(cases()); }
`, ['--timeout-ms', '10000']); // many cases in one call: no time limit is tested here, and a busy machine must not reach one
after(() => server.stop());

test('TextEncoder/TextDecoder, atob/btoa, URL, URLSearchParams, crypto and structuredClone agree with Node', async () => {
  const inIsolate = await (await fetch(server.url + '/')).json();
  const inNode = JSON.parse(JSON.stringify((0, eval)(`(${cases})`)()));
  for (const key of Object.keys(inNode)) assert.deepEqual(inIsolate[key], inNode[key], key);
});
