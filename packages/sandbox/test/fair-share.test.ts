import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FairShare, GRACE_MS, QUANTUM_MS, type TurnReport } from '../src/main/fair-share.ts';

const QUIET = 1;
const HEAVY = 2;

/** A turn report: `cpuMs` is the instance's running total, as workers report it. */
const turn = (instance: number, cpuMs: number, more = false, breachedMs = 0): TurnReport => ({ instance, cpuMs, breachedMs, backlog: more });

test('instances within a quantum of each other share one task, shortest turns first', () => {
  const f = new FairShare();
  f.want(QUIET, 0);
  f.want(HEAVY, 0);
  assert.deepEqual(f.next(0).instances, [QUIET, HEAVY]);
  const t = f.sent([QUIET, HEAVY], 0);
  f.returned(t, [turn(QUIET, 1), turn(HEAVY, 3)], 4);
  f.want(QUIET, 4);
  f.want(HEAVY, 4);
  assert.deepEqual(f.next(4).instances, [QUIET, HEAVY], 'the one whose turn was shorter comes first');
});

test('an instance 90 ms ahead waits while the other has work, in flight or within its grace', () => {
  const f = new FairShare();
  f.want(QUIET, 0);
  f.returned(f.sent(f.next(0).instances, 0), [turn(QUIET, 0.1)], 1);
  // The quiet instance's work came back 1 ms after its answer: it gets the grace from now on.
  f.want(QUIET, 2);
  f.want(HEAVY, 2);
  const both = f.sent(f.next(2).instances, 2);
  f.returned(both, [turn(QUIET, 0.2), turn(HEAVY, 90, true)], 92);
  // Nothing of the quiet instance waits, but it is in its grace: the heavy one is held back.
  const held = f.next(92);
  assert.deepEqual(held.instances, []);
  assert.equal(held.wakeAt, 92 + GRACE_MS);
  f.want(QUIET, 93);
  assert.deepEqual(f.next(93).instances, [QUIET]);
  const q = f.sent([QUIET], 93);
  assert.deepEqual(f.next(93).instances, [], 'the heavy turn does not go beside a quiet one in flight');
  f.returned(q, [turn(QUIET, 0.3)], 94);
  // The quiet instance stays away past its grace: the heavy one goes.
  assert.deepEqual(f.next(94 + GRACE_MS).instances, [HEAVY]);
  f.sent([HEAVY], 94 + GRACE_MS);
  // An event of the quiet instance goes behind the heavy turn at once: it waits for that one call only.
  f.want(QUIET, 120);
  assert.deepEqual(f.next(120).instances, [QUIET]);
});

test('a grace only for an instance whose work came back within one: nobody idles for sporadic work', () => {
  const f = new FairShare();
  f.want(QUIET, 0);
  f.want(HEAVY, 0);
  f.returned(f.sent(f.next(0).instances, 0), [turn(QUIET, 0.1), turn(HEAVY, 90, true)], 90);
  assert.deepEqual(f.next(90).instances, [HEAVY], 'no grace before its work came back quickly once');
  f.want(QUIET, 91);
  assert.deepEqual(f.next(91).instances, [QUIET], 'the heavy instance is ahead');
  f.returned(f.sent([QUIET], 91), [turn(QUIET, 0.2)], 92);
  assert.equal(f.next(92).wakeAt, 92 + GRACE_MS, 'held for the quiet instance in its grace');
  assert.deepEqual(f.next(92 + GRACE_MS).instances, [HEAVY], 'the grace ran out');
  f.returned(f.sent([HEAVY], 112), [turn(HEAVY, 180, true)], 202);
  // The quiet instance's next request comes long after its answer: it starts level, and gets no grace.
  f.want(QUIET, 250);
  const both = f.next(250).instances;
  assert.deepEqual(both, [QUIET, HEAVY]);
  f.returned(f.sent(both, 250), [turn(QUIET, 0.3), turn(HEAVY, 270, true)], 340);
  assert.deepEqual(f.next(340).instances, [HEAVY]);
});

test('the worker idling for an instance in its grace is charged to it, so a neighbour ahead still gets its share', () => {
  const f = new FairShare();
  f.want(QUIET, 0);
  f.want(HEAVY, 0);
  let cpu = 0.05;
  f.returned(f.sent(f.next(0).instances, 0), [turn(QUIET, cpu), turn(HEAVY, 90, true)], 90.1);
  // A quiet instance with one client: each request answered in 0.1 ms, the next one arriving 1 ms later.
  let now = 90.1;
  let quietTurns = 0;
  while (true) {
    f.want(QUIET, now);
    const p = f.next(now);
    if (p.instances.includes(HEAVY)) break;
    assert.deepEqual(p.instances, [QUIET]);
    const t = f.sent([QUIET], now);
    now += 0.1;
    f.returned(t, [turn(QUIET, (cpu += 0.05))], now);
    quietTurns++;
    assert.deepEqual(f.next(now).instances, [], 'held for the quiet instance');
    now += 1;
    assert.ok(quietTurns < 200, 'the heavy instance waited for more than its share');
  }
  // About 90 ms of the quiet instance's time (one turn per 1.1 ms) before the heavy turn, within a quantum.
  assert.ok(quietTurns >= Math.floor((90 - QUANTUM_MS) / 1.1) - 1 && quietTurns <= Math.ceil(90 / 1.1) + 1, `quiet turns: ${quietTurns}`);
});

