import { CommandKind, EventKind, LOG_LEVELS, OUTCOMES, PROTOCOL_VERSION, TaskKind, WsOp } from './kinds.js';
import { ProtocolError, ProtocolErrorCode } from './errors.js';
import type { BatchResult, Command, Event, LoadResult, Task, TenantBatch, TenantResult, TenantSpec } from './messages.js';

// Shape checks at the thread boundary. They run on every batch, so they are plain loops and typeof
// tests rather than a schema library; each failure names the path that was wrong.

function fail(path: string, what: string): never {
  throw new ProtocolError(ProtocolErrorCode.shape, `${path}: expected ${what}`);
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;
const outcomes = new Set<unknown>(OUTCOMES);
const levels = new Set<unknown>(LOG_LEVELS);
const wsOps = new Set<unknown>(Object.values(WsOp));

function str(o: Record<string, unknown>, key: string, path: string): void {
  if (typeof o[key] !== 'string') fail(`${path}.${key}`, 'a string');
}
function int(o: Record<string, unknown>, key: string, path: string): void {
  if (!isInt(o[key])) fail(`${path}.${key}`, 'an integer');
}
function strings(v: unknown, path: string): void {
  if (!Array.isArray(v)) fail(path, 'an array of strings');
  for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'string') fail(`${path}[${i}]`, 'a string');
}
function ints(v: unknown, path: string): void {
  if (!Array.isArray(v)) fail(path, 'an array of integers');
  for (let i = 0; i < v.length; i++) if (!isInt(v[i])) fail(`${path}[${i}]`, 'an integer');
}
function version(o: unknown, path: string): asserts o is Record<string, unknown> {
  if (!isObj(o)) fail(path, 'an object');
  if (o.v !== PROTOCOL_VERSION) {
    throw new ProtocolError(ProtocolErrorCode.version, `${path}.v: expected protocol version ${PROTOCOL_VERSION}, got ${typeof o.v === 'number' ? o.v : typeof o.v}`);
  }
}

export function checkEvent(e: unknown, path: string): asserts e is Event {
  if (!isObj(e)) fail(path, 'an event object');
  int(e, 'id', path);
  switch (e.k) {
    case EventKind.http:
      str(e, 'method', path); str(e, 'uri', path); str(e, 'query', path);
      str(e, 'clientAddress', path); str(e, 'serverAddress', path);
      strings(e.headers, `${path}.headers`);
      if ((e.headers as string[]).length % 2 !== 0) fail(`${path}.headers`, 'name/value pairs');
      if (e.body !== null && !isBytes(e.body)) fail(`${path}.body`, 'bytes or null');
      return;
    case EventKind.wsOpen:
      str(e, 'client', path); str(e, 'uri', path); return;
    case EventKind.wsText:
      str(e, 'client', path); str(e, 'data', path); return;
    case EventKind.wsBinary: case EventKind.wsPing: case EventKind.wsPong:
      str(e, 'client', path);
      if (!isBytes(e.data)) fail(`${path}.data`, 'bytes');
      return;
    case EventKind.wsClose: case EventKind.peerJoin: case EventKind.peerLeave:
      str(e, 'client', path); return;
    case EventKind.serverStart: case EventKind.serverStop:
      return;
    default:
      fail(`${path}.k`, 'a known event kind');
  }
}

export function checkCommand(c: unknown, path: string): asserts c is Command {
  if (!isObj(c)) fail(path, 'a command object');
  switch (c.c) {
    case CommandKind.respond:
      int(c, 'id', path); int(c, 'status', path); str(c, 'reason', path);
      if (!outcomes.has(c.o)) fail(`${path}.o`, 'an outcome');
      strings(c.headers, `${path}.headers`);
      if (typeof c.body !== 'string' && !isBytes(c.body)) fail(`${path}.body`, 'a string or bytes');
      if (c.rb !== undefined) {
        ints(c.rb, `${path}.rb`);
        if ((c.rb as number[]).length !== 2) fail(`${path}.rb`, 'a [position, length] pair');
      }
      return;
    case CommandKind.done:
      int(c, 'id', path);
      if (!outcomes.has(c.o)) fail(`${path}.o`, 'an outcome');
      return;
    case CommandKind.wsSend:
      str(c, 'client', path);
      if (!wsOps.has(c.op)) fail(`${path}.op`, 'a WebSocket op');
      if (typeof c.data !== 'string' && !isBytes(c.data)) fail(`${path}.data`, 'a string or bytes');
      return;
    case CommandKind.wsClose:
      str(c, 'client', path); int(c, 'code', path); str(c, 'reason', path); return;
    case CommandKind.broadcast:
      if (c.op !== WsOp.text && c.op !== WsOp.binary) fail(`${path}.op`, 'text or binary');
      if (typeof c.data !== 'string' && !isBytes(c.data)) fail(`${path}.data`, 'a string or bytes');
      return;
    case CommandKind.log:
      if (!levels.has(c.level)) fail(`${path}.level`, 'a log level');
      str(c, 'msg', path);
      return;
    default:
      fail(`${path}.c`, 'a known command kind');
  }
}

