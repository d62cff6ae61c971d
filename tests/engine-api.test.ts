import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createEngine } from '../packages/engine/dist/index.js';
import { ROOT, tempDir } from './helpers/webdat.ts';

// Issue 4: the embedding API — createEngine, addServer and removeServer at run time.
const refused = (port: number) => new Promise<boolean>((resolve) => {
  const s = net.connect(port, '127.0.0.1');
  s.once('connect', () => { s.destroy(); resolve(false); });
  s.once('error', () => resolve(true));
});

test('servers are added and removed at run time; errors are values with codes', async () => {
  const dir = tempDir({
    'one.js': `export function onHTTPRequest(w, req, res) { res.data = 'one'; return res; }\n`,
    'two.js': `let me = crypto.randomUUID();\nexport function onServerStop(w) { console.log('two stopping ' + w.name); }\nexport async function onHTTPRequest(w, req, res) { res.data = 'two ' + me; return res; }\n`,
  });
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } }));
  const engine = createEngine({ servers: [{ name: 'one', host: '127.0.0.1', port: 0, callbacks: 'one.js' }], workers: 2 }, { logger, baseDir: dir, announce: () => {} });
  await engine.start();
  try {
    // A time limit a busy machine cannot reach while loading: top-level code runs under it too.
    const two = await engine.addServer({ name: 'two', host: '127.0.0.1', port: 0, callbacks: 'two.js', instances: 2, limits: { timeoutMs: 10_000 } });
    assert.equal(two.instances.length, 2);
    assert.notEqual(two.instances[0].lane, two.instances[1].lane, 'instances of one server sit on different workers');
    assert.match(await (await fetch(`http://127.0.0.1:${two.port}/`)).text(), /^two /);
    assert.equal(await (await fetch(`http://127.0.0.1:${engine.server('one').port}/`)).text(), 'one');
    assert.deepEqual(engine.list().map((s) => s.name), ['one', 'two']);

    await assert.rejects(engine.addServer({ name: 'two', host: '127.0.0.1', port: 0 }), { code: 'WEBDAT_ERR_SERVER_EXISTS' });
    await assert.rejects(engine.addServer({ name: 'bad', port: 70000 }), (err: Error & { code?: string }) => err.code === 'WEBDAT_ERR_CONFIG' && /port/.test(err.message));
    await assert.rejects(engine.addServer({ name: 'broken', host: '127.0.0.1', port: 0, callbacks: 'missing.js' }), { code: 'WEBDAT_ERR_CALLBACKS_LOAD' });
    assert.throws(() => engine.server('broken'), { code: 'WEBDAT_ERR_SERVER_UNKNOWN' }, 'a server that failed to start is not left behind');

    const port = two.port;
    await engine.removeServer('two');
    assert.ok(lines.some((l) => l.includes('two stopping two')), 'onServerStop ran');
    assert.ok(await refused(port), 'its port was released');
    assert.throws(() => engine.server('two'), { code: 'WEBDAT_ERR_SERVER_UNKNOWN' });
    await assert.rejects(engine.removeServer('two'), { code: 'WEBDAT_ERR_SERVER_UNKNOWN' });
    assert.equal(await (await fetch(`http://127.0.0.1:${engine.server('one').port}/`)).text(), 'one', 'the others serve on');

    const again = await engine.addServer({ name: 'two', host: '127.0.0.1', port: 0, callbacks: 'two.js', limits: { timeoutMs: 10_000 } });
    assert.match(await (await fetch(`http://127.0.0.1:${again.port}/`)).text(), /^two /, 'a removed name can be used again');
  } finally {
    await engine.stop();
  }
});

test('the API is typed: a misuse fails to compile', () => {
  const dir = fs.mkdtempSync(path.join(ROOT, 'node_modules', '.webdat-api-'));
  try {
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, skipLibCheck: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', types: ['node'], typeRoots: [path.join(ROOT, 'node_modules/@types')] }, include: ['*.ts'] }));
    fs.writeFileSync(path.join(dir, 'good.ts'), `import { createEngine, type WebdatServer } from '@webdat/engine';
const engine = createEngine({ servers: [{ name: 'a', port: 0 }] });
export async function f(): Promise<WebdatServer> { await engine.start(); const s = await engine.addServer({ name: 'b', port: 0, limits: { timeoutMs: 50 } }); await engine.removeServer('b'); return s; }
`);
    const tsc = path.join(ROOT, 'node_modules/.bin/tsc');
    const ok = spawnSync(tsc, ['-p', dir], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stdout);
    fs.writeFileSync(path.join(dir, 'bad.ts'), `import { createEngine } from '@webdat/engine';\ncreateEngine({ servers: [{ name: 'a', port: '80' }] });\n`);
    const bad = spawnSync(tsc, ['-p', dir], { encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stdout, /bad\.ts.*port|bad\.ts/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
