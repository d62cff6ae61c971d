import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { parseConfig, DEFAULT_CALLBACKS } from '../src/config/load.ts';

function problem(input: unknown): string {
  try {
    parseConfig(input, '/base');
  } catch (err) {
    assert.equal((err as { code: string }).code, 'WEBDAT_ERR_CONFIG');
    return (err as Error).message;
  }
  assert.fail('config was accepted');
}

test('defaults of SPEC §3 and §5 are filled in and paths resolve against the config folder', () => {
  const c = parseConfig({ servers: [{ name: 'a', port: 9443, callbacks: 'cb/a.js', secure: true, privateKey: 'k.pem', certificate: '/abs/c.pem' }, { name: 'b' }] }, '/base');
  const [a, b] = c.servers;
  assert.equal(a.callbacks, path.join('/base', 'cb/a.js'));
  assert.equal(a.privateKey, '/base/k.pem');
  assert.equal(a.certificate, '/abs/c.pem');
  assert.equal(b.callbacks, DEFAULT_CALLBACKS);
  assert.deepEqual(b.limits, {
    timeoutMs: 100, memoryMb: 128, maxBodyBytes: 16 * 1024 * 1024, maxMessageBytes: 16 * 1024 * 1024, maxQueue: 1024, maxConnections: 10000,
    cpuMs: 100, maxTimers: 1000, storageMb: 64, maxFetches: 16, maxFetchBytes: 16 * 1024 * 1024,
    maxOutputBytes: 1024 * 1024, maxHeaders: 100, maxHeaderBytes: 64 * 1024, logLinesPerSecond: 1000, logBytesPerSecond: 256 * 1024,
  });
  assert.deepEqual(b.egress, { allow: [] });
  assert.equal(c.dataDir, '/base/.webdat-data');
  assert.equal(parseConfig({ servers: [{ name: 'a', limits: { timeoutMs: 5000 } }] }, '/base').servers[0].limits.cpuMs, 1000);
  assert.equal(parseConfig({ servers: [{ name: 'a', limits: { timeoutMs: 50 } }] }, '/base').servers[0].limits.cpuMs, 50);
  const e = parseConfig({ dataDir: 'data', servers: [{ name: 'a', egress: { allow: ['api.example.com', '*.example.org', '127.0.0.1:8080'] } }] }, '/base');
  assert.equal(e.dataDir, '/base/data');
  assert.deepEqual(e.servers[0].egress, { allow: ['api.example.com', '*.example.org', '127.0.0.1:8080'] });
  assert.equal(b.port, 9980);
  assert.equal(b.host, '0.0.0.0');
  assert.equal(b.active, true);
});

test('each problem names its key path', () => {
  assert.match(problem({}), /servers: /);
  assert.match(problem({ servers: [] }), /servers: must list at least one server/);
  assert.match(problem({ servers: [{ name: 'a', limits: { timeoutMs: -1 } }] }), /servers\[0\]\.limits\.timeoutMs: /);
  assert.match(problem({ servers: [{ name: 'a', port: 70000 }] }), /servers\[0\]\.port: /);
  assert.match(problem({ servers: [{ name: 'a', secure: true }] }), /servers\[0\]\.privateKey: is required when secure is true/);
  assert.match(problem({ servers: [{ name: 'a' }, { name: 'a' }] }), /servers\[1\]\.name: duplicates/);
  assert.match(problem({ servers: [{ name: 'a', colour: 'red' }] }), /servers\[0\]: .*colour/);
  assert.match(problem({ servers: [{ name: 'bad name!' }] }), /servers\[0\]\.name: /);
  assert.match(problem({ servers: [{ name: 'a' }], workers: 0 }), /workers: /);
  assert.match(problem({ servers: [{ name: 'a', limits: { cpuMs: 60_001 } }] }), /servers\[0\]\.limits\.cpuMs: /);
  assert.match(problem({ servers: [{ name: 'a', limits: { maxTimers: 0 } }] }), /servers\[0\]\.limits\.maxTimers: /);
  assert.match(problem({ servers: [{ name: 'a', egress: { allow: ['http://x'] } }] }), /servers\[0\]\.egress\.allow\[0\]: /);
  assert.match(problem({ servers: [{ name: 'a', egress: { caFile: 'missing.pem' } }] }), /servers\[0\]\.egress\.caFile: .*missing\.pem/);
  assert.match(problem({ servers: [{ name: 'a' }], dataDir: '' }), /dataDir: /);
});
