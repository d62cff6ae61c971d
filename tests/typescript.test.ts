import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { runWebdatExpectingExit, startWebdat, tempDir } from './helpers/webdat.ts';

// TypeScript callbacks (SPEC §11): .ts/.mts files and the .ts modules they import are compiled on
// load, reload and upload without type checking; errors and stack traces name the .ts file and line;
// only a types-only import of @webdat/engine/callbacks is allowed.

const GREET = `export interface Greeting { text: string }
export function greet(name: string): Greeting {
  return { text: \`hello \${name}\` };
}
`;

const MAIN = `import type { WebServer, Request, Response } from '@webdat/engine/callbacks';
import { greet } from './lib/greet.js';

enum Mode { Plain, Json }
type Answer = Response & { data: string };

export function onHTTPRequest(webServer: WebServer, request: Request, response: Response): Answer {
  const mode: Mode = request.uri === '/json' ? Mode.Json : Mode.Plain;
  if (request.uri === '/boom') {
    throw new Error('boom from typescript');
  }
  response.data = mode === Mode.Json ? JSON.stringify(greet(request.pars.name ?? 'ts')) : greet('ts').text;
  return response as Answer;
}
`;

async function text(url: string): Promise<string> {
  return (await fetch(url)).text();
}

/** Polls `url` until it answers `body`; fails after `ms` with the last answer. */
async function until(url: string, body: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  let last = '';
  while (Date.now() < end) {
    last = await text(url);
    if (last === body) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`${url} still answers ${JSON.stringify(last)}, not ${JSON.stringify(body)}, after ${ms} ms`);
}

