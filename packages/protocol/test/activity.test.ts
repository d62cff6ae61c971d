import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ACTIVITY_FILE_ENV, openActivity, readActivity, reportIdle, reportRunning } from '../src/activity.ts';

test('a lane reports the server it runs in its own slot, and idle clears it', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webdat-activity-test-'));
  const file = path.join(dir, 'lanes');
  fs.writeFileSync(file, '');
  process.env[ACTIVITY_FILE_ENV] = file;
  try {
    openActivity(2);
    const before = Date.now();
    reportRunning('a-server.with_64-chars-' + 'x'.repeat(41));
    const [a, ...rest] = readActivity(file);
    assert.equal(rest.length, 0);
    assert.equal(a.lane, 2);
    assert.equal(a.server, 'a-server.with_64-chars-' + 'x'.repeat(41));
    assert.ok(a.since >= before && a.since <= Date.now());
    reportIdle();
    assert.deepEqual(readActivity(file), []);
    assert.deepEqual(readActivity(path.join(dir, 'missing')), []);
  } finally {
    delete process.env[ACTIVITY_FILE_ENV];
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
