import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Blame, DEATH_WINDOW_MS } from '../src/process/blame.ts';

test('servers named together are suspects, not guilty; the one named alone is counted, and quarantined at the third', () => {
  const b = new Blame();
  const together = b.death(['crash', 'busy'], 1000);
  assert.deepEqual(together, { guilty: null, suspects: ['crash', 'busy'], quarantined: null, count: 0 });
  assert.deepEqual(b.suspects(1001), { crash: 1000 + DEATH_WINDOW_MS, busy: 1000 + DEATH_WINDOW_MS });
  assert.deepEqual(b.death(['crash'], 2000), { guilty: 'crash', suspects: [], quarantined: null, count: 1 });
  assert.deepEqual(b.death(['crash'], 3000), { guilty: 'crash', suspects: [], quarantined: null, count: 2 });
  assert.deepEqual(b.suspects(3001), { crash: 3000 + DEATH_WINDOW_MS, busy: 3000 + DEATH_WINDOW_MS }, 'each death keeps every suspect apart for another window');
  assert.deepEqual(b.death(['crash', 'crash'], 4000), { guilty: 'crash', suspects: [], quarantined: 'crash', count: 3 });
  assert.deepEqual([...b.disabled], ['crash']);
  assert.deepEqual(b.suspects(4001), { busy: 4000 + DEATH_WINDOW_MS });
  assert.deepEqual(b.death(['crash', 'busy'], 5000).guilty, 'busy', 'a quarantined server cannot be running: busy was alone');
});

test('suspects are cleared after a whole window without a death; proven deaths older than the window no longer count', () => {
  const b = new Blame();
  b.death(['a', 'b'], 0);
  assert.deepEqual(Object.keys(b.suspects(DEATH_WINDOW_MS - 1)), ['a', 'b']);
  assert.deepEqual(b.suspects(DEATH_WINDOW_MS), {});
  assert.equal(b.death(['a'], DEATH_WINDOW_MS + 1).count, 1);
  assert.equal(b.death(['a'], 2 * DEATH_WINDOW_MS + 2).count, 1, 'the earlier death left the window');
  assert.deepEqual(b.death([], 2 * DEATH_WINDOW_MS + 3), { guilty: null, suspects: [], quarantined: null, count: 0 });
  assert.deepEqual(b.disabled.size, 0);
});
