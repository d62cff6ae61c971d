import { test } from 'node:test';
import assert from 'node:assert/strict';
import ivm from 'isolated-vm';
import { hostCallback } from '../src/worker/host-functions.ts';
import { armHostDeadline, checkHostDeadline, disarmHostDeadline } from '../src/worker/limits.ts';

// isolated-vm copies the stack of an error thrown by a host function into the isolate, and a host
// stack names webdat's files and node:internal: a callback that catches it could send them to a client
// (issue 13 item 7: seen when a loaded machine let a storage call pass its stretch's deadline).

test('an error thrown by a host function reaches the isolate with its name and message, without the host stack', () => {
  const isolate = new ivm.Isolate({ memoryLimit: 16 });
  try {
    const context = isolate.createContextSync();
    context.global.setSync('deadline', hostCallback(() => checkHostDeadline()));
    context.global.setSync('range', hostCallback((n: unknown) => { throw new RangeError(`bad ${String(n)}`); }));
    context.global.setSync('odd', hostCallback(() => { throw 'a string'; }));
    armHostDeadline(-1);
    let seen: string;
    try {
      seen = context.evalSync(`
        const out = [];
        for (const f of [() => deadline(), () => range(7), () => odd()]) {
          try { f(); out.push(['returned']); } catch (e) { out.push([e.name, e.message, String(e.stack), e instanceof Error]); }
        }
        JSON.stringify(out)`) as string;
    } finally {
      disarmHostDeadline();
    }
    const [deadline, range, odd] = JSON.parse(seen) as Array<[string, string, string, boolean]>;
    assert.deepEqual([deadline[0], deadline[1], deadline[3]], ['Error', 'time limit exceeded inside a host function', true]);
    assert.deepEqual([range[0], range[1]], ['RangeError', 'bad 7']);
    assert.deepEqual([odd[0], odd[1]], ['Error', 'a string']);
    for (const mark of ['file:', 'node:internal', '/work/', 'host-functions', 'limits']) assert.ok(!seen.includes(mark), `the isolate saw "${mark}":\n${seen}`);
  } finally {
    isolate.dispose();
  }
});
