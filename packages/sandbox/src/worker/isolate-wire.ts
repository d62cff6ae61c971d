import {
  COMMAND_LAYOUTS, COMMAND_LEAD, EVENT_LAYOUTS, EVENT_LEAD, LOG_LEVELS, OUTCOMES, WsOp, isolateOrder,
  type Command, type Event, type FieldType,
} from '@webdat/protocol';
import { requestData } from './http-message.js';
import { keepOutboxBody } from './ring.js';
import type { Outbox } from './outbox.js';

// The worker's half of the isolate wire (layout: protocol/src/isolate-layout.ts, derived from the
// wire table): events are flattened into the isolate, commands read out of it. Both are compiled from
// the table when the module loads into the switch one would write by hand: walking the table's field
// lists at run time cost up to three times as much per event and per command (profiled, hello world:
// reading a response ~0.04 → ~0.12 µs).
//
// The way out is read field by field and checked here, on the worker: the callbacks share their
// isolate with the dispatcher and can replace the built-ins it uses (Array.prototype.push, say), so
// its output is as untrusted as they are. Anything malformed ends that instance's turn alone; it never
// reaches the I/O thread, whose decoder would take the whole worker for lost.

/** The isolate's output was not a well-formed command list. */
export class WireError extends Error {}

const outcomes = new Set<unknown>(OUTCOMES);
const levels = new Set<unknown>(LOG_LEVELS);
const wsOps = new Set<unknown>([WsOp.text, WsOp.binary, WsOp.ping]);
const isInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v);

/** One check per field type the isolate writes: what is wrong with the value, or null when it fits. */
const FIELD_CHECKS: { readonly [T in FieldType]?: (v: unknown) => string | null } = {
  int: (v) => isInt(v) ? null : 'is not an integer',
  status: (v) => typeof v === 'number' ? null : 'is not a number',
  string: (v) => typeof v === 'string' ? null : 'is not a string',
  bytes: (v) => v instanceof Uint8Array ? null : 'is not bytes',
  payload: (v) => typeof v === 'string' || v instanceof Uint8Array ? null : 'is neither a string nor bytes',
  responseBody: (v) => typeof v === 'string' || v instanceof Uint8Array || (isInt(v) && (v as number) >= 0) ? null : 'is neither a string, bytes nor an outbox position',
  outcome: (v) => outcomes.has(v) ? null : 'is not one of the known outcomes',
  wsOp: (v) => wsOps.has(v) ? null : 'is not text, binary or ping',
  broadcastOp: (v) => v === WsOp.text || v === WsOp.binary ? null : 'is not text or binary',
  level: (v) => levels.has(v) ? null : 'is not one of the known log levels',
};
const CHECKED = Object.keys(FIELD_CHECKS) as FieldType[];

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
function fieldName(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`wire table: ${JSON.stringify(name)} is not a field name`);
  return name;
}

function compileFlatten(): (events: Event[], flat: unknown[], at: number[], data: typeof requestData) => void {
  const cases: string[] = [];
  for (const [k, { fields }] of EVENT_LAYOUTS) {
    const order = isolateOrder(fields, EVENT_LEAD);
    const fixed = order.fixed.map(([name, type]) => type === 'requestBody' ? 'data(e)' : `e.${fieldName(name)}`);
    let code = `case ${k}: flat.push(${k}, e.id${fixed.map((f) => `, ${f}`).join('')});`;
    if (order.list !== null) {
      code += ` { const l = e.${fieldName(order.list[0])}; flat.push(l.length); for (let j = 0; j < l.length; j++) flat.push(l[j]); }`;
    }
    cases.push(`${code} break;`);
  }
  return new Function('events', 'flat', 'at', 'data', `for (let i = 0; i < events.length; i++) {
  const e = events[i];
  at.push(flat.length);
  switch (e.k) {
  ${cases.join('\n  ')}
  default: throw new Error('an event of unknown kind ' + e.k);
  }
}`) as ReturnType<typeof compileFlatten>;
}
const flatten = compileFlatten();

export function flattenEvents(events: Event[]): { flat: unknown[]; at: number[] } {
  const flat: unknown[] = [];
  const at: number[] = [];
  flatten(events, flat, at, requestData);
  return { flat, at };
}

