import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProbationGate } from '../src/main/probation.ts';

test('one lane at a time carries suspects; the holder yields to a waiting lane; probation ends by its date', () => {
  const g = new ProbationGate();
  assert.equal(g.active, false);
  g.suspect(1, 1000);
  g.suspect(2, 1000);
  assert.equal(g.active, true);
  assert.equal(g.isSuspect(1, 999), true);
  assert.equal(g.isSuspect(3, 999), false);
  const woken: number[] = [];
  assert.equal(g.enter(0, () => woken.push(0)), true);
  assert.equal(g.enter(0, () => woken.push(0)), true, 'the holder may send a second task while nobody waits');
  assert.equal(g.enter(1, () => woken.push(1)), false);
  assert.equal(g.enter(0, () => woken.push(0)), false, 'the holder gets no new turn while lane 1 waits');
  g.leave();
  assert.equal(woken.length, 0);
  g.leave();
  assert.deepEqual(woken, [1], 'the gate goes to the lane that asked first, and only that one is woken');
  assert.equal(g.enter(1, () => woken.push(1)), true);
  assert.equal(g.enter(0, () => woken.push(0)), false);
  g.leave();
  assert.deepEqual(woken, [1, 0]);
  assert.equal(g.enter(0, () => woken.push(0)), true);
  g.leave();
  assert.equal(g.isSuspect(1, 1000), false, 'probation ends at its date');
  g.forget(2);
  assert.equal(g.active, false);
});

test('the gate is handed over, never left free: the lane that just left cannot take it back first', () => {
  const g = new ProbationGate();
  const woken: number[] = [];
  assert.equal(g.enter(1, () => woken.push(1)), true);
  assert.equal(g.enter(0, () => woken.push(0)), false);
  g.leave();
  assert.deepEqual(woken, [0]);
  // The lane that left gathers its next batch at once, before lane 0's wake has run.
  assert.equal(g.enter(1, () => woken.push(1)), false, 'lane 0 was handed the gate');
  g.decline(1);
  assert.equal(g.enter(0, () => woken.push(0)), true, 'declining a gate one was not handed changes nothing');
  g.leave();
  assert.deepEqual(woken, [0, 1]);
  assert.equal(g.enter(1, () => woken.push(1)), true);
  g.leave();
  assert.equal(g.enter(2, () => woken.push(2)), true, 'with nobody waiting the gate is free');
  g.leave();
});

test('a lane handed the gate with no suspect left to send passes it to the next lane waiting', () => {
  const g = new ProbationGate();
  const woken: number[] = [];
  assert.equal(g.enter(0, () => woken.push(0)), true);
  assert.equal(g.enter(1, () => woken.push(1)), false);
  assert.equal(g.enter(2, () => woken.push(2)), false);
  g.leave();
  assert.deepEqual(woken, [1]);
  g.decline(1);
  assert.deepEqual(woken, [1, 2]);
  assert.equal(g.enter(1, () => woken.push(1)), false, 'lane 2 holds it now');
  assert.equal(g.enter(2, () => woken.push(2)), true);
  g.decline(2);
  assert.equal(g.enter(0, () => woken.push(0)), false, 'a lane with a task in flight does not decline its gate');
  g.leave();
  assert.deepEqual(woken, [1, 2, 1]);
});