function checkSpec(s: unknown, path: string): asserts s is TenantSpec {
  if (!isObj(s)) fail(path, 'a tenant spec');
  int(s, 'tenant', path); int(s, 'generation', path); int(s, 'port', path);
  str(s, 'name', path); str(s, 'entry', path); str(s, 'node', path);
  if (typeof s.secure !== 'boolean') fail(`${path}.secure`, 'a boolean');
  if (s.source !== undefined && typeof s.source !== 'string') fail(`${path}.source`, 'a string');
  if (s.clients !== undefined) strings(s.clients, `${path}.clients`);
  if (!isObj(s.limits)) fail(`${path}.limits`, 'an object');
  if (typeof s.limits.timeoutMs !== 'number' || !(s.limits.timeoutMs > 0)) fail(`${path}.limits.timeoutMs`, 'a positive number');
  for (const k of ['memoryMb', 'cpuMs', 'maxTimers', 'storageMb', 'maxFetches', 'maxFetchBytes']) {
    if (typeof s.limits[k] !== 'number' || !(s.limits[k] > 0)) fail(`${path}.limits.${k}`, 'a positive number');
  }
  str(s, 'dataDir', path);
  if (s.idleMs !== undefined && (typeof s.idleMs !== 'number' || !(s.idleMs > 0))) fail(`${path}.idleMs`, 'a positive number');
  if (s.storageRedis !== undefined) {
    if (!isObj(s.storageRedis)) fail(`${path}.storageRedis`, 'an object');
    str(s.storageRedis, 'url', `${path}.storageRedis`);
    str(s.storageRedis, 'cluster', `${path}.storageRedis`);
  }
  if (!isObj(s.egress)) fail(`${path}.egress`, 'an object');
  strings(s.egress.allow, `${path}.egress.allow`);
  if (s.egress.caFile !== undefined && typeof s.egress.caFile !== 'string') fail(`${path}.egress.caFile`, 'a string');
  for (const k of ['maxOutputBytes', 'maxHeaders', 'maxHeaderBytes', 'logLinesPerSecond', 'logBytesPerSecond'] as const) {
    if (typeof s.limits[k] !== 'number' || !(s.limits[k] >= 0)) fail(`${path}.limits.${k}`, 'a number ≥ 0');
  }
}

function checkBatch(b: unknown, path: string): asserts b is TenantBatch {
  if (!isObj(b)) fail(path, 'a tenant batch');
  int(b, 'tenant', path); int(b, 'generation', path);
  if (!isObj(b.info)) fail(`${path}.info`, 'an info snapshot');
  if (!Array.isArray(b.events)) fail(`${path}.events`, 'an array');
  for (let i = 0; i < b.events.length; i++) checkEvent(b.events[i], `${path}.events[${i}]`);
  ints(b.cancel, `${path}.cancel`);
}

export function checkTask(t: unknown): asserts t is Task {
  version(t, 'task');
  switch (t.t) {
    case TaskKind.load:
      checkSpec(t.spec, 'task.spec');
      if (t.lazy !== undefined && typeof t.lazy !== 'boolean') fail('task.lazy', 'a boolean');
      return;
    case TaskKind.check: str(t, 'entry', 'task'); return;
    case TaskKind.unload: int(t, 'tenant', 'task'); return;
    case TaskKind.hold: return;
    case TaskKind.batch:
      if (!Array.isArray(t.batches)) fail('task.batches', 'an array');
      for (let i = 0; i < t.batches.length; i++) checkBatch(t.batches[i], `task.batches[${i}]`);
      return;
    default:
      fail('task.t', 'a known task kind');
  }
}

function checkCommands(v: unknown, path: string): void {
  if (!Array.isArray(v)) fail(path, 'an array of commands');
  for (let i = 0; i < v.length; i++) checkCommand(v[i], `${path}[${i}]`);
}

function checkTenantResult(r: unknown, path: string): asserts r is TenantResult {
  if (!isObj(r)) fail(path, 'a tenant result');
  int(r, 'tenant', path); int(r, 'generation', path);
  checkCommands(r.commands, `${path}.commands`);
  ints(r.pending, `${path}.pending`);
  int(r, 'backlog', path);
  int(r, 'breachedMs', path);
  if ((r.breachedMs as number) < 0) fail(`${path}.breachedMs`, 'a duration');
  if (!isObj(r.stats)) fail(`${path}.stats`, 'stats');
}

export function checkBatchResult(r: unknown): asserts r is BatchResult {
  version(r, 'result');
  if (!Array.isArray(r.results)) fail('result.results', 'an array');
  for (let i = 0; i < r.results.length; i++) checkTenantResult(r.results[i], `result.results[${i}]`);
  if (typeof r.ringEnd !== 'number' || !Number.isSafeInteger(r.ringEnd) || r.ringEnd < -1) fail('result.ringEnd', 'an integer ≥ -1');
  if (typeof r.hold !== 'boolean') fail('result.hold', 'a boolean');
}

export function checkLoadResult(r: unknown): asserts r is LoadResult {
  version(r, 'result');
  if (typeof r.ok !== 'boolean') fail('result.ok', 'a boolean');
  if (typeof r.hold !== 'boolean') fail('result.hold', 'a boolean');
  if (r.error !== undefined) {
    if (!isObj(r.error)) fail('result.error', 'an error object');
    str(r.error, 'code', 'result.error'); str(r.error, 'message', 'result.error');
  }
  checkCommands(r.commands, 'result.commands');
}