test('a .ts callbacks file with types, enums and a .ts import in a subfolder serves; a throw logs the .ts line', async () => {
  const dir = tempDir({ 'main.ts': MAIN, 'lib/greet.ts': GREET });
  const s = await startWebdat(['--callbacks', path.join(dir, 'main.ts'), '--port', '0', '--host', '127.0.0.1']);
  try {
    assert.equal(await text(`${s.url}/json?name=ada`), '{"text":"hello ada"}');
    assert.equal(await text(`${s.url}/`), 'hello ts');
    const boom = await fetch(`${s.url}/boom`);
    assert.equal(boom.status, 500);
    assert.equal(boom.headers.get('x-webdat-error'), 'exception');
    assert.doesNotMatch(await boom.text(), /boom from typescript/, 'the stack reached the body');
    await s.waitFor(/boom from typescript/);
    assert.match(s.stderr(), /main\.ts:10:11/, 'the logged stack names the TypeScript line and column');
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test('.mts files compile too', async () => {
  const dir = tempDir({ 'cb.mts': `export function onHTTPRequest(w: unknown, req: { uri: string }, res: { data: string }) { res.data = req.uri satisfies string; }\n` });
  const s = await startWebdat(['--callbacks', path.join(dir, 'cb.mts'), '--port', '0', '--host', '127.0.0.1']);
  try {
    assert.equal(await text(`${s.url}/x`), '/x');
  } finally {
    await s.stop();
  }
});

test('a TypeScript syntax error names the .ts file and line at load (exit code 2)', async () => {
  const dir = tempDir({ 'main.ts': `import { greet } from './lib/greet.js';\nexport function onHTTPRequest() { return greet('x'); }\n`, 'lib/greet.ts': `export function greet(n: string) {\n  return { text: n ;\n}\n` });
  const r = await runWebdatExpectingExit(['serve', '--callbacks', path.join(dir, 'main.ts'), '--port', '0', '--host', '127.0.0.1']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /WEBDAT_ERR_CALLBACKS_LOAD/);
  assert.match(r.stderr, /lib\/greet\.ts:2:\d+/);
});

test('only a types-only import of @webdat/engine/callbacks is allowed', async () => {
  const erased = tempDir({ 'a.ts': `import { type Request } from '@webdat/engine/callbacks';\nexport function onHTTPRequest(w: unknown, req: Request, res: { data: string }) { res.data = 'erased'; }\n` });
  const s = await startWebdat(['--callbacks', path.join(erased, 'a.ts'), '--port', '0', '--host', '127.0.0.1']);
  try {
    assert.equal(await text(s.url), 'erased');
  } finally {
    await s.stop();
  }
  const kept = tempDir({ 'b.ts': `import * as api from '@webdat/engine/callbacks';\nexport function onHTTPRequest(w: unknown, req: unknown, res: { data: string }) { res.data = String(api); }\n` });
  const r = await runWebdatExpectingExit(['serve', '--callbacks', path.join(kept, 'b.ts'), '--port', '0', '--host', '127.0.0.1']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /WEBDAT_ERR_CALLBACKS_LOAD/);
  assert.match(r.stderr, /import '@webdat\/engine\/callbacks'.*refused.*import type/);
});

test('a compile bomb is refused with a message, and the next load compiles', async () => {
  const dir = tempDir({
    'bomb.ts': `export const x = ${'('.repeat(200_000)}1${')'.repeat(200_000)};\nexport function onHTTPRequest() {}\n`,
    'fine.ts': `export function onHTTPRequest(w: unknown, r: unknown, res: { data: string }) { res.data = 'fine'; }\n`,
  });
  const r = await runWebdatExpectingExit(['serve', '--callbacks', path.join(dir, 'bomb.ts'), '--port', '0', '--host', '127.0.0.1']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bomb\.ts: brackets nested deeper than 1000 levels/);
  const s = await startWebdat(['--callbacks', path.join(dir, 'fine.ts'), '--port', '0', '--host', '127.0.0.1']);
  try {
    assert.equal(await text(s.url), 'fine');
  } finally {
    await s.stop();
  }
});

test('--watch reloads when a .ts module in a subfolder changes, in place or by rename', async () => {
  const dir = tempDir({ 'main.ts': MAIN, 'lib/greet.ts': GREET });
  const s = await startWebdat(['--callbacks', path.join(dir, 'main.ts'), '--port', '0', '--host', '127.0.0.1', '--watch']);
  try {
    assert.equal(await text(s.url), 'hello ts');
    const greet = path.join(dir, 'lib/greet.ts');
    fs.writeFileSync(greet, GREET.replace('hello', 'hi'));
    await until(s.url, 'hi ts');
    const tmp = path.join(dir, 'lib/.greet.ts.swp');
    fs.writeFileSync(tmp, GREET.replace('hello', 'hey'));
    fs.renameSync(tmp, greet);
    await until(s.url, 'hey ts');
  } finally {
    await s.stop();
  }
});

test('--watch follows a .js module in a subfolder', async () => {
  const dir = tempDir({
    'callbacks.js': `import { word } from './lib/word.js';\nexport function onHTTPRequest(w, req, res) { res.data = word; }\n`,
    'lib/word.js': `export const word = 'first';\n`,
  });
  const s = await startWebdat(['--callbacks', path.join(dir, 'callbacks.js'), '--port', '0', '--host', '127.0.0.1', '--watch']);
  try {
    assert.equal(await text(s.url), 'first');
    fs.writeFileSync(path.join(dir, 'lib/word.js'), `export const word = 'second';\n`);
    await until(s.url, 'second');
  } finally {
    await s.stop();
  }
});

test('an admin upload to a .ts server is compiled as TypeScript', async () => {
  const dir = tempDir({
    'main.ts': `export function onHTTPRequest(w: unknown, r: unknown, res: { data: string }) { res.data = 'v1'; }\n`,
    'webdat.json': JSON.stringify({ servers: [{ name: 'tsapp', host: '127.0.0.1', port: 0, callbacks: 'main.ts' }], admin: { port: 0, host: '127.0.0.1' } }),
  });
  const s = await startWebdat(['--config', path.join(dir, 'webdat.json')]);
  try {
    const admin = /webdat: admin listening on (http:\/\/\S+)/.exec(await s.waitFor(/webdat: admin listening on http:\/\/\S+/))![1];
    assert.equal(await text(s.url), 'v1');
    const upload = (body: string) => fetch(`${admin}/servers/tsapp/callbacks`, { method: 'PUT', body });
    const ok = await upload(`const v: string = 'v2';\nexport function onHTTPRequest(w: unknown, r: unknown, res: { data: string }) { res.data = v; }\n`);
    assert.equal(ok.status, 200, await ok.text());
    assert.equal(await text(s.url), 'v2');
    const broken = await upload(`const v: string = ;\n`);
    assert.equal(broken.status, 400);
    assert.match((await broken.json()).message, /main\.ts:1:\d+/);
    assert.equal(await text(s.url), 'v2', 'a broken upload replaced the working code');
  } finally {
    await s.stop();
  }
});
