import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import {
  CommandKind, EventKind, INFO_FIELDS, PROTOCOL_VERSION, TaskKind, WsOp,
  decodeBatchResult, decodeLoadResult, decodeTask, encode, isProtocolError,
  type BatchResult, type InfoSnapshot, type LoadResult, type Task,
} from '../src/index.ts';

const info = { ...Object.fromEntries(INFO_FIELDS.map((k) => [k, 0])), server_running: 1, requests: 3, primary: 1, isolates: 1 } as InfoSnapshot;
const batch: Task = {
  v: PROTOCOL_VERSION, t: TaskKind.batch, batches: [{
    instance: 1, generation: 2, info, events: [
      { k: EventKind.http, id: 1, method: 'POST', uri: '/x', query: 'a=1', headers: ['host', 'h', 'x-é', 'ü'], body: new Uint8Array([0, 255, 10]), clientAddress: '127.0.0.1', serverAddress: '127.0.0.1:1' },
      { k: EventKind.http, id: 2, method: 'GET', uri: '/', query: '', headers: [], body: null, clientAddress: '::1', serverAddress: 's' },
      { k: EventKind.wsOpen, id: 3, client: 'c#1', uri: '/chat?room=1' },
      { k: EventKind.wsText, id: 4, client: 'c#1', data: 'hé 🎉' },
      { k: EventKind.wsBinary, id: 5, client: 'c#1', data: new Uint8Array(1000).fill(7) },
      { k: EventKind.wsClose, id: 6, client: 'c#1' },
      { k: EventKind.serverStart, id: 8, port: 9980 },
    ],
    cancel: [7],
  }],
};
const load: Task = { v: PROTOCOL_VERSION, t: TaskKind.load, spec: { instance: 1, generation: 1, name: 'a', port: 9980, secure: false, node: 'h:1', entry: '/x/cb.js', limits: { timeoutMs: 100, memoryMb: 64, cpuMs: 100, maxTimers: 1000, storageMb: 64, maxFetches: 16, maxFetchBytes: 1 << 24, maxOutputBytes: 1 << 24, maxHeaders: 100, maxHeaderBytes: 65536, logLinesPerSecond: 1000, logBytesPerSecond: 1 << 20 }, dataDir: '/x/.webdat-data', egress: { allow: ['api.example.com'] } } };
const result: BatchResult = {
  v: PROTOCOL_VERSION, results: [{
    instance: 1, generation: 2, commands: [
      { c: CommandKind.respond, id: 1, o: 'ok', status: 200, reason: 'OK', headers: ['a', 'b'], body: 'text' },
      { c: CommandKind.respond, id: 2, o: 'ok', status: 201, reason: '', headers: [], body: new Uint8Array([1, 2]) },
      { c: CommandKind.done, id: 3, o: 'timeout' },
      { c: CommandKind.wsSend, client: 'c#1', op: WsOp.binary, data: new Uint8Array([3]) },
      { c: CommandKind.wsClose, client: 'c#1', code: 1000, reason: 'bye' },
      { c: CommandKind.broadcast, op: WsOp.text, data: 'all' },
      { c: CommandKind.log, level: 'warn', msg: 'hi' },
    ],
    pending: [9, 12], backlog: 0, breachedMs: 104, stats: { heapUsed: 1, cpuTimeMs: 0.5, memoryRestarts: 0, headerBreaches: 0, logLinesDropped: 0, live: 1 },
  }],
  ringEnd: -1,
  outboxEnds: [1, 65536],
  hold: false,
};

const normalize = (v: unknown) => JSON.parse(JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? [...x] : x)));

test('every task kind and result round-trips', () => {
  assert.deepEqual(normalize(decodeTask(encode(batch))), normalize(batch));
  assert.deepEqual(normalize(decodeTask(encode(load))), normalize(load));
  assert.deepEqual(normalize(decodeTask(encode({ v: PROTOCOL_VERSION, t: TaskKind.unload, instance: 4 }))), { v: PROTOCOL_VERSION, t: TaskKind.unload, instance: 4 });
  assert.deepEqual(normalize(decodeBatchResult(encode(result))), normalize(result));
  const lr: LoadResult = { v: PROTOCOL_VERSION, ok: false, error: { code: 'WEBDAT_ERR_CALLBACKS_SYNTAX', message: 'bad' }, commands: [], hold: false };
  assert.deepEqual(decodeLoadResult(encode(lr)), lr);
});