/** One case per command: each field read at its offset and checked, the command built in table order. */
function compileRead(): (f: unknown[], out: Command[], outbox: Outbox | null) => void {
  const cases: string[] = [];
  for (const [c, { name: kind, fields }] of COMMAND_LAYOUTS) {
    const order = isolateOrder(fields, COMMAND_LEAD);
    const lines: string[] = [];
    const last = order.list === null ? 'len' : 'len - 1';
    lines.push(`if (i + ${order.listAt} > ${last}) throw new WireError('the command list ends inside a ${kind}');`);
    const value = new Map<string, string>();
    for (const [name, type, at] of order.fixed) {
      if (FIELD_CHECKS[type] === undefined) throw new Error(`the isolate wire cannot read a ${type} field`);
      const v = `v_${fieldName(name)}`;
      value.set(name, v);
      lines.push(`${type === 'responseBody' ? 'let' : 'const'} ${v} = f[i + ${at}]; if ((w = check_${type}(${v})) !== null) throw new WireError('${kind}.${name} ' + w);`);
      if (type === 'responseBody') lines.push(`const boxed = typeof ${v} === 'number'; if (boxed) ${v} = outboxBody(outbox, ${v});`);
    }
    let size = `${order.listAt}`;
    if (order.list !== null) {
      const [name, type] = order.list;
      const v = `v_${fieldName(name)}`;
      value.set(name, v);
      const even = type === 'pairs' ? ' || n % 2 !== 0' : '';
      lines.push(`const n = f[i + ${order.listAt}];`,
        `if (typeof n !== 'number' || !Number.isInteger(n) || n < 0${even} || n > len - i - ${order.listAt + 1}) throw new WireError('${kind}.${name}: the count is out of range');`,
        `const ${v} = new Array(n);`,
        `for (let h = 0; h < n; h++) { const x = f[i + ${order.listAt + 1} + h]; if (typeof x !== 'string') throw new WireError('${kind}.${name}: an item is not a string'); ${v}[h] = x; }`);
      size += ' + 1 + n';
    }
    // Keys in table order: the record shape the I/O thread's codec knows (protocol shapes.ts).
    const keys = fields.filter(([name]) => value.has(name)).map(([name]) => `${name}: ${value.get(name)}`);
    const boxed = fields.some(([, type]) => type === 'responseBody');
    lines.push(`const cmd = { c: ${c}, ${keys.join(', ')} };`, boxed ? 'if (boxed) keepOutboxBody(cmd, outbox);' : '', 'out.push(cmd);', `i += ${size};`, 'break;');
    cases.push(`case ${c}: { ${lines.join(' ')} }`);
  }
  return new Function('WireError', 'outboxBody', 'keepOutboxBody', ...CHECKED.map((t) => `check_${t}`), `return function (f, out, outbox) {
  const len = f.length;
  let i = 0;
  let w;
  while (i < len) {
    switch (f[i]) {
    ${cases.join('\n    ')}
    default: throw new WireError('a command kind is not one of the known ones');
    }
  }
};`)(WireError, outboxBody, keepOutboxBody, ...CHECKED.map((t) => FIELD_CHECKS[t])) as ReturnType<typeof compileRead>;
}
const read = compileRead();

/**
 * Reads the isolate's commands into `out`; throws WireError at the first field that is not what its
 * layout says. A body left in the isolate's `outbox` (worker/outbox.ts) is named or copied at once
 * (ring.ts), so that what the isolate writes there later cannot change it.
 */
export function readCommands(flat: unknown, out: Command[], outbox: Outbox | null): void {
  if (!Array.isArray(flat)) throw new WireError('the command list is not an array');
  read(flat, out, outbox);
}

const OUTBOX_HEADER_BYTES = 4;

/** The body the isolate wrote at `at` of its outbox: `[length: u32 LE][bytes]`, both checked against the outbox. */
function outboxBody(box: Outbox | null, at: number): Uint8Array {
  if (box === null) throw new WireError('respond.body points outside the outbox');
  const outbox = box.data;
  if (at > outbox.length - OUTBOX_HEADER_BYTES) throw new WireError('respond.body points outside the outbox');
  const length = (outbox[at] | (outbox[at + 1] << 8) | (outbox[at + 2] << 16) | (outbox[at + 3] << 24)) >>> 0;
  const start = at + OUTBOX_HEADER_BYTES;
  if (length > outbox.length - start) throw new WireError('respond.body runs past the end of the outbox');
  return outbox.subarray(start, start + length);
}

/** A list of integers from the isolate (event ids, or [id, ms] pairs of running async events). */
export function readInts(v: unknown, what: string): number[] {
  if (!Array.isArray(v)) throw new WireError(`${what} is not an array`);
  for (const x of v) if (typeof x !== 'number' || !Number.isInteger(x)) throw new WireError(`${what} holds something other than integers`);
  return v as number[];
}

/** An index the isolate hands back, which must lie in [min, max]. */
export function readIndex(v: unknown, min: number, max: number, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new WireError(`${what} is out of range`);
  return v;
}
