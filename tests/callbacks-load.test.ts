import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { runWebdatExpectingExit, startWebdat, tempDir } from './helpers/webdat.ts';

// A broken callbacks file is refused at start with a message a user can act on, and the process
// exits with code 2 instead of serving something half-loaded.

async function serveFails(files: Record<string, string>, entry = 'callbacks.js') {
  const dir = tempDir(files);
  const r = await runWebdatExpectingExit(['serve', '--callbacks', path.join(dir, entry), '--port', '0', '--host', '127.0.0.1']);
  return { ...r, dir };
}

test('a syntax error names the file, line and column', async () => {
  const r = await serveFails({ 'callbacks.js': 'export function onHTTPRequest(a, b, c) {\n  return {;\n}\n' });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /WEBDAT_ERR_CALLBACKS_LOAD/);
  assert.match(r.stderr, /SyntaxError/);
  // Named relative to the callbacks folder (the message may reach an uploader; see load-errors-private).
  assert.match(r.stderr, /\[callbacks\.js:2:\d+\]/);
});

test('a missing callbacks file is named', async () => {
  const r = await runWebdatExpectingExit(['serve', '--callbacks', '/nonexistent/webdat/cb.js', '--port', '0']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /\/nonexistent\/webdat\/cb\.js/);
});

test('node: built-ins, bare packages and paths above the folder are refused, naming the import', async () => {
  const cases: Array<[string, RegExp]> = [
    [`import fs from 'node:fs'; export function onHTTPRequest() {}`, /import 'node:fs'.*refused/],
    [`import x from 'lodash'; export function onHTTPRequest() {}`, /import 'lodash'.*refused/],
    [`import { a } from '../outside.js'; export function onHTTPRequest() {}`, /import '\.\.\/outside\.js'.*refused: it leaves the callbacks folder/],
  ];
  // Side by side: a webdat start takes seconds on a busy machine.
  await Promise.all(cases.map(async ([source, message]) => {
    const r = await serveFails({ 'sub/callbacks.js': source, 'outside.js': 'export const a = 1;' }, 'sub/callbacks.js');
    assert.equal(r.code, 2, source);
    assert.match(r.stderr, message, source);
  }));
});

test('a symlink that leaves the folder is refused', async () => {
  const outside = tempDir({ 'evil.js': 'export const a = 1;' });
  const dir = tempDir({ 'callbacks.js': `import { a } from './link.js'; export function onHTTPRequest() {}` });
  const fs = await import('node:fs');
  fs.symlinkSync(path.join(outside, 'evil.js'), path.join(dir, 'link.js'));
  const r = await runWebdatExpectingExit(['serve', '--callbacks', path.join(dir, 'callbacks.js'), '--port', '0']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /import '\.\/link\.js'.*refused.*leaves the callbacks folder/);
});

test('relative imports inside the folder work, including nested ones', async () => {
  const dir = tempDir({
    'callbacks.js': `import { greet } from './lib/greet.js'; export function onHTTPRequest(w, req, res) { res.data = greet(req.pars.n); }`,
    'lib/greet.js': `import { suffix } from '../util.js'; export const greet = (n) => 'hello ' + n + suffix;`,
    'util.js': `export const suffix = '!';`,
  });
  const s = await startWebdat(['--callbacks', path.join(dir, 'callbacks.js'), '--port', '0', '--host', '127.0.0.1']);
  try {
    assert.equal(await (await fetch(`${s.url}/?n=ada`)).text(), 'hello ada!');
  } finally {
    await s.stop();
  }
});

test('top-level code that throws or loops is reported, not served', async () => {
  const [threw, looped] = await Promise.all([serveFails({ 'callbacks.js': `throw new Error('top-level-boom');` }), serveFails({ 'callbacks.js': `for (;;) {}` })]);
  assert.equal(threw.code, 2);
  assert.match(threw.stderr, /top-level-boom/);
  assert.equal(looped.code, 2);
  assert.match(looped.stderr, /time limit|ms limit/);
});

test('top-level code leaving a rejection whose value never finishes being read is refused at the time limit, not hung', async () => {
  // isolated-vm reads an unhandled rejection's message after the module ran; the patched read is cut
  // with what is left of the load's time limit.
  const r = await serveFails({ 'callbacks.js': 'Promise.reject({ get message() { for (;;) {} } });\nexport function onHTTPRequest() {}\n' });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /WEBDAT_ERR_CALLBACKS_LOAD/);
  assert.match(r.stderr, /top-level code ran past the \d+ ms limit/);
});
