import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { BIN, runWebdatExpectingExit, serveSource, startWebdat, tempDir } from './helpers/webdat.ts';

// The CLI of SPEC §2 as a user runs it.

test('--help lists the serve flags and exits 0', async () => {
  const r = await runWebdatExpectingExit(['serve', '--help']);
  assert.equal(r.code, 0);
  for (const flag of ['--callbacks', '--port', '--host', '--name', '--secure', '--private-key', '--certificate', '--password', '--timeout-ms', '--memory-mb', '--watch', '--config']) {
    assert.ok(r.stdout.includes(flag), `--help does not mention ${flag}`);
  }
});

test('invalid flag values are refused with a message and exit code 2', async () => {
  const r = await runWebdatExpectingExit(['serve', '--port', 'eighty']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--port/);
  const r2 = await runWebdatExpectingExit(['serve', '--timeout-ms', '-5']);
  assert.equal(r2.code, 2);
});

test('with no --callbacks the bundled defaults serve a page and the readiness line has the real port', async () => {
  const s = await startWebdat(['--port', '0', '--host', '127.0.0.1', '--name', 'cli-test']);
  try {
    assert.match(s.stdout(), /server "cli-test" listening on http:\/\/127\.0\.0\.1:\d+/);
    assert.ok(s.port > 0);
    const r = await fetch(s.url + '/');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await r.text(), /<html[\s\S]*cli-test/);
  } finally {
    assert.equal(await s.stop('SIGTERM'), 0);
  }
});

test('with --port 0, webServer.port is the port picked, in onServerStart and after', async () => {
  const s = await serveSource(`
export function onServerStart(w) { console.log('started on ' + w.port); }
export function onHTTPRequest(w, req, res) { res.data = String(w.port); }
`);
  try {
    assert.equal(await (await fetch(s.url + '/')).text(), String(s.port));
    assert.match(await s.waitFor(/started on \d+/), new RegExp(`started on ${s.port}$`));
  } finally {
    await s.stop();
  }
});

test('SIGINT stops gracefully with exit 0 and runs onServerStop', async () => {
  const { serveSource } = await import('./helpers/webdat.ts');
  const s = await serveSource(`export function onServerStop(w) { console.log('stop-hook-ran for ' + w.name); }`);
  assert.equal(await s.stop('SIGINT'), 0);
  assert.match(s.stderr(), /stop-hook-ran for default/);
});

test('an in-flight request finishes during a graceful stop', async () => {
  const { serveSource } = await import('./helpers/webdat.ts');
  // One second of work under 5 s limits (wall clock and CPU): the request is surely running when SIGTERM comes 300 ms
  // later, and no time limit can end it first on a busy machine; the grace period is 2 s.
  const s = await serveSource(`export function onHTTPRequest(w, req, res) { const end = Date.now() + 1000; while (Date.now() < end) {} res.data = 'finished'; }`, ['--timeout-ms', '5000', '--cpu-ms', '5000']);
  const pending = fetch(s.url + '/').then((r) => r.text());
  await new Promise((r) => setTimeout(r, 300));
  const exit = s.stop('SIGTERM');
  assert.equal(await pending, 'finished');
  assert.equal(await exit, 0);
});

test('a signal to the whole process group (Ctrl-C in a terminal) still finishes in-flight work and runs onServerStop', async () => {
  const dir = tempDir({ 'cb.js': `
export function onHTTPRequest(w, req, res) { const end = Date.now() + 1000; while (Date.now() < end) {} res.data = 'finished'; }
export function onServerStop(w) { console.log('stop-hook-ran'); }
` });
  const s = await startWebdat(['--callbacks', path.join(dir, 'cb.js'), '--port', '0', '--host', '127.0.0.1', '--timeout-ms', '5000', '--cpu-ms', '5000'], { group: true });
  const exited = new Promise<number | null>((resolve) => s.proc.once('exit', resolve));
  try {
    const pending = fetch(s.url + '/').then((r) => r.text());
    await new Promise((r) => setTimeout(r, 300));
    // The supervisor and the engine both get it, as from a terminal or systemd's KillMode=control-group.
    process.kill(-s.proc.pid!, 'SIGINT');
    assert.equal(await pending, 'finished');
    assert.equal(await exited, 0);
    assert.match(s.stderr(), /stop-hook-ran/);
  } finally {
    try { process.kill(-s.proc.pid!, 'SIGKILL'); } catch { /* gone */ }
  }
});

test('on a stop, requests waiting on timers finish before onServerStop runs', async () => {
  const dir = tempDir({ 'cb.js': `
export async function onHTTPRequest(w, req, res) {
  await new Promise((resolve) => setTimeout(resolve, 1000));
  console.log('request-done');
  res.data = 'waited';
}
export function onServerStop(w) { console.log('stop-hook-ran'); }
` });
  const s = await startWebdat(['--callbacks', path.join(dir, 'cb.js'), '--port', '0', '--host', '127.0.0.1', '--timeout-ms', '5000']);
  const pending = fetch(s.url + '/').then(async (r) => [r.status, await r.text()]);
  await new Promise((r) => setTimeout(r, 300));
  const exit = s.stop('SIGTERM');
  assert.deepEqual(await pending, [200, 'waited']);
  assert.equal(await exit, 0);
  const log = s.stderr();
  assert.ok(log.indexOf('request-done') >= 0 && log.indexOf('request-done') < log.indexOf('stop-hook-ran'), log);
});

test('on a terminal the logs are human-readable lines; piped they are JSON', async () => {
  // `script` gives the process a pseudo-terminal, as a user's shell would.
  const dir = tempDir({ 'cb.js': `export function onServerStart() { console.log('hello from the callbacks'); }\nexport function onHTTPRequest(w, q, r) { return r; }\n` });
  const cmd = `${process.execPath} ${BIN} serve --callbacks ${path.join(dir, 'cb.js')} --port 0 --host 127.0.0.1`;
  const out = await new Promise<string>((resolve, reject) => {
    const p = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let text = '';
    p.stdout.on('data', (d) => {
      text += d;
      if (/hello from the callbacks/.test(text)) p.kill('SIGTERM');
    });
    p.on('exit', () => resolve(text));
    p.on('error', reject);
  });
  const line = out.split('\n').find((l) => l.includes('hello from the callbacks'))!;
  assert.match(line, /INFO/);
  assert.doesNotMatch(line, /^\s*\{/, 'a terminal gets pretty lines, not JSON');
  const piped = await serveSource(`export function onServerStart() { console.log('hello piped'); }\n`);
  await piped.waitFor(/hello piped/);
  await piped.stop();
  const json = piped.stderr().split('\n').find((l) => l.includes('hello piped'))!;
  assert.equal(JSON.parse(json).msg, 'hello piped');
});
