import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CommandKind, EventKind, LOG_LEVELS, OUTCOMES, PROTOCOL_VERSION, TaskKind, WsOp,
  checkBatchResult, checkCommand, checkEvent, checkLoadResult, checkTask, decodeBatchResult, decodeLoadResult, decodeTask, encode, isProtocolError,
} from '../../packages/protocol/src/index.ts';
import { mutatedBytes, mutatedRecord, oddValue } from './inputs.ts';

// The thread boundary's decoders and guards (packages/protocol): whatever bytes or values arrive,
// each returns a message its own guard accepts or throws a ProtocolError, and one malformed message
// never changes how the next, well-formed one decodes (the codec's record table is shared state).

const int = fc.integer({ min: 0, max: 2 ** 31 });
const text = fc.string({ maxLength: 12 });
const bytes = fc.uint8Array({ maxLength: 12 });
const event = fc.oneof(
  fc.record({ k: fc.constant(EventKind.http), id: int, method: text, uri: text, query: text, headers: fc.array(text, { maxLength: 4 }).map((h) => h.length % 2 ? h.slice(1) : h), body: fc.option(bytes), clientAddress: text, serverAddress: text }),
  fc.record({ k: fc.constant(EventKind.wsOpen), id: int, client: text, uri: text }),
  fc.record({ k: fc.constant(EventKind.wsText), id: int, client: text, data: text }),
  fc.record({ k: fc.constantFrom(EventKind.wsBinary, EventKind.wsPing, EventKind.wsPong), id: int, client: text, data: bytes }),
  fc.record({ k: fc.constant(EventKind.wsClose), id: int, client: text }),
  fc.record({ k: fc.constant(EventKind.serverStart), id: int, port: int }),
  fc.record({ k: fc.constant(EventKind.serverStop), id: int }),
);
const command = fc.oneof(
  fc.record({ c: fc.constant(CommandKind.respond), id: int, o: fc.constantFrom(...OUTCOMES), status: fc.integer({ min: 100, max: 999 }), reason: text, headers: fc.array(text, { maxLength: 4 }), body: fc.oneof(text, bytes) }),
  fc.record({ c: fc.constant(CommandKind.done), id: int, o: fc.constantFrom(...OUTCOMES) }),
  fc.record({ c: fc.constant(CommandKind.wsSend), client: text, op: fc.constantFrom(WsOp.text, WsOp.binary, WsOp.ping), data: fc.oneof(text, bytes) }),
  fc.record({ c: fc.constant(CommandKind.wsClose), client: text, code: int, reason: text }),
  fc.record({ c: fc.constant(CommandKind.broadcast), op: fc.constantFrom(WsOp.text, WsOp.binary), data: fc.oneof(text, bytes) }),
  fc.record({ c: fc.constant(CommandKind.log), level: fc.constantFrom(...LOG_LEVELS), msg: text }),
);
const maybeOdd = <T>(a: fc.Arbitrary<T>) => fc.oneof({ weight: 4, arbitrary: a as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: mutatedRecord(a as fc.Arbitrary<Record<string, unknown>>) as fc.Arbitrary<unknown> });
const batch = fc.record({ instance: int, generation: int, info: fc.constant({}), events: fc.array(maybeOdd(event), { maxLength: 3 }), cancel: fc.array(int, { maxLength: 2 }) });
const spec = fc.record({ instance: int, generation: int, name: text, port: int, secure: fc.boolean(), entry: text, limits: fc.record({ timeoutMs: int, memoryMb: int }) });
const stats = fc.record({ heapUsed: int, cpuTimeMs: fc.double({ min: 0, max: 1e6, noNaN: true }), memoryRestarts: int });
const result = fc.record({ instance: int, generation: int, commands: fc.array(maybeOdd(command), { maxLength: 3 }), pending: fc.array(int, { maxLength: 2 }), backlog: int, breachedMs: int, stats });
const message = fc.oneof(
  fc.record({ v: fc.constant(PROTOCOL_VERSION), t: fc.constant(TaskKind.batch), batches: fc.array(maybeOdd(batch), { maxLength: 2 }) }),
  fc.record({ v: fc.constant(PROTOCOL_VERSION), t: fc.constant(TaskKind.load), spec: maybeOdd(spec), lazy: fc.boolean() }),
  fc.record({ v: fc.constant(PROTOCOL_VERSION), t: fc.constant(TaskKind.unload), instance: int }),
  fc.record({ v: fc.constant(PROTOCOL_VERSION), t: fc.constant(TaskKind.check), entry: text }),
  fc.record({ v: fc.constant(PROTOCOL_VERSION), results: fc.array(maybeOdd(result), { maxLength: 2 }), ringEnd: fc.integer({ min: -1, max: 1 << 24 }), outboxEnds: fc.array(int, { maxLength: 4 }) }),
  fc.record({ v: fc.constant(PROTOCOL_VERSION), ok: fc.boolean(), commands: fc.array(maybeOdd(command), { maxLength: 3 }) }),
).map((m) => m as Record<string, unknown>);

/** Encodes what msgpackr can encode; a value it refuses is fed to the guards only. */
function tryEncode(v: unknown): Uint8Array | null {
  try { return encode(v as Parameters<typeof encode>[0]); } catch { return null; }
}

const input = fc.oneof(
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => ({ bytes: b, value: undefined as unknown })) },
  { weight: 3, arbitrary: mutatedBytes(message.map(tryEncode).filter((b): b is Uint8Array => b !== null)).map((b) => ({ bytes: b, value: undefined as unknown })) },
  { weight: 3, arbitrary: fc.oneof(mutatedRecord(message), message, oddValue).map((v) => ({ bytes: tryEncode(v), value: v })) },
);

const reference = encode({ v: PROTOCOL_VERSION, t: TaskKind.unload, instance: 7 });
const decoders = [[decodeTask, checkTask], [decodeBatchResult, checkBatchResult], [decodeLoadResult, checkLoadResult]] as const;
const guards = [checkTask, checkBatchResult, checkLoadResult, (v: unknown) => checkEvent(v, 'e'), (v: unknown) => checkCommand(v, 'c')];

function expectClean(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (!isProtocolError(err)) throw new Error(`threw something other than a ProtocolError: ${(err as Error)?.stack ?? String(err)}`);
  }
}

export function fuzzProtocol(runs: number, seed: number): number {
  fc.assert(fc.property(input, ({ bytes: b, value }) => {
    if (b !== null) {
      for (const [decode, check] of decoders) {
        expectClean(() => {
          const m = decode(b);
          check(m);
        });
      }
    }
    if (value !== undefined) for (const guard of guards) expectClean(() => guard(value));
    const again = decodeTask(reference.slice());
    assert.ok(again.t === TaskKind.unload && again.instance === 7, 'a well-formed message still decodes');
  }), { numRuns: runs, seed, endOnFailure: true });
  return runs;
}
