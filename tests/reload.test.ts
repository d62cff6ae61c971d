import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startWebdat, tempDir } from './helpers/webdat.ts';
import { connect } from './helpers/ws.ts';

// --watch (SPEC §6): changed callbacks that load are swapped in, broken ones are refused with the error
// logged while the old code serves, both save styles trigger it, and open WebSockets stay open.
const version = (v: string) => `
export function onHTTPRequest(w, req, res) { res.data = '${v}'; return res; }
export function onWebSocketReceiveText(w, client, text) { w.webSocketSendText(client, '${v}:' + text); }
`;

async function until(url: string, body: string): Promise<void> {
  for (const deadline = Date.now() + 15_000; ;) {
    const got = await (await fetch(url)).text();
    if (got === body) return;
    assert.ok(Date.now() < deadline, `still serving ${JSON.stringify(got)}, not ${JSON.stringify(body)}, 15 s after the change`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('--watch swaps loading code in, keeps the old code on a broken save, and keeps WebSockets open', async () => {
  const dir = tempDir({ 'callbacks.js': version('v1'), 'notes.txt': 'not a module' });
  const file = path.join(dir, 'callbacks.js');
  const s = await startWebdat(['--callbacks', file, '--port', '0', '--host', '127.0.0.1', '--watch']);
  try {
    assert.equal(await (await fetch(s.url)).text(), 'v1');
    const c = await connect(s.url.replace('http', 'ws') + '/live');
    c.ws.send('a');
    assert.equal(await c.next(), 'v1:a');

    fs.writeFileSync(file, version('v2')); // an editor that rewrites in place
    await until(s.url, 'v2');
    c.ws.send('b');
    assert.equal(await c.next(), 'v2:b', 'the open connection is served by the new code');

    fs.writeFileSync(file, 'export function onHTTPRequest( {\n');
    await s.waitFor(/failed to load; the previous code keeps serving/);
    assert.match(s.stderr(), /SyntaxError.*callbacks\.js:2:1/, 'the logged error names the file and line');
    assert.equal(await (await fetch(s.url)).text(), 'v2');
    c.ws.send('c');
    assert.equal(await c.next(), 'v2:c');

    const tmp = path.join(dir, '.callbacks.js.swp');
    fs.writeFileSync(tmp, version('v3')); // an editor that saves by rename
    fs.renameSync(tmp, file);
    await until(s.url, 'v3');
    c.ws.send('d');
    assert.equal(await c.next(), 'v3:d');
    assert.equal(c.ws.readyState, c.ws.OPEN);
    c.ws.close();
  } finally {
    await s.stop();
  }
});

test('--watch follows the modules the callbacks import', async () => {
  const dir = tempDir({
    'callbacks.js': `import { word } from './word.js';\nexport function onHTTPRequest(w, req, res) { res.data = word; return res; }\n`,
    'word.js': `export const word = 'first';\n`,
  });
  const s = await startWebdat(['--callbacks', path.join(dir, 'callbacks.js'), '--port', '0', '--host', '127.0.0.1', '--watch']);
  try {
    assert.equal(await (await fetch(s.url)).text(), 'first');
    fs.writeFileSync(path.join(dir, 'word.js'), `export const word = 'second';\n`);
    await until(s.url, 'second');
  } finally {
    await s.stop();
  }
});
