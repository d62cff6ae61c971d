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

    // Every later save counts too, in either style: a file that replaced the original by rename is
    // watched like the original was.
    fs.writeFileSync(tmp, version('v4'));
    fs.renameSync(tmp, file);
    await until(s.url, 'v4');
    fs.writeFileSync(file, version('v5'));
    await until(s.url, 'v5');
    // vim's way: the original renamed to a backup, a new file written, the backup removed.
    fs.renameSync(file, file + '~');
    fs.writeFileSync(file, version('v6'));
    fs.rmSync(file + '~');
    await until(s.url, 'v6');
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
    // A folder made after the start, and a module in it replaced by rename, twice.
    fs.mkdirSync(path.join(dir, 'lib'));
    fs.writeFileSync(path.join(dir, 'lib', 'word.js'), `export const word = 'nested';\n`);
    fs.writeFileSync(path.join(dir, 'word.js'), `export { word } from './lib/word.js';\n`);
    await until(s.url, 'nested');
    for (const word of ['renamed once', 'renamed twice']) {
      fs.writeFileSync(path.join(dir, 'lib', '.word.tmp'), `export const word = '${word}';\n`);
      fs.renameSync(path.join(dir, 'lib', '.word.tmp'), path.join(dir, 'lib', 'word.js'));
      await until(s.url, word);
    }
  } finally {
    await s.stop();
  }
});

test('an admin restart and a file change at once run one after the other', async () => {
  // onServerStop takes 300 ms, so the change (noticed 75 ms after the write) lands inside the restart.
  const code = (v: string) => `
export async function onServerStop(w) { console.log('stop-begin ${v}'); const end = Date.now() + 300; while (Date.now() < end) await w.storage.get('k'); console.log('stop-end ${v}'); }
export function onServerStart() { console.log('start ${v}'); }
export function onHTTPRequest(w, req, res) { res.data = req.uri === '/info' ? JSON.stringify(w.info) : '${v}'; }
`;
  const dir = tempDir({ 'callbacks.js': code('v1') });
  const file = path.join(dir, 'callbacks.js');
  const s = await startWebdat(['--callbacks', file, '--port', '0', '--host', '127.0.0.1', '--watch', '--timeout-ms', '2000', '--admin-port', '0', '--data-dir', tempDir()]);
  try {
    const admin = /webdat: admin listening on (http:\/\/\S+)/.exec(await s.waitFor(/webdat: admin listening on \S+/))![1];
    const count = (re: RegExp) => (s.stderr().match(re) ?? []).length;
    // The folder is watched from just after the readiness lines: saves are repeated until one is seen.
    for (const deadline = Date.now() + 15_000; count(/callbacks reloaded/g) === 0;) {
      assert.ok(Date.now() < deadline, `no reload logged:\n${s.stderr()}`);
      fs.writeFileSync(file, code('v1'));
      await new Promise((r) => setTimeout(r, 250));
    }
    const primed = count(/callbacks reloaded/g);
    const rounds = ['v2', 'v3', 'v4'];
    let url = s.url;
    for (const [n, v] of rounds.entries()) {
      const restart = fetch(`${admin}/servers/default/restart`, { method: 'POST' });
      fs.writeFileSync(file, code(v));
      const r = await restart;
      const body = await r.text();
      assert.equal(r.status, 200, body);
      // port 0: each start listens on a new free port
      url = `http://127.0.0.1:${JSON.parse(body).port}`;
      for (const deadline = Date.now() + 15_000; count(/callbacks reloaded/g) < primed + n + 1;) {
        assert.ok(Date.now() < deadline, `reload ${n + 1} not logged:\n${s.stderr()}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    await until(url, 'v4');
    // Every restart ran its onServerStop to the end and its onServerStart, whichever code it found.
    for (const deadline = Date.now() + 15_000; count(/start v\d/g) < rounds.length + 1 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 25));
    assert.equal(count(/stop-begin v\d/g), rounds.length);
    assert.equal(count(/stop-end v\d/g), rounds.length);
    assert.equal(count(/start v\d/g), rounds.length + 1);
    const info = await (await fetch(url + '/info')).json();
    assert.deepEqual([info.errors_exception, info.errors_timeout, info.errors_internal], [0, 0, 0]);
  } finally {
    assert.equal(await s.stop(), 0);
  }
});
