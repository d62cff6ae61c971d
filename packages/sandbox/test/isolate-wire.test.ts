import { test } from 'node:test';
import assert from 'node:assert/strict';
import vm from 'node:vm';
import {
  COMMANDS, EVENTS, HOST_ONLY_TYPES, ISOLATE_KINDS, SHAPES, WsOp, checkCommand, checkEvent, isolateWritersSource,
  type Command, type Event, type FieldType,
} from '@webdat/protocol';
import { flattenEvents, readCommands, WireError } from '../src/worker/isolate-wire.ts';
import { closeRing, openRing } from '../src/worker/ring.ts';

// The wire table's derivations agree with each other: what the dispatcher's compiled writers lay out,
// the worker reads back as the same command, in a shape the codec knows and its guard accepts; every
// event field sits where the dispatcher reads it.

const SAMPLE: { [T in FieldType]: unknown } = {
  int: 7, status: 404, string: 'é x', bytes: new Uint8Array([1, 2, 3]), payload: 'body', requestBody: new Uint8Array([9]), responseBody: 'answer',
  pairs: ['a', '1', 'b', '2'], strings: ['s'], outcome: 'timeout', wsOp: WsOp.ping, broadcastOp: WsOp.binary,
  level: 'warn', ringSlot: [0, 1],
};
const shapes = new Set(SHAPES.map((s) => s.join(',')));

test('every command the dispatcher writes reads back whole, in a known shape its guard accepts', () => {
  // Compiled as the prelude compiles them, in another realm, and written into a list without a prototype.
  const writers = vm.runInNewContext(`(${isolateWritersSource()})`) as Record<string, (list: unknown[], ...a: unknown[]) => void>;
  const list = Object.setPrototypeOf([], null) as unknown[];
  const expected: Command[] = [];
  for (const [name, { c, fields }] of Object.entries(COMMANDS)) {
    const wired = fields.filter(([, t]) => !HOST_ONLY_TYPES.includes(t));
    writers[name](list, ...wired.map(([, t]) => SAMPLE[t]));
    expected.push({ c, ...Object.fromEntries(wired.map(([n, t]) => [n, SAMPLE[t]])) } as Command);
  }
  const out: Command[] = [];
  readCommands(list, out, null);
  assert.deepEqual(out, expected);
  for (const [i, cmd] of out.entries()) {
    assert.ok(shapes.has(Object.keys(cmd).join(',')), `${Object.keys(cmd)} is not a record shape the codec knows`);
    checkCommand(cmd, `commands[${i}]`);
  }
});

test('a command list cut anywhere, or with a list count past its end, is a WireError', () => {
  const writers = vm.runInNewContext(`(${isolateWritersSource()})`) as Record<string, (list: unknown[], ...a: unknown[]) => void>;
  const list: unknown[] = [];
  writers.respond(list, 1, 'ok', 200, 'OK', ['a', 'b'], 'x');
  for (let n = 1; n < list.length; n++) assert.throws(() => readCommands(list.slice(0, n), [], null), WireError, `cut at ${n}`);
  const count = list.indexOf(2);
  assert.throws(() => readCommands(list.with(count, 4), [], null), WireError);
  assert.throws(() => readCommands(list.with(count, 1), [], null), WireError, 'an odd count of name/value pairs');
});

test('a body left in the outbox is copied outside a task, named within one; a position or length past the outbox is a WireError', () => {
  const writers = vm.runInNewContext(`(${isolateWritersSource()})`) as Record<string, (list: unknown[], ...a: unknown[]) => void>;
  const respond = (body: unknown) => {
    const list: unknown[] = [];
    writers.respond(list, 1, 'ok', 200, 'OK', [], body);
    return list;
  };
  // [length: u32 LE][bytes] at 4, as the dispatcher writes it
  const memory = new SharedArrayBuffer(32);
  const data = new Uint8Array(memory);
  const outbox = { id: 7, memory, data };
  data.set([5, 0, 0, 0, 10, 20, 30, 40, 50], 4);
  const out: Command[] = [];
  readCommands(respond(4), out, outbox);
  assert.deepEqual(out[0].c === 1 && out[0].body, new Uint8Array([10, 20, 30, 40, 50]));
  assert.equal(out[0].c === 1 && out[0].rb, undefined);
  // Outside a task the bytes are copied: the isolate may write over them at once.
  data.fill(0, 8);
  assert.deepEqual(out[0].c === 1 && out[0].body, new Uint8Array([10, 20, 30, 40, 50]));
  // Within one, the I/O thread is told where they are, and where the task's bodies in that outbox end.
  openRing();
  const named: Command[] = [];
  readCommands(respond(4), named, outbox);
  assert.deepEqual(named[0].c === 1 && [named[0].rb, named[0].body.length], [[7, 8, 5], 0]);
  assert.deepEqual(closeRing(), { ringEnd: -1, outboxEnds: [7, 13] });
  assert.throws(() => readCommands(respond(4), [], null), WireError, 'no outbox');
  assert.throws(() => readCommands(respond(29), [], outbox), WireError, 'a header past the end');
  data.set([255, 255, 255, 127], 0);
  assert.throws(() => readCommands(respond(0), [], outbox), WireError, 'a length past the end');
  assert.throws(() => readCommands(respond(-1), [], outbox), WireError, 'a negative position');
  assert.throws(() => readCommands(respond(1.5), [], outbox), WireError, 'a fractional position');
});

test('every event field sits at the offset the dispatcher reads it from', () => {
  for (const [name, { k, fields }] of Object.entries(EVENTS)) {
    const event = { k, id: 5, ...Object.fromEntries(fields.map(([n, t]) => [n, t === 'requestBody' ? null : SAMPLE[t]])) } as Event;
    checkEvent(event, name);
    const { flat, at } = flattenEvents([event]);
    const offsets = (ISOLATE_KINDS.event as Record<string, { at: Record<string, number> }>)[name].at;
    assert.equal(flat[at[0]], k);
    assert.equal(flat[offsets.id], 5);
    for (const [field, type] of fields) {
      const v = flat[offsets[field]];
      if (type === 'pairs') assert.deepEqual(flat.slice(offsets[field] + 1, offsets[field] + 1 + (v as number)), SAMPLE.pairs);
      else if (type === 'requestBody') assert.equal(v, '', 'no body is request.data ""');
      else assert.deepEqual(v, SAMPLE[type], `${name}.${field}`);
    }
  }
});
