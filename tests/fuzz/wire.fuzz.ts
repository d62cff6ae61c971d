import fc from 'fast-check';
import {
  COMMAND_LAYOUTS, COMMAND_LEAD, CommandKind, LOG_LEVELS, OUTCOMES, WsOp, checkCommand, isolateOrder,
  type Command, type FieldType,
} from '../../packages/protocol/src/index.ts';
import { WireError, readCommands } from '../../packages/sandbox/src/worker/isolate-wire.ts';
import { checkResponse } from '../../packages/sandbox/src/worker/http-message.ts';
import { oddValue } from './inputs.ts';

// The isolate's way out (packages/sandbox/src/worker/isolate-wire.ts): callbacks share the isolate with the
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
const even = (h: string[]) => h.slice(0, h.length - (h.length % 2));
const values: { [T in FieldType]: fc.Arbitrary<unknown> } = {
  int: fc.oneof(fc.nat(), fc.integer()),
  status: fc.oneof(fc.integer({ min: 100, max: 999 }), fc.double()),
  string: text,
  bytes: fc.uint8Array({ maxLength: 8 }),
  payload,
  requestBody: fc.option(fc.uint8Array({ maxLength: 8 })),
  // text, bytes, or a position in the isolate's outbox (valid or not: the outbox below is small)
  responseBody: fc.oneof(payload, fc.nat({ max: 80 }), fc.integer()),
  pairs: fc.array(text, { maxLength: 6 }).map(even),
  strings: fc.array(text, { maxLength: 6 }),
  outcome: fc.constantFrom(...OUTCOMES),
  wsOp: fc.constantFrom(WsOp.text, WsOp.binary, WsOp.ping),
  broadcastOp: fc.constantFrom(WsOp.text, WsOp.binary),
  level: fc.constantFrom(...LOG_LEVELS),
  ringSlot: fc.tuple(fc.nat(), fc.nat()),
};
/** Every command of the wire table, laid out as the dispatcher's writers lay it out. */
const wellFormed = fc.oneof(...[...COMMAND_LAYOUTS].map(([c, { fields }]) => {
  const order = isolateOrder(fields, COMMAND_LEAD);
  return fc.tuple(...order.fixed.map(([, type]) => values[type]), order.list === null ? fc.constant([]) : values[order.list[1]])
    .map((v) => {
      const list = v.pop() as unknown[];
      return order.list === null ? [c, ...v] : [c, ...v, list.length, ...list];
    });
}));
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

/** An outbox as the isolate may leave it: any bytes, so its length headers say anything. */
const outbox = fc.option(fc.uint8Array({ minLength: 0, maxLength: 64 }).map((data) => ({ id: 1, memory: data.buffer as SharedArrayBuffer, data })), { freq: 4 });

export function fuzzWire(runs: number, seed: number): number {
  fc.assert(fc.property(input, outbox, (flat, box) => {
    const out: Command[] = [];
    try {
      readCommands(flat, out, box);
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
