import {
  CommandKind, EventKind, LOG_LEVELS, OUTCOMES, WsOp,
  type Command, type Event, type LogLevel, type Outcome,
} from '@webdat/protocol';
import { requestData } from './http-message.js';

// What crosses into and out of an isolate: two flat arrays of strings, numbers and byte arrays, one
// field after another. isolated-vm copies such an array for about half of what the same fields cost
// as objects (profiled, hello world, in and out: 2.78 → 1.61 µs per event). The layouts below are
// the contract with prelude/dispatcher.ts, which reads and writes them inside the isolate.
//
// Events in (`at[i]` is where event i starts):
//   http                  k, id, method, uri, query, n, ...n header fields, data, clientAddress, serverAddress
//   wsOpen                k, id, client, uri
//   wsText/Binary/Ping/Pong  k, id, client, data
//   wsClose, peerJoin/Leave  k, id, client
//   serverStart/Stop      k, id
// Commands out:
//   respond   c, id, outcome, status, reason, n, ...n header fields, body
//   done      c, id, outcome
//   wsSend    c, client, op, data
//   wsClose   c, client, code, reason
//   broadcast c, op, data
//   log       c, level, msg
//
// The way out is read field by field and checked here, on the worker: the callbacks share their
// isolate with the dispatcher and can replace the built-ins it uses (Array.prototype.push, say), so
// its output is as untrusted as they are. Anything malformed ends that tenant's turn alone; it never
// reaches the I/O thread, whose decoder would take the whole worker for lost.

export function flattenEvents(events: Event[]): { flat: unknown[]; at: number[] } {
  const flat: unknown[] = [];
  const at: number[] = [];
  for (const e of events) {
    at.push(flat.length);
    switch (e.k) {
      case EventKind.http:
        flat.push(e.k, e.id, e.method, e.uri, e.query, e.headers.length);
        for (const h of e.headers) flat.push(h);
        flat.push(requestData(e), e.clientAddress, e.serverAddress);
        break;
      case EventKind.wsOpen: flat.push(e.k, e.id, e.client, e.uri); break;
      case EventKind.wsText: case EventKind.wsBinary: case EventKind.wsPing: case EventKind.wsPong:
        flat.push(e.k, e.id, e.client, e.data);
        break;
      case EventKind.wsClose: case EventKind.peerJoin: case EventKind.peerLeave: flat.push(e.k, e.id, e.client); break;
      default: flat.push(e.k, e.id);
    }
  }
  return { flat, at };
}

/** The isolate's output was not a well-formed command list. */
export class WireError extends Error {}

const outcomes = new Set<unknown>(OUTCOMES);
const levels = new Set<unknown>(LOG_LEVELS);
const wsOps = new Set<unknown>([WsOp.text, WsOp.binary, WsOp.ping]);

/** Reads the isolate's commands into `out`; throws WireError at the first field that is not what its layout says. */
export function readCommands(flat: unknown, out: Command[]): void {
  if (!Array.isArray(flat)) throw new WireError('the command list is not an array');
  const f: unknown[] = flat;
  let i = 0;
  const field = (): unknown => {
    if (i >= f.length) throw new WireError('the command list ends inside a command');
    return f[i++];
  };
  const int = (what: string): number => {
    const v = field();
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new WireError(`${what} is not an integer`);
    return v;
  };
  const text = (what: string): string => {
    const v = field();
    if (typeof v !== 'string') throw new WireError(`${what} is not a string`);
    return v;
  };
  const payload = (what: string): string | Uint8Array => {
    const v = field();
    if (typeof v !== 'string' && !(v instanceof Uint8Array)) throw new WireError(`${what} is neither a string nor bytes`);
    return v;
  };
  const outcome = (): Outcome => {
    const v = field();
    if (!outcomes.has(v)) throw new WireError('an outcome is not one of the known ones');
    return v as Outcome;
  };
  while (i < f.length) {
    const c = field();
    switch (c) {
      case CommandKind.respond: {
        const id = int('a response id');
        const o = outcome();
        const status = field();
        if (typeof status !== 'number') throw new WireError('a status is not a number');
        const reason = text('a status reason');
        const n = int('a header count');
        if (n < 0 || n % 2 !== 0 || n > f.length - i) throw new WireError('a header count is out of range');
        const headers: string[] = new Array(n);
        for (let h = 0; h < n; h++) headers[h] = text('a header field');
        out.push({ c, id, o, status, reason, headers, body: payload('a response body') });
        break;
      }
      case CommandKind.done: out.push({ c, id: int('an event id'), o: outcome() }); break;
      case CommandKind.wsSend: {
        const client = text('a client id');
        const op = field();
        if (!wsOps.has(op)) throw new WireError('a send op is not text, binary or ping');
        out.push({ c, client, op: op as WsOp, data: payload('a message') });
        break;
      }
      case CommandKind.wsClose: out.push({ c, client: text('a client id'), code: int('a close code'), reason: text('a close reason') }); break;
      case CommandKind.broadcast: {
        const op = field();
        if (op !== WsOp.text && op !== WsOp.binary) throw new WireError('a broadcast op is not text or binary');
        out.push({ c, op, data: payload('a broadcast message') });
        break;
      }
      case CommandKind.log: {
        const level = field();
        if (!levels.has(level)) throw new WireError('a log level is not one of the known ones');
        out.push({ c, level: level as LogLevel, msg: text('a log message') });
        break;
      }
      default:
        throw new WireError('a command kind is not one of the known ones');
    }
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