test('hot-path shapes travel as record ids, and every message decodes on its own in the other thread', async () => {
  // A second instance of the codec module stands for the other thread: it shares no state with this one.
  const other = await import('../src/codec.ts?other-thread') as typeof import('../src/codec.ts');
  const written = (m: Uint8Array) => Buffer.from(m).toString('latin1');
  for (const key of ['clientAddress', 'serverAddress', 'generation', 'websocket_connections']) {
    assert.ok(!written(encode(batch)).includes(key), `the key ${key} was written into the batch`);
  }
  for (const key of ['status', 'reason', 'breachedMs', 'memoryRestarts', 'ringEnd', 'outboxEnds']) {
    assert.ok(!written(encode(result)).includes(key), `the key ${key} was written into the result`);
  }
  const messages = [encode(load), encode(batch), encode(load), encode(batch)];
  for (const m of messages.reverse()) {
    const task = other.decodeTask(m);
    assert.deepEqual(normalize(task), normalize(task.t === TaskKind.load ? load : batch));
  }
  assert.deepEqual(normalize(other.decodeBatchResult(encode(result))), normalize(result));
  assert.deepEqual(normalize(decodeBatchResult(other.encode(result))), normalize(result));
});

test('binary payloads stay bytes and encode() owns its buffer', () => {
  const a = encode(batch);
  const b = encode(load);
  assert.ok(a.buffer !== b.buffer, 'two encodes share a buffer: it could not be transferred');
  const d = decodeTask(a);
  assert.ok(d.t === TaskKind.batch && d.batches[0].events[0].k === EventKind.http && d.batches[0].events[0].body instanceof Uint8Array);
});

function expectProtocolError(fn: () => unknown, code: string) {
  let err: unknown;
  try { fn(); } catch (e) { err = e; }
  assert.ok(isProtocolError(err), `expected a ProtocolError, got ${String(err)}`);
  assert.equal((err as { code: string }).code, code);
}

test('empty, garbage and every truncation of a valid message are typed errors', () => {
  expectProtocolError(() => decodeTask(new Uint8Array(0)), 'WEBDAT_ERR_PROTOCOL_DECODE');
  expectProtocolError(() => decodeTask(new Uint8Array([0xc1, 0xc1, 0xc1])), 'WEBDAT_ERR_PROTOCOL_DECODE');
  const full = encode(batch);
  for (let n = 1; n < full.length; n++) {
    let err: unknown;
    try { decodeTask(full.subarray(0, n)); } catch (e) { err = e; }
    assert.ok(isProtocolError(err), `truncation at ${n} of ${full.length} was accepted or threw ${String(err)}`);
  }
});

test('random bytes never crash or hang the decoder', () => {
  let seed = 42;
  const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed & 255; };
  for (let i = 0; i < 2000; i++) {
    const bytes = Uint8Array.from({ length: 1 + (i % 64) }, rnd);
    try { decodeTask(bytes); } catch (e) { assert.ok(isProtocolError(e), `non-protocol error: ${String(e)}`); }
    try { decodeBatchResult(bytes); } catch (e) { assert.ok(isProtocolError(e), `non-protocol error: ${String(e)}`); }
  }
});

test('a wrong version and a wrong shape are refused with the path that was wrong', () => {
  const packr = new Packr({ useRecords: true });
  expectProtocolError(() => decodeTask(packr.pack({ ...batch, v: 99 })), 'WEBDAT_ERR_PROTOCOL_VERSION');
  const bad = structuredClone(batch) as any;
  bad.batches[0].events[1].headers = ['odd'];
  let err: any;
  try { decodeTask(packr.pack(bad)); } catch (e) { err = e; }
  assert.equal(err.code, 'WEBDAT_ERR_PROTOCOL_SHAPE');
  assert.match(err.message, /task\.batches\[0\]\.events\[1\]\.headers/);
  const badCmd = structuredClone(result) as any;
  badCmd.results[0].commands[0].o = 'sideways';
  expectProtocolError(() => decodeBatchResult(packr.pack(badCmd)), 'WEBDAT_ERR_PROTOCOL_SHAPE');
  expectProtocolError(() => decodeTask(packr.pack({ v: PROTOCOL_VERSION, t: 42 })), 'WEBDAT_ERR_PROTOCOL_SHAPE');
});
