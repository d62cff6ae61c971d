import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SHORT, runFuzz } from './fuzz/targets.ts';

// The short run of `pnpm fuzz` (same targets, small counts, fixed seed): the protocol decoders and
// guards, the isolate wire reader, config validation, and raw HTTP and WebSocket traffic against a
// running webdat beside a probe server.

test('fuzzing, short run: no crash, no hang, only clean errors, and the probe server keeps answering', async () => {
  const outcomes = await runFuzz(SHORT, 20261127);
  assert.deepEqual(outcomes.map((o) => o.target), ['protocol decoders and guards', 'isolate wire reader', 'config validation', 'HTTP over raw TCP', 'WebSocket frames over raw TCP']);
  for (const o of outcomes) {
    assert.deepEqual(o.problems, [], o.target);
    assert.ok(o.inputs >= (o.target.startsWith('HTTP') ? SHORT.http : o.target.startsWith('WebSocket') ? SHORT.websocket : 1), `${o.target}: ${o.inputs} inputs`);
  }
  const [http, ws] = outcomes.slice(3).map((o) => o.detail as Record<string, number>);
  assert.ok(http.answered > 0 && ws.pongs > 0, 'well-formed traffic was served');
  assert.ok(http.probes >= 1 && ws.probes >= 1);
});
