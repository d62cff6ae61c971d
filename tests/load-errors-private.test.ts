import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, runWebdatExpectingExit, startWebdat, tempDir } from './helpers/webdat.ts';

// Load errors shown to whoever uploads callbacks (admin PUT /servers/:name/callbacks, or a file at
// start) reveal nothing of the host: an import leaving the folder gets the same refusal whether its
// target exists or not, paths are relative to the callbacks folder, and no host stack frame shows.

const TOKEN = 'admin-token-for-tests-0123456789';
// An existing file outside the callbacks folder, and the same path without the file.
const outside = tempDir({ 'secret.js': 'export const a = 1;' });
const dir = tempDir({ 'app/callbacks.js': `export function onHTTPRequest(w, req, res) { res.data = 'v1'; }` });
const app = path.join(dir, 'app');
fs.symlinkSync(outside, path.join(app, 'link'));
const up = path.relative(app, outside).split(path.sep).join('/');
fs.writeFileSync(path.join(dir, 'webdat.json'), JSON.stringify({
  servers: [{ name: 'alpha', host: '127.0.0.1', port: 0, callbacks: 'app/callbacks.js' }],
  admin: { host: '127.0.0.1', port: 0, token: TOKEN },
}));
const server = await startWebdat(['--config', path.join(dir, 'webdat.json')]);
after(() => server.stop());
const admin = /admin listening on (http:\/\/\S+)/.exec(await server.waitFor(/admin listening on http:\/\/\S+/))![1];

async function upload(source: string): Promise<string> {
  const r = await fetch(`${admin}/servers/alpha/callbacks`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}` }, body: source });
  const body = await r.json() as { error: string; message: string };
  assert.equal(r.status, 400, JSON.stringify(body));
  assert.equal(body.error, 'WEBDAT_ERR_CALLBACKS_LOAD');
  return body.message;
}

function assertNothingOfTheHost(message: string): void {
  for (const hostPath of [dir, outside, ROOT, os.tmpdir()]) assert.ok(!message.includes(hostPath), `${hostPath} in: ${message}`);
  assert.doesNotMatch(message, /isolated-vm boundary|node_modules|piscina|\.pnpm|file:\/\/|worker\.js|isolate-host/, message);
}

const importing = (specifier: string) => `import { a } from '${specifier}';\nexport function onHTTPRequest() {}\n`;

test('an upload importing outside the folder is refused alike whether the target exists or not', async () => {
  const pairs: Array<[string, string]> = [
    [`${up}/secret.js`, `${up}/absent.js`],
    ['../../../../../../../../etc/passwd', '../../../../../../../../etc/absent-x'],
    ['./link/secret.js', './link/absent.js'],
    ['./link/../link/secret.js', './link/nowhere/absent.js'],
  ];
  for (const [exists, absent] of pairs) {
    const a = await upload(importing(exists));
    const b = await upload(importing(absent));
    assert.equal(a.replace(exists, 'X'), b.replace(absent, 'X'), `${exists} vs ${absent}`);
    assert.match(a, /refused: it leaves the callbacks folder$/);
    assertNothingOfTheHost(a);
  }
});

test('a missing module inside the folder is named relative to it', async () => {
  const m = await upload(importing('./lib/missing.js'));
  assert.match(m, /import '\.\/lib\/missing\.js' in callbacks\.js: no such file lib\/missing\.js$/);
  assertNothingOfTheHost(m);
});

test('a syntax error and a top-level throw name the file relative to the folder, without host frames', async () => {
  const syntax = await upload('export function onHTTPRequest(w, req, res) {\n  return {;\n}\n');
  assert.match(syntax, /SyntaxError.*\[callbacks\.js:2:\d+\]/);
  assertNothingOfTheHost(syntax);
  const threw = await upload(`function f() { throw new Error('top-level-boom'); }\nf();\n`);
  assert.match(threw, /Error: top-level-boom\n\s+at f \(callbacks\.js:1:\d+\)\n\s+at callbacks\.js:2:1$/);
  assertNothingOfTheHost(threw);
});

test('the same holds for a callbacks file at start, and for the stack a callback can read', async () => {
  const files = tempDir({ 'cb.js': importing('../../../../../../../../etc/absent-x') });
  const r = await runWebdatExpectingExit(['serve', '--callbacks', path.join(files, 'cb.js'), '--port', '0', '--host', '127.0.0.1']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /WEBDAT_ERR_CALLBACKS_LOAD: server "default": import '[./]+etc\/absent-x' in cb\.js refused: it leaves the callbacks folder\n/);
  const ok = await fetch(`${admin}/servers/alpha/callbacks`, {
    method: 'PUT', headers: { authorization: `Bearer ${TOKEN}` },
    body: `export function onHTTPRequest(w, req, res) { res.data = new Error('where').stack; }`,
  });
  assert.equal(ok.status, 200);
  const stack = await (await fetch(server.url + '/')).text();
  assert.match(stack, /^Error: where\n\s+at onHTTPRequest \(callbacks\.js:1:\d+\)/);
  assertNothingOfTheHost(stack);
});
