import {
  COMMAND_LAYOUTS, COMMAND_LEAD, EVENT_LAYOUTS, EVENT_LEAD, LOG_LEVELS, OUTCOMES, WsOp, isolateOrder,
  type Command, type Event, type FieldType,
} from '@webdat/protocol';
import { requestData } from './http-message.js';

// The worker's half of the isolate wire (layout: protocol/src/isolate-layout.ts, derived from the
// wire table): events are flattened into the isolate, commands read out of it.
//
// The way out is read field by field and checked here, on the worker: the callbacks share their
// isolate with the dispatcher and can replace the built-ins it uses (Array.prototype.push, say), so
// its output is as untrusted as they are. Anything malformed ends that tenant's turn alone; it never
// reaches the I/O thread, whose decoder would take the whole worker for lost.

const outcomes = new Set<unknown>(OUTCOMES);
const levels = new Set<unknown>(LOG_LEVELS);
const wsOps = new Set<unknown>([WsOp.text, WsOp.binary, WsOp.ping]);
const isInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v);

/** One check per field type the isolate writes: what was wrong, or null when the value fits. */
const FIELD_CHECKS: { readonly [T in FieldType]?: (v: unknown) => string | null } = {
  int: (v) => isInt(v) ? null : 'is not an integer',
  status: (v) => typeof v === 'number' ? null : 'is not a number',
  string: (v) => typeof v === 'string' ? null : 'is not a string',
  bytes: (v) => v instanceof Uint8Array ? null : 'is not bytes',
  payload: (v) => typeof v === 'string' || v instanceof Uint8Array ? null : 'is neither a string nor bytes',
  outcome: (v) => outcomes.has(v) ? null : 'is not one of the known outcomes',
  wsOp: (v) => wsOps.has(v) ? null : 'is not text, binary or ping',
  broadcastOp: (v) => v === WsOp.text || v === WsOp.binary ? null : 'is not text or binary',
  level: (v) => levels.has(v) ? null : 'is not one of the known log levels',
};
const NO_CHECK = (): null => null;

/** A message's fields in table order (host-only ones left out), as parallel arrays for the hot loops. */
interface Plan {
  kind: string;
  names: string[];
  types: FieldType[];
  /** offset from the kind; for the list field, where its count is */
  at: number[];
  checks: Array<(v: unknown) => string | null>;
  /** index of the list field in `names`, or -1 */
  list: number;
  /** a list of name/value pairs: its count must be even */
  pairs: boolean;
  /** slots before the list: the kind (and id) and the fixed fields */
  size: number;
  /** the fixed fields' indexes in wire order */
  fixed: number[];
}

function plans(layouts: typeof EVENT_LAYOUTS, lead: number, reading: boolean): Plan[] {
  const out: Plan[] = [];
  for (const [k, { name: kind, fields }] of layouts) {
    const order = isolateOrder(fields, lead);
    const plan: Plan = { kind, names: [], types: [], at: [], checks: [], list: -1, pairs: false, size: order.listAt, fixed: [] };
    for (const [name, type] of fields) {
      const fixed = order.fixed.find(([n]) => n === name);
      const isList = order.list !== null && order.list[0] === name;
      if (fixed === undefined && !isList) continue;
      const check = FIELD_CHECKS[type];
      // Every field the isolate writes is checked: a table entry this reader cannot check fails at load.
      if (reading && !isList && check === undefined) throw new Error(`the isolate wire cannot read a ${type} field`);
      if (isList) { plan.list = plan.names.length; plan.pairs = type === 'pairs'; }
      plan.names.push(name);
      plan.types.push(type);
      plan.at.push(isList ? order.listAt : fixed![2]);
      plan.checks.push(check ?? NO_CHECK);
    }
    plan.fixed = order.fixed.map(([n]) => plan.names.indexOf(n));
    out[k] = plan;
  }
  return out;
}
const EVENT_PLANS = plans(EVENT_LAYOUTS, EVENT_LEAD, false);
const COMMAND_PLANS = plans(COMMAND_LAYOUTS, COMMAND_LEAD, true);

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/**
 * The event writer, compiled from the table when the module loads: a switch with one push of every
 * event kind's fields. Reading fields by name from the table at run time cost twice as much per event
 * (profiled: ~100 → ~200 ns per hello-world event); compiled, it is the code one would write by hand.
 */
function compileFlatten(): (events: Event[], flat: unknown[], at: number[], data: typeof requestData) => void {
  const cases: string[] = [];
  for (const [k, plan] of EVENT_PLANS.entries()) {
    if (plan === undefined) continue;
    for (const name of plan.names) if (!IDENTIFIER.test(name)) throw new Error(`wire table: ${JSON.stringify(name)} is not a field name`);
    const fixed = plan.fixed.map((f) => plan.types[f] === 'requestBody' ? 'data(e)' : `e.${plan.names[f]}`);
    let code = `case ${k}: flat.push(${k}, e.id${fixed.map((f) => `, ${f}`).join('')});`;
    if (plan.list >= 0) {
      code += ` { const l = e.${plan.names[plan.list]}; flat.push(l.length); for (let j = 0; j < l.length; j++) flat.push(l[j]); }`;
    }
    cases.push(`${code} break;`);
  }
  const body = `for (let i = 0; i < events.length; i++) {
  const e = events[i];
  at.push(flat.length);
  switch (e.k) {
${cases.join('\n')}
  default: throw new Error('an event of unknown kind ' + e.k);
  }
}`;
  return new Function('events', 'flat', 'at', 'data', body) as ReturnType<typeof compileFlatten>;
}
const flatten = compileFlatten();

export function flattenEvents(events: Event[]): { flat: unknown[]; at: number[] } {
  const flat: unknown[] = [];
  const at: number[] = [];
  flatten(events, flat, at, requestData);
  return { flat, at };
}

/** The isolate's output was not a well-formed command list. */
export class WireError extends Error {}

/** Reads the isolate's commands into `out`; throws WireError at the first field that is not what its layout says. */
export function readCommands(flat: unknown, out: Command[]): void {
  if (!Array.isArray(flat)) throw new WireError('the command list is not an array');
  const f: unknown[] = flat;
  let i = 0;
  while (i < f.length) {
    const c = f[i];
    const plan = isInt(c) ? COMMAND_PLANS[c as number] : undefined;
    if (plan === undefined) throw new WireError('a command kind is not one of the known ones');
    if (i + plan.size > f.length - (plan.list >= 0 ? 1 : 0)) throw new WireError(`the command list ends inside a ${plan.kind}`);
    // Keys are set in table order: the shape the I/O thread's codec knows (protocol shapes.ts).
    const cmd: Record<string, unknown> = { c };
    let end = i + plan.size;
    const names = plan.names;
    for (let j = 0; j < names.length; j++) {
      const v = f[i + plan.at[j]];
      if (j === plan.list) {
        const n = v as number;
        if (!isInt(v) || n < 0 || (plan.pairs && n % 2 !== 0) || n > f.length - end - 1) throw new WireError(`${plan.kind}.${names[j]}: the count is out of range`);
        const items: string[] = new Array(n);
        for (let h = 0; h < n; h++) {
          const item = f[end + 1 + h];
          if (typeof item !== 'string') throw new WireError(`${plan.kind}.${names[j]}: an item is not a string`);
          items[h] = item;
        }
        cmd[names[j]] = items;
        end += 1 + n;
        continue;
      }
      const wrong = plan.checks[j](v);
      if (wrong !== null) throw new WireError(`${plan.kind}.${names[j]} ${wrong}`);
      cmd[names[j]] = v;
    }
    out.push(cmd as Command);
    i = end;
  }
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