test('two always-busy instances alternate by the time their turns took', () => {
  const f = new FairShare();
  const time = new Map([[QUIET, 0], [HEAVY, 0]]);
  const cpu = new Map([[QUIET, 0], [HEAVY, 0]]);
  const cost = new Map([[QUIET, 2], [HEAVY, 90]]);
  let now = 0;
  f.want(QUIET, 0);
  f.want(HEAVY, 0);
  while (now < 10_000) {
    const p = f.next(now);
    assert.ok(p.instances.length > 0, 'a busy worker never idles');
    const t = f.sent(p.instances, now);
    let took = 0;
    for (const s of p.instances) took += cost.get(s)!;
    now += took;
    f.returned(t, p.instances.map((s) => turn(s, cpu.set(s, cpu.get(s)! + cost.get(s)!).get(s)!, true)), now);
    for (const s of p.instances) time.set(s, time.get(s)! + cost.get(s)!);
  }
  const share = time.get(QUIET)! / now;
  assert.ok(share > 0.4 && share < 0.6, `the quiet instance got ${share} of the worker`);
});

test('a long turn is the only long one in flight; light turns still go behind it', () => {
  const f = new FairShare();
  const other = 3;
  f.want(HEAVY, 0);
  f.want(other, 0);
  f.returned(f.sent([HEAVY, other], 0), [turn(HEAVY, 50), turn(other, 50)], 100);
  f.want(HEAVY, 200);
  f.want(other, 200);
  const first = f.next(200).instances;
  assert.equal(first.length, 1, 'two long turns never share a task');
  f.sent(first, 200);
  assert.deepEqual(f.next(200).instances, [], 'nor are both in flight');
  f.want(QUIET, 201);
  assert.deepEqual(f.next(201).instances, [QUIET]);
});

test('a breach costs the whole turn and rests the instance, twice as long after each breach in a row', () => {
  const f = new FairShare();
  let now = 0;
  const rests: number[] = [];
  for (let i = 0; i < 5; i++) {
    f.want(HEAVY, now);
    const p = f.next(now);
    assert.deepEqual(p.instances, [HEAVY]);
    const t = f.sent([HEAVY], now);
    now += 100;
    // A timeout cut the call: its CPU is whatever the isolate counted, the breach is the turn's length.
    f.returned(t, [turn(HEAVY, 10 * (i + 1), true, 100)], now);
    const resting = f.next(now);
    assert.deepEqual(resting.instances, []);
    rests.push(resting.wakeAt - now);
    now = resting.wakeAt;
  }
  assert.deepEqual(rests, [100, 200, 400, 800, 800]);
  // A turn within the limits ends the streak.
  f.returned(f.sent(f.next(now).instances, now), [turn(HEAVY, 60)], now + 5);
  f.want(HEAVY, now + 5);
  assert.deepEqual(f.next(now + 5).instances, [HEAVY]);
  f.returned(f.sent([HEAVY], now + 5), [turn(HEAVY, 70, false, 100)], now + 105);
  f.want(HEAVY, now + 105);
  assert.equal(f.next(now + 105).wakeAt, now + 205);
});

test('a resting instance holds nobody back, and a breach is charged as a turn that long', () => {
  const f = new FairShare();
  f.want(HEAVY, 0);
  f.want(QUIET, 0);
  const t = f.sent(f.next(0).instances, 0);
  f.returned(t, [turn(QUIET, 0.1), turn(HEAVY, 5, true, 100)], 100);
  f.want(QUIET, 100);
  assert.deepEqual(f.next(100).instances, [QUIET]);
  // Its rest over, the breaching instance still waits: it is 100 ms ahead of the quiet one.
  f.want(QUIET, 200);
  assert.deepEqual(f.next(200).instances, [QUIET]);
});

test('an idle instance banks no credit', () => {
  const f = new FairShare();
  let now = 0;
  let cpu = 0;
  f.want(HEAVY, 0);
  for (let i = 0; i < 10; i++) {
    const t = f.sent(f.next(now).instances, now);
    now += 90;
    f.returned(t, [turn(HEAVY, (cpu += 90), true)], now);
  }
  // The quiet instance was idle for 900 ms: it starts level with the heavy one, so the heavy turn goes
  // beside its first one (after it) rather than waiting 900 ms.
  f.want(QUIET, now);
  assert.deepEqual(f.next(now).instances, [QUIET, HEAVY]);
});

test('CPU used outside tasks counts; a lost task costs nothing; a forgotten instance starts afresh', () => {
  const f = new FairShare();
  f.want(HEAVY, 0);
  f.want(QUIET, 0);
  f.returned(f.sent(f.next(0).instances, 0), [turn(QUIET, 1, true), turn(HEAVY, 1, true)], 2);
  // Timers of the heavy instance ran 50 ms on the worker's loop.
  f.used(HEAVY, 51);
  assert.deepEqual(f.next(2).instances, [QUIET]);
  const lost = f.sent([QUIET], 2);
  f.lost(lost, 500);
  f.want(QUIET, 500);
  assert.deepEqual(f.next(500).instances, [QUIET], 'the quiet instance is not charged for a task that never came back');
  f.forget(HEAVY);
  f.want(HEAVY, 501);
  assert.deepEqual(f.next(501).instances.sort(), [QUIET, HEAVY], 'level again');
});
