import { WsOp } from './kinds.js';
import {
  COMMANDS, EVENTS, HOST_ONLY_TYPES, LIST_TYPES,
  type CommandName, type EventName, type Field, type WriterArgs,
} from './wire-table.js';

// The isolate wire, derived from the wire table. Events go into an isolate and commands come out of
// it as two flat arrays of strings, numbers and byte arrays, one field after another: isolated-vm
// copies such an array for about half of what the same fields cost as objects (profiled, hello
// world, in and out: 2.78 → 1.61 µs per event). A message is laid out as its kind, then its fixed
// fields in table order, then its one list field (a count, then the items), so every fixed field sits
// at a constant offset from the kind. Events also carry their id right after the kind:
//   http      k, id, method, uri, query, data, clientAddress, serverAddress, n, ...n header fields
//   respond   c, id, o, status, reason, body, n, ...n header fields
// and so on for every entry of the table. The dispatcher (sandbox prelude) reads events at the
// offsets in ISOLATE_KINDS and writes commands with the writers compiled from isolateWritersSource();
// the worker writes events and reads commands in sandbox/src/worker/isolate-wire.ts.

export interface IsolateOrder {
  /** fields at constant offsets, in table order, with their offset from the kind */
  fixed: ReadonlyArray<readonly [name: string, type: Field[1], at: number]>;
  /** the variable-length field (its count sits at `listAt`), or null */
  list: Field | null;
  listAt: number;
}

/** `lead`: slots before the first field (the kind, and for events the id). */
export function isolateOrder(fields: readonly Field[], lead: number): IsolateOrder {
  const wired = fields.filter(([, t]) => !HOST_ONLY_TYPES.includes(t));
  const list = wired.find(([, t]) => LIST_TYPES.includes(t)) ?? null;
  const fixed = wired.filter((f) => f !== list).map(([name, type], i) => [name, type, lead + i] as const);
  return { fixed, list, listAt: lead + fixed.length };
}

export const EVENT_LEAD = 2;
export const COMMAND_LEAD = 1;

type EventAt<N extends EventName> = { readonly [E in (typeof EVENTS)[N]['fields'][number] as E[0]]: number } & { readonly id: number };

/** What the dispatcher needs of the table; copied into every isolate. */
export interface IsolateKinds {
  event: { readonly [N in EventName]: { k: (typeof EVENTS)[N]['k']; callback: (typeof EVENTS)[N]['callback']; at: EventAt<N> } };
  command: { readonly [N in CommandName]: (typeof COMMANDS)[N]['c'] };
  ws: typeof WsOp;
}

function eventKinds(): IsolateKinds['event'] {
  const out: Record<string, unknown> = {};
  for (const [name, e] of Object.entries(EVENTS)) {
    const order = isolateOrder(e.fields, EVENT_LEAD);
    const at: Record<string, number> = { id: 1 };
    for (const [field, , offset] of order.fixed) at[field] = offset;
    if (order.list !== null) at[order.list[0]] = order.listAt;
    out[name] = { k: e.k, callback: e.callback, at };
  }
  return out as unknown as IsolateKinds['event'];
}

export const ISOLATE_KINDS: IsolateKinds = {
  event: eventKinds(),
  command: Object.fromEntries(Object.entries(COMMANDS).map(([name, c]) => [name, c.c])) as IsolateKinds['command'],
  ws: WsOp,
};

/** One function per command, `(list, ...fields in table order)`, appending the command to the list. */
export type IsolateWriters = { readonly [N in CommandName]: (list: unknown[], ...args: WriterArgs<(typeof COMMANDS)[N]['fields']>) => void };

/**
 * Source text of an object of IsolateWriters, compiled inside the isolate as part of the prelude.
 * They assign by index only (no push, no spread, no iterator): callbacks share the realm and may
 * have replaced any built-in, and the lists written to have no prototype.
 */
export function isolateWritersSource(): string {
  const writers: string[] = [];
  for (const [name, cmd] of Object.entries(COMMANDS)) {
    const wired = cmd.fields.filter(([, t]) => !HOST_ONLY_TYPES.includes(t));
    const params = wired.map((_f, i) => `a${i}`);
    const order = isolateOrder(cmd.fields, COMMAND_LEAD);
    const param = (field: string) => params[wired.findIndex(([n]) => n === field)];
    const body = [`var n = o.length;`, `o[n] = ${cmd.c};`];
    for (const [field, , at] of order.fixed) body.push(`o[n + ${at}] = ${param(field)};`);
    if (order.list !== null) {
      const l = param(order.list[0]);
      body.push(`var m = ${l}.length;`, `o[n + ${order.listAt}] = m;`,
        `for (var i = 0; i < m; i++) o[n + ${order.listAt + 1} + i] = ${l}[i];`);
    }
    writers.push(`${name}: function (o, ${params.join(', ')}) { ${body.join(' ')} }`);
  }
  return `{\n${writers.join(',\n')}\n}`;
}
