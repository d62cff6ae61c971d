import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startWebdat, tempDir } from './helpers/webdat.ts';

// SPEC §5, issue 9: exact crash attribution. A file of its own: each engine death here can take the
// supervisor's hang bound (12 s with the default cpuMs) plus a restart, which beside the other engine
// faults of tests/faults.test.ts overran the runner's per-file time limit on a loaded machine.

function config(dir: string, servers: object[], extra: object = {}): string {
  const file = path.join(dir, 'webdat.json');
  fs.writeFileSync(file, JSON.stringify({ servers, ...extra }));
  return file;
}

// After a death that names both, the next engine runs them apart (probation). The busy tenant's worker
// always has a next batch ready when its task ends, so this also checks that it cannot keep the gate
// and starve the crasher until probation runs out (it did, when a lane that left the gate could take
// it back before the lane it woke had its turn).
test('a crasher beside a busy tenant: only the crasher is quarantined, the busy one keeps serving', async () => {
  const dir = tempDir({
    'crash.js': `export function onHTTPRequest(w, req, res) { if (req.uri === '/boom') new Array(6e7).fill(0); res.data = 'crash ok'; return res; }\n`,
    // 40 ms of work per request: with four clients its worker is inside its callbacks nearly always.
    'busy.js': `let n = 0;\nexport function onHTTPRequest(w, req, res) { const end = Date.now() + 40; while (Date.now() < end) {} res.data = 'busy ' + (++n); return res; }\n`,
  });
  const file = config(dir, [
    { name: 'crash', port: 0, host: '127.0.0.1', callbacks: 'crash.js', limits: { timeoutMs: 60000 } },
    { name: 'busy', port: 0, host: '127.0.0.1', callbacks: 'busy.js' },
  ], { workers: 2 });
  const s = await startWebdat(['--config', file], { expectServers: 2 });
  const ready = (name: string) => new RegExp(`server "${name}" listening on (http://\\S+)`, 'g');
  const latest = (name: string) => [...s.stdout().matchAll(ready(name))].map((m) => m[1]);
  const waitReady = async (name: string, count: number) => {
    for (let i = 0; i < 3000 && latest(name).length < count; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(latest(name).length >= count, `server "${name}" came back (${count} readiness lines)`);
  };
  let load = true;
  let busyAnswers = 0;
  // Load only: requests cut by an engine death fail, and the loop goes on with the next engine's port.
  const client = async () => {
    while (load) {
      try {
        if ((await fetch(latest('busy').at(-1)!)).status === 200) busyAnswers++;
      } catch {
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };
  const clients = Array.from({ length: 4 }, client);
  try {
    let deaths = 0;
    while (!/server "crash" brought the engine down/.test(s.stderr())) {
      assert.ok(deaths < 10, `the crasher was quarantined within 10 deaths\n${s.stderr()}`);
      const before = busyAnswers;
      for (let i = 0; i < 500 && busyAnswers < before + 4; i++) await new Promise((r) => setTimeout(r, 20));
      await fetch(`${latest('crash').at(-1)!}/boom`, { signal: AbortSignal.timeout(60_000) }).then(() => assert.fail('the engine answered a request that should have killed it'), () => {});
      deaths++;
      await s.waitFor(new RegExp(`(engine died[^\\n]*\\n[\\s\\S]*){${deaths}}`), 60_000);
      await waitReady('busy', deaths + 1);
      if (!/server "crash" brought the engine down/.test(s.stderr())) await waitReady('crash', deaths + 1);
    }
    assert.ok(deaths >= 3);
    await s.waitFor(/"server":"crash".*server left inactive/);
    load = false;
    await Promise.all(clients);
    const after = await fetch(latest('busy').at(-1)!);
    assert.equal(after.status, 200);
    assert.match(await after.text(), /^busy \d+$/, 'the busy tenant answers after the crasher was quarantined');
    assert.doesNotMatch(s.stderr(), /server "busy" brought the engine down/);
    assert.doesNotMatch(s.stderr(), /"server":"busy".*server left inactive/);
    assert.doesNotMatch(s.stderr(), /server "busy" was the only one running/);
  } finally {
    load = false;
    await Promise.all(clients);
    await s.stop();
  }
});
