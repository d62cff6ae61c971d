import type { LogLevel, Outcome, WsOp } from './kinds.js';

// The one description of every event (engine → isolate) and command (isolate → engine): its kind
// number, its fields in order and the type of each. Everything that reads or writes them derives from
// here: the message types (messages.ts), the msgpackr record shapes (shapes.ts), the guards at the
// thread boundary (guards.ts), the flat layout of the isolate wire and the dispatcher's writers
// (isolate-layout.ts) and the worker's reader of it (sandbox isolate-wire.ts). Adding a field is an
// edit of one line here plus the code that fills and uses it. Changing this table changes the wire
// format (PROTOCOL_VERSION).

/**
 * What a field holds. How each type is checked lives in guards.ts (thread boundary) and in the
 * isolate wire's reader; the TypeScript type it stands for is FieldValue below.
 */
export type FieldType =
  | 'int' | 'status' | 'string' | 'bytes' | 'payload' | 'requestBody' | 'responseBody' | 'pairs' | 'strings'
  | 'outcome' | 'wsOp' | 'broadcastOp' | 'level' | 'ringSlot';

export interface FieldValue {
  int: number;
  /** an HTTP status: any number out of the isolate (the worker's response check answers a bad one with a
   *  500), an integer across threads */
  status: number;
  string: string;
  bytes: Uint8Array;
  /** text or bytes, sent as they are */
  payload: string | Uint8Array;
  /** the request body, null without one; inside the isolate it is `request.data` (decoded for textual types) */
  requestBody: Uint8Array | null;
  /**
   * text or bytes, like a payload; on the isolate wire it may also be the position of bytes the isolate
   * wrote into its outbox (sandbox worker/outbox.ts), which the worker reads there instead
   */
  responseBody: string | Uint8Array;
  /** flat [name, value, name, value, ...] */
  pairs: string[];
  strings: string[];
  outcome: Outcome;
  wsOp: WsOp;
  broadcastOp: typeof WsOp.text | typeof WsOp.binary;
  level: LogLevel;
  /**
   * [memory, position, length] of a body in shared memory: memory 0 is the worker's body ring, n > 0
   * the outbox numbered n (body-ring.ts). Set by the worker, never by the isolate.
   */
  ringSlot: number[];
}

/** Types a message may lack; they come last in a record, so a record has one shape with and one without. */
export const OPTIONAL_TYPES: readonly FieldType[] = ['ringSlot'];
/** Types that never cross the isolate wire (the worker adds them). */
export const HOST_ONLY_TYPES: readonly FieldType[] = ['ringSlot'];
/** Types of variable length on the isolate wire: a count, then the items. At most one per message, written last. */
export const LIST_TYPES: readonly FieldType[] = ['pairs', 'strings'];

export type Field = readonly [name: string, type: FieldType];

/** Every event carries its `k` and `id` before these fields; `callback` is the callbacks' export it calls. */
export const EVENTS = {
  http: {
    k: 1, callback: 'onHTTPRequest',
    fields: [['method', 'string'], ['uri', 'string'], ['query', 'string'], ['headers', 'pairs'], ['body', 'requestBody'],
      ['clientAddress', 'string'], ['serverAddress', 'string']],
  },
  wsOpen: { k: 2, callback: 'onWebSocketOpen', fields: [['client', 'string'], ['uri', 'string']] },
  wsText: { k: 3, callback: 'onWebSocketReceiveText', fields: [['client', 'string'], ['data', 'string']] },
  wsBinary: { k: 4, callback: 'onWebSocketReceiveBinary', fields: [['client', 'string'], ['data', 'bytes']] },
  wsPing: { k: 5, callback: 'onWebSocketReceivePing', fields: [['client', 'string'], ['data', 'bytes']] },
  wsPong: { k: 6, callback: 'onWebSocketReceivePong', fields: [['client', 'string'], ['data', 'bytes']] },
  wsClose: { k: 7, callback: 'onWebSocketClose', fields: [['client', 'string']] },
  /** `port`: where the server listens now (`--port 0` picks one at each start) */
  serverStart: { k: 8, callback: 'onServerStart', fields: [['port', 'int']] },
  serverStop: { k: 9, callback: 'onServerStop', fields: [] },
  /** a client of the same server connected to another engine process (SPEC §12): listed, no callback */
  peerJoin: { k: 10, callback: null, fields: [['client', 'string']] },
  peerLeave: { k: 11, callback: null, fields: [['client', 'string']] },
} as const satisfies Record<string, { k: number; callback: string | null; fields: readonly Field[] }>;

