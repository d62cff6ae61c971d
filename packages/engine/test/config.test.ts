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
  assert.deepEqual(b.limits, { timeoutMs: 100, memoryMb: 128, maxBodyBytes: 16 * 1024 * 1024, maxMessageBytes: 16 * 1024 * 1024, maxQueue: 1024, maxConnections: 10000,
    maxOutputBytes: 1024 * 1024, maxHeaders: 100, maxHeaderBytes: 64 * 1024, logLinesPerSecond: 1000, logBytesPerSecond: 256 * 1024 });
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
});
