import { test } from 'node:test';
import assert from 'node:assert/strict';
import ivm from 'isolated-vm';
import { classifyFailure, type CallFailure } from '../src/worker/limits.ts';

// A breach is read from the isolate and the clock, never from the error's text (issue 9): callbacks
// can throw, or leave unhandled, errors that read exactly like isolated-vm's own. Every rejected
// promise is kept reachable (`held`): isolated-vm holds unhandled rejections weakly, so one collected
// before the call ends (a scavenge during the busy loop) is never reported, and the call would not throw.

function failureOf(isolate: ivm.Isolate, source: string, timeoutMs: number): CallFailure {
  const context = isolate.createContextSync();
  const fn = context.evalSync(`(function () { ${source} })`, { reference: true }) as ivm.Reference;
  const t0 = performance.now();
  assert.throws(() => fn.applySync(undefined, [], { timeout: timeoutMs }));
  return classifyFailure(isolate, t0, timeoutMs);
}

test('an unhandled rejection that reads like a timeout or a memory breach is neither', () => {
  const isolate = new ivm.Isolate({ memoryLimit: 32 });
  try {
    assert.equal(failureOf(isolate, `globalThis.held = Promise.reject(new Error('Script execution timed out.'));`, 5_000), 'rejection');
    assert.equal(failureOf(isolate, `globalThis.held = Promise.reject(new Error('Isolate was disposed during execution due to memory limit'));`, 5_000), 'rejection');
    assert.equal(failureOf(isolate, `throw new RangeError('Script execution timed out.');`, 5_000), 'rejection');
    assert.equal(isolate.isDisposed, false);
  } finally {
    isolate.dispose();
  }
});

test('a call cut by its time limit is a timeout, and one that exhausted the heap is memory', () => {
  const isolate = new ivm.Isolate({ memoryLimit: 16 });
  assert.equal(failureOf(isolate, 'for (;;) {}', 20), 'timeout');
  // Cut while reading an unhandled rejection's value: a timeout too, never counted as the callbacks' rejection.
  assert.equal(failureOf(isolate, 'globalThis.held = Promise.reject({ get message() { for (;;) {} } }); for (const end = Date.now() + 7; Date.now() < end;) {}', 20), 'timeout');
  assert.equal(failureOf(isolate, 'const hoard = []; for (;;) hoard.push(new Array(1e5).fill(1));', 30_000), 'memory');
});