/** Every command carries its `c` before these fields. */
export const COMMANDS = {
  /** the answer to an HTTP event */
  respond: {
    c: 1,
    fields: [['id', 'int'], ['o', 'outcome'], ['status', 'status'], ['reason', 'string'], ['headers', 'pairs'],
      ['body', 'responseBody'], ['rb', 'ringSlot']],
  },
  /**
   * An event or invocation ended. A negative id is an invocation the engine did not submit (a timer
   * callback): the engine answers nothing and only counts its outcome among the server's errors.
   */
  done: { c: 2, fields: [['id', 'int'], ['o', 'outcome']] },
  wsSend: { c: 3, fields: [['client', 'string'], ['op', 'wsOp'], ['data', 'payload']] },
  wsClose: { c: 4, fields: [['client', 'string'], ['code', 'int'], ['reason', 'string']] },
  broadcast: { c: 5, fields: [['op', 'broadcastOp'], ['data', 'payload']] },
  log: { c: 6, fields: [['level', 'level'], ['msg', 'string']] },
} as const satisfies Record<string, { c: number; fields: readonly Field[] }>;

export type EventName = keyof typeof EVENTS;
export type CommandName = keyof typeof COMMANDS;

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type OptionalType = 'ringSlot';
type HostOnlyType = 'ringSlot';

/** The object a field list describes: required fields, then the optional ones. */
export type RecordOf<F extends readonly Field[]> = Simplify<
  { -readonly [E in F[number] as E[1] extends OptionalType ? never : E[0]]: FieldValue[E[1]] }
  & { -readonly [E in F[number] as E[1] extends OptionalType ? E[0] : never]?: FieldValue[E[1]] }>;

export type EventOf<N extends EventName> = N extends EventName
  ? Simplify<{ k: (typeof EVENTS)[N]['k']; id: number } & RecordOf<(typeof EVENTS)[N]['fields']>> : never;
export type CommandOf<N extends CommandName> = N extends CommandName
  ? Simplify<{ c: (typeof COMMANDS)[N]['c'] } & RecordOf<(typeof COMMANDS)[N]['fields']>> : never;

/** A field's value on the isolate wire: a response body may also be a position in the isolate's outbox. */
type IsolateValue = Omit<FieldValue, 'responseBody'> & { responseBody: FieldValue['responseBody'] | number };

/** The values a command's writer inside the isolate takes, in table order (host-only fields left out). */
export type WriterArgs<F extends readonly Field[]> = F extends readonly [infer H extends Field, ...infer R extends readonly Field[]]
  ? H[1] extends HostOnlyType ? WriterArgs<R> : [IsolateValue[H[1]], ...WriterArgs<R>]
  : [];

export type EventKinds = { readonly [N in EventName]: (typeof EVENTS)[N]['k'] };
export type CommandKinds = { readonly [N in CommandName]: (typeof COMMANDS)[N]['c'] };

function kindsOf<T extends Record<string, { readonly [tag: string]: unknown }>>(table: T, tag: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, entry] of Object.entries(table)) out[name] = entry[tag] as number;
  return Object.freeze(out);
}

/** Events travel engine → worker. Small integers keep the msgpack records compact. */
export const EventKind = kindsOf(EVENTS, 'k') as EventKinds;
export type EventKind = EventKinds[EventName];

/** Commands travel worker → engine, in the order the callbacks produced them. */
export const CommandKind = kindsOf(COMMANDS, 'c') as CommandKinds;
export type CommandKind = CommandKinds[CommandName];

/** A message's fields by kind number, for the code that walks them. */
export interface Layout {
  name: string;
  fields: readonly Field[];
}
function byKind(table: Record<string, { fields: readonly Field[] }>, tag: 'k' | 'c'): ReadonlyMap<number, Layout> {
  const out = new Map<number, Layout>();
  for (const [name, entry] of Object.entries(table)) {
    const kind = (entry as unknown as Record<string, number>)[tag];
    if (out.has(kind)) throw new Error(`wire table: ${name} reuses kind ${kind}`);
    const lists = entry.fields.filter(([, t]) => LIST_TYPES.includes(t) && !HOST_ONLY_TYPES.includes(t));
    if (lists.length > 1) throw new Error(`wire table: ${name} has more than one list field`);
    const firstOptional = entry.fields.findIndex(([, t]) => OPTIONAL_TYPES.includes(t));
    if (firstOptional >= 0 && entry.fields.slice(firstOptional).some(([, t]) => !OPTIONAL_TYPES.includes(t))) {
      throw new Error(`wire table: ${name} has a required field after an optional one`);
    }
    out.set(kind, { name, fields: entry.fields });
  }
  return out;
}
export const EVENT_LAYOUTS = byKind(EVENTS, 'k');
export const COMMAND_LAYOUTS = byKind(COMMANDS, 'c');
