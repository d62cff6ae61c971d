import fc from 'fast-check';
import { CommandKind, LOG_LEVELS, OUTCOMES, WsOp, checkCommand, type Command } from '../../packages/protocol/src/index.ts';
import { WireError, readCommands } from '../../packages/sandbox/src/isolate-wire.ts';
import { checkResponse } from '../../packages/sandbox/src/http-message.ts';
import { oddValue } from './inputs.ts';

// The isolate's way out (packages/sandbox/src/isolate-wire.ts): callbacks share the isolate with the
// dispatcher, so the flat command list it hands back is as hostile as they are. readCommands either
// throws a WireError or returns commands that the I/O thread's guard accepts once the response
// check passed; anything else would take the worker for lost.

const field = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<unknown>(...Object.values(CommandKind), ...OUTCOMES, ...LOG_LEVELS, ...Object.values(WsOp)) },
  { weight: 3, arbitrary: fc.oneof(fc.integer({ min: -2, max: 12 }), fc.integer(), fc.string({ maxLength: 8 }), fc.uint8Array({ maxLength: 8 })) },
  { weight: 1, arbitrary: oddValue },
);
const text = fc.string({ maxLength: 8 });
const payload = fc.oneof(text, fc.uint8Array({ maxLength: 8 }));
const wellFormed = fc.oneof(
  fc.tuple(fc.nat(), fc.constantFrom(...OUTCOMES), fc.oneof(fc.integer({ min: 100, max: 999 }), fc.double()), text, fc.array(text, { maxLength: 6 }), payload)
    .map(([id, o, status, reason, h, body]) => [CommandKind.respond, id, o, status, reason, h.length - (h.length % 2), ...h.slice(0, h.length - (h.length % 2)), body]),
  fc.tuple(fc.nat(), fc.constantFrom(...OUTCOMES)).map(([id, o]) => [CommandKind.done, id, o]),
  fc.tuple(text, fc.constantFrom(WsOp.text, WsOp.binary, WsOp.ping), payload).map(([c, op, d]) => [CommandKind.wsSend, c, op, d]),
  fc.tuple(text, fc.integer(), text).map(([c, code, r]) => [CommandKind.wsClose, c, code, r]),
  fc.tuple(fc.constantFrom(WsOp.text, WsOp.binary), payload).map(([op, d]) => [CommandKind.broadcast, op, d]),
  fc.tuple(fc.constantFrom(...LOG_LEVELS), text).map(([l, m]) => [CommandKind.log, l, m]),
);
/** A list of well-formed commands with a few fields replaced, dropped or inserted. */
const mutated = fc.tuple(fc.array(wellFormed, { maxLength: 4 }), fc.array(fc.tuple(fc.nat(), field, fc.constantFrom('replace', 'drop', 'insert')), { maxLength: 3 }))
  .map(([cmds, edits]) => {
    const flat: unknown[] = cmds.flat();
    for (const [at, v, how] of edits) {
      const i = flat.length === 0 ? 0 : at % flat.length;
      if (how === 'replace') flat[i] = v;
      else if (how === 'drop') flat.splice(i, 1);
      else flat.splice(i, 0, v);
    }
    return flat as unknown;
  });
const input = fc.oneof(
  { weight: 5, arbitrary: mutated },
  { weight: 3, arbitrary: fc.array(field, { maxLength: 16 }) as fc.Arbitrary<unknown> },
  { weight: 1, arbitrary: fc.oneof(oddValue, fc.sparseArray(field, { maxLength: 8 }) as fc.Arbitrary<unknown>) },
);

export function fuzzWire(runs: number, seed: number): number {
  fc.assert(fc.property(input, (flat) => {
    const out: Command[] = [];
    try {
      readCommands(flat, out);
    } catch (err) {
      if (!(err instanceof WireError)) throw new Error(`threw something other than a WireError: ${(err as Error)?.stack ?? String(err)}`);
      return;
    }
    for (const [i, c] of out.entries()) {
      if (c.c === CommandKind.respond && checkResponse(c) !== null) continue;
      checkCommand(c, `commands[${i}]`);
    }
  }), { numRuns: runs, seed, endOnFailure: true });
  return runs;
}
