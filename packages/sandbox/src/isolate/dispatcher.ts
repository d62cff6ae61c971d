// Runs inside the isolate. Turns a batch of events into callback calls and collects everything the
// callbacks produce (responses, WebSocket commands, log lines) into one ordered array of commands.
// Events arrive and commands leave as flat arrays laid out as protocol's isolate-layout.ts derives
// them from the wire table: events are read at the offsets in `kinds`, commands written with `write`.
// The host reads the commands once per call; nothing here ever holds a host object.

import type { createOutputBudget } from './output-budget.js';
import type { createLogAllowance } from './log-allowance.js';
import type { HostOps } from './host-ops.js';
import type { Timers } from './timers.js';
import type { IsolateKinds, IsolateWriters, LogLevel, WsOp } from '@webdat/protocol';
interface Meta { name: string; port: number; secure: boolean; node: string; maxOutputBytes: number; maxHeaders: number; logLinesPerSecond: number; logBytesPerSecond: number }
type OutputBudget = ReturnType<typeof createOutputBudget>;
type LogAllowance = ReturnType<typeof createLogAllowance>;

import type { Intrinsics } from './intrinsics.js';

/**
 * Everything below runs while callbacks may have rewritten any built-in, so it calls only what `I`
 * captured before user code ran, and never spreads, destructures or iterates with for-of (each goes
 * through Symbol.iterator). Lists it builds have no prototype, so no setter a callback puts on
 * Array.prototype or Object.prototype runs when they grow, and the host copies them without running
 * user code. Whatever reads a callback's values (its response, what it threw) runs inside a call
 * bounded by the time limit.
 */
export function createDispatcher(g: any, I: Intrinsics, kinds: IsolateKinds, write: IsolateWriters, meta: Meta, ops: HostOps, timers: Timers, storage: object, budget: OutputBudget, admitLog: LogAllowance) {
  const E = kinds.event, W = kinds.ws;
  const E_HTTP = E.http.k, E_WS_OPEN = E.wsOpen.k, E_WS_CLOSE = E.wsClose.k, E_START = E.serverStart.k, E_STOP = E.serverStop.k;
  const E_PEER_JOIN = E.peerJoin.k, E_PEER_LEAVE = E.peerLeave.k;
  const W_TEXT = W.text, W_BINARY = W.binary, W_PING = W.ping;
  const H = E.http.at;
  const H_METHOD = H.method, H_URI = H.uri, H_QUERY = H.query, H_DATA = H.body, H_HEADERS = H.headers;
  const H_CLIENT_ADDRESS = H.clientAddress, H_SERVER_ADDRESS = H.serverAddress;
  const MAX_LOG_CHARS = 16384;
  const MAX_LOGS_PER_CALL = 1000;
  /** By event kind: the callback it calls and where its fields are (offsets from the kind). */
  const CALLBACKS: string[] = list();
  const CALLBACK_OF: Record<number, string> = I.objectCreate(null);
  const AT: Record<number, Record<string, number>> = I.objectCreate(null);
  const eventNames = I.objectKeys(E) as Array<keyof typeof E>;
  for (let i = 0; i < eventNames.length; i++) {
    const e = E[eventNames[i]];
    AT[e.k] = e.at;
    if (e.callback !== null) { CALLBACKS[CALLBACKS.length] = e.callback; CALLBACK_OF[e.k] = e.callback; }
  }
  const NOT_FOUND_HEADERS: string[] = list();
  NOT_FOUND_HEADERS[0] = 'content-type';
  NOT_FOUND_HEADERS[1] = 'text/plain; charset=utf-8';

  const encoder = new g.TextEncoder();
  const atob: (s: string) => string = g.atob;
  const BASIC_AUTH = /^\s*basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i;
  const encode: (s: string) => Uint8Array = g.TextEncoder.prototype.encode;
  const cb: Record<string, Function> = I.objectCreate(null);
  const clients: Set<string> = new I.Set();
  /** async events still running: id → start time */
  const pending: Map<number, number> = new I.Map();
  const canonicalCache: Map<string, string> = new I.Map();
  let out: unknown[] = list();
  let info: Record<string, number> = {};
  let primary = false;
  /** where the server listens: the spec's port until a start says where it listens now */
  let port = meta.port;
  let cursor = -1;
  let logs = 0;
  let droppedLogs = 0;
  /** The last reply of dispatch/collect/recover, kept until the next call: a call the isolate ends
   *  with an error after it returned (an unhandled rejection, a microtask loop cut by the time limit)
   *  loses its reply on the way out, and the host asks for it again. */
  let last: unknown = null;
  /** What a `recover` cut before it returned had taken from the state above, for the host's second
   *  call: [lost reply, cursor, ids given up (null until chosen), commands (null until taken)]. */
  let recovering: unknown[] | null = null;

  function list(): any[] {
    return I.setPrototypeOf([], null);
  }
  /** An error's stack when it has one. `instanceof` would run a Symbol.hasInstance a callback put on Error. */
  function stackOf(v: unknown): string | undefined {
    if (v === null || typeof v !== 'object') return undefined;
    const stack = (v as { stack?: unknown }).stack;
    return typeof stack === 'string' ? stack : undefined;
  }

  function inspect(v: unknown, depth: number): string {
    if (typeof v === 'string') return depth === 0 ? v : I.jsonStringify(v);
    if (typeof v === 'function') return `[Function ${I.String(v.name || 'anonymous')}]`;
    if (typeof v !== 'object' || v === null) return I.String(v);
    const stack = stackOf(v);
    if (stack !== undefined) return stack;
    if (I.typedArrayTag(v) === 'Uint8Array') return `Uint8Array(${I.typedArrayByteLength(v)})`;
    try { return I.String(I.jsonStringify(v) ?? I.String(v)); } catch { return I.objectToString(v); }
  }

  function log(level: LogLevel, args: unknown[]): void {
    if (logs >= MAX_LOGS_PER_CALL) { droppedLogs++; return; }
    let msg = '';
    for (let i = 0; i < args.length; i++) msg += (i ? ' ' : '') + inspect(args[i], 0);
    if (msg.length > MAX_LOG_CHARS) msg = I.stringSlice(msg, 0, MAX_LOG_CHARS) + '…';
    if (!admitLog(msg.length)) { droppedLogs++; return; }
    logs++;
    write.log(out, level, msg);
  }

  const console = I.objectFreeze({
    log: (...a: unknown[]) => log('log', a),
    info: (...a: unknown[]) => log('info', a),
    warn: (...a: unknown[]) => log('warn', a),
    error: (...a: unknown[]) => log('error', a),
    debug: (...a: unknown[]) => log('log', a),
  });

  function isArrayBuffer(v: unknown): boolean {
    try { I.arrayBufferByteLength(v); return true; } catch { return false; }
  }

  /** A fresh Uint8Array copy of `v`; always a real one, whatever the callbacks did to the classes. */
  function bytes(v: unknown, what: string): Uint8Array {
    if (typeof v === 'string') {
      const b = I.apply(encode, encoder, [v]);
      if (I.typedArrayTag(b) !== 'Uint8Array') throw new I.TypeError('TextEncoder no longer returns a Uint8Array');
      return b;
    }
    if (I.isView(v)) {
      const typed = I.typedArrayTag(v) !== undefined;
      const buffer = typed ? I.typedArrayBuffer(v) : I.dataViewBuffer(v);
      const offset = typed ? I.typedArrayByteOffset(v) : I.dataViewByteOffset(v);
      const length = typed ? I.typedArrayByteLength(v) : I.dataViewByteLength(v);
      return new I.Uint8Array(I.arrayBufferSlice(buffer, offset, offset + length));
    }
    if (isArrayBuffer(v)) return new I.Uint8Array(I.arrayBufferSlice(v, 0));
    throw new I.TypeError(`${what} must be a Uint8Array, an ArrayBuffer or a string`);
  }
  function optionalBytes(v: unknown, what: string): Uint8Array {
    return v === undefined || v === null ? new I.Uint8Array(0) : bytes(v, what);
  }

  function send(client: unknown, op: WsOp, data: string | Uint8Array): boolean {
    if (typeof client !== 'string' || !I.setHas(clients, client)) return false;
    const over = budget.charge(data, 1);
    if (over !== 0) overBudget(over === 1);
    write.wsSend(out, client, op, data);
    return true;
  }

  function broadcast(op: typeof W_TEXT | typeof W_BINARY, data: string | Uint8Array): boolean {
    const n = info.websocket_connections;
    const over = budget.charge(data, typeof n === 'number' ? n : 1);
    if (over !== 0) overBudget(over === 1);
    write.broadcast(out, op, data);
    return true;
  }

  /**
   * The invocation sent more than limits.maxOutputBytes: it ends now with outcome `output` (503 for
   * HTTP), whatever it does next. A try/catch around the send cannot undo that: its later sends throw
   * too and whatever it returns is ignored. Output of promise continuations cannot be told apart, so
   * there every async event still running ends, as when a time limit cuts them.
   */
  function overBudget(first: boolean): never {
    const id = budget.current;
    const open = I.mapSize(pending);
    if (first && id !== -1) {
      write.log(out, 'error', `stopped: the callback sent more than limits.maxOutputBytes (${meta.maxOutputBytes} bytes; a broadcast counts once per recipient)`);
      write.done(out, id, 'output');
    } else if (first && open > 0) {
      write.log(out, 'error', `stopped ${open} async callbacks: their continuations sent more than limits.maxOutputBytes (${meta.maxOutputBytes} bytes)`);
      I.mapForEach(pending, (_s: number, pid: number) => { write.done(out, pid, 'output'); });
      I.mapClear(pending);
    }
    throw new I.RangeError(`output budget exceeded (limits.maxOutputBytes = ${meta.maxOutputBytes})`);
  }

  function safeEqual(a: Uint8Array, b: Uint8Array): boolean {
    // Every byte of the longer input is visited whatever matches, so timing does not leak a prefix.
    const la = I.typedArrayByteLength(a), lb = I.typedArrayByteLength(b);
    const n = la > lb ? la : lb;
    let diff = la ^ lb;
    for (let i = 0; i < n; i++) diff |= (i < la ? a[i] : 0) ^ (i < lb ? b[i] : 0);
    return diff === 0;
  }

  function authenticateBasic(request: any, username: unknown, password: unknown): boolean {
    try {
      const h = request && request.headers && request.headers.authorization;
      if (typeof h !== 'string') return false;
      const m = I.regExpExec(BASIC_AUTH, h);
      if (m === null) return false;
      const decoded: string = atob(m[1]);
      const got = new I.Uint8Array(decoded.length);
      for (let i = 0; i < decoded.length; i++) got[i] = I.charCodeAt(decoded, i);
      return safeEqual(got, bytes(`${I.String(username)}:${I.String(password)}`, 'credentials'));
    } catch {
      return false;
    }
  }

  function connections(): string[] {
    const a: string[] = [];
    I.setForEach(clients, (c: string) => { a[a.length] = c; });
    return a;
  }

  const webServer = I.objectFreeze(Object.defineProperties({}, {
    name: { value: meta.name, enumerable: true },
    port: { get: () => port, enumerable: true },
    secure: { value: meta.secure, enumerable: true },
    node: { value: meta.node, enumerable: true },
    primary: { get: () => primary, enumerable: true },
    info: { get: () => { const o = { ...info }; delete o.primary; delete o.isolates; return o; }, enumerable: true },
    webSocketConnections: { get: connections, enumerable: true },
    webSocketSendText: { value: (client: unknown, text: unknown) => send(client, W_TEXT, I.String(text)) },
    webSocketSendBinary: { value: (client: unknown, data: unknown) => send(client, W_BINARY, bytes(data, 'data')) },
    webSocketSendPing: { value: (client: unknown, data?: unknown) => send(client, W_PING, optionalBytes(data, 'data')) },
    // uWS v20.30 can send pings but no unsolicited pong (it answers pings by itself): nothing is sent.
    webSocketSendPong: { value: (_client: unknown, _data?: unknown) => false },
    webSocketClose: {
      value: (client: unknown, code?: unknown, reason?: unknown) => {
        if (typeof client !== 'string' || !I.setHas(clients, client)) return false;
        const c = code === undefined ? 1000 : I.Number(code);
        if (!(c === 1000 || (c >= 3000 && c <= 4999)) || !I.isInteger(c)) {
          throw new I.RangeError('close code must be 1000 or an integer from 3000 to 4999');
        }
        write.wsClose(out, client, c, reason === undefined ? '' : I.stringSlice(I.String(reason), 0, 123));
        return true;
      },
    },
    webSocketBroadcastText: { value: (text: unknown) => broadcast(W_TEXT, I.String(text)) },
    webSocketBroadcastBinary: { value: (data: unknown) => broadcast(W_BINARY, bytes(data, 'data')) },
    authenticateBasic: { value: authenticateBasic },
    storage: { value: storage, enumerable: true },
  }));

  function canonical(name: string): string {
    let c: string | undefined = I.mapGet(canonicalCache, name);
    if (c === undefined) {
      c = '';
      let start = true;
      for (let i = 0; i < name.length; i++) {
        const code = I.charCodeAt(name, i);
        c += start && code >= 97 && code <= 122 ? I.fromCharCode(code - 32) : name[i];
        start = code === 45;
      }
      if (I.mapSize(canonicalCache) < 512) I.mapSet(canonicalCache, name, c);
    }
    return c;
  }

  // Objects handed to callbacks are object literals, whose properties are defined, not assigned, and
  // those with names from the request are added with `put`: setters or frozen properties a callback
  // put on Object.prototype cannot interfere either way. (Filling an object without a prototype and
  // giving it Object.prototype after cost ~1.5 µs more per request: such objects are dictionaries,
  // and changing their prototype is slow.)
  const DATA: PropertyDescriptor = I.objectCreate(null);
  DATA.writable = true;
  DATA.enumerable = true;
  DATA.configurable = true;
  function put(o: object, key: string, value: unknown): void {
    DATA.value = value;
    I.objectDefineProperty(o, key, DATA);
    DATA.value = undefined;
  }

  function parsePars(query: string): Record<string, string> {
    const pars: Record<string, string> = {};
    if (query === '') return pars;
    let from = 0;
    while (from < query.length) {
      let amp = I.indexOf(query, '&', from);
      if (amp < 0) amp = query.length;
      const part: string = I.stringSlice(query, from, amp);
      from = amp + 1;
      if (part === '') continue;
      const eq: number = I.indexOf(part, '=');
      const k = decode(eq < 0 ? part : I.stringSlice(part, 0, eq));
      // First value wins for repeated keys (URLSearchParams.get semantics); __proto__ cannot be set.
      if (k === '__proto__' || I.hasOwn(pars, k)) continue;
      put(pars, k, eq < 0 ? '' : decode(I.stringSlice(part, eq + 1)));
    }
    return pars;
  }
  function decode(s: string): string {
    let t = s;
    if (I.indexOf(s, '+') >= 0) {
      t = '';
      for (let i = 0; i < s.length; i++) t += s[i] === '+' ? ' ' : s[i];
    }
    try { return I.decodeURIComponent(t); } catch { return t; }
  }

  /** An HTTP event at f[p]; its header fields are the last, after their count. */
  function makeRequest(f: any[], p: number): any {
    const headers: Record<string, string> = {};
    const first = p + H_HEADERS + 1;
    const n: number = f[first - 1];
    for (let j = first; j < first + n; j += 2) {
      const name = f[j];
      if (name === '__proto__') continue;
      put(headers, name, I.hasOwn(headers, name) ? headers[name] + ', ' + f[j + 1] : f[j + 1]);
    }
    const req: any = {
      method: f[p + H_METHOD], uri: f[p + H_URI], pars: parsePars(f[p + H_QUERY]), clientAddress: f[p + H_CLIENT_ADDRESS],
      serverAddress: f[p + H_SERVER_ADDRESS], headers, data: f[p + H_DATA],
    };
    const names = I.objectKeys(headers);
    for (let i = 0; i < names.length; i++) put(req, canonical(names[i]), headers[names[i]]);
    return req;
  }

  // One field past limits.maxHeaders is enough for the worker to refuse the response; collecting the
  // rest would only copy them out of the isolate.
  const headerCap = 2 * meta.maxHeaders;
  function pushHeader(list: string[], name: string, value: unknown): void {
    if (value === undefined || value === null || list.length > headerCap) return;
    if (I.isArray(value)) {
      const n = (value as unknown[]).length;
      for (let i = 0; i < n; i++) {
        if (list.length > headerCap) return;
        list[list.length] = name;
        list[list.length] = I.String((value as unknown[])[i]);
      }
      return;
    }
    list[list.length] = name;
    list[list.length] = I.String(value);
  }

  function body(data: unknown): string | Uint8Array | number {
    if (data === undefined || data === null) return '';
    if (typeof data === 'string') return data;
    if (typeof data === 'number' || typeof data === 'boolean' || typeof data === 'bigint') return I.String(data);
    if (outbox !== null && outboxOpen) {
      const at = toOutbox(data);
      if (at >= 0) return at;
    }
    return bytes(data, 'response.data');
  }

  // The outbox (sandbox worker/outbox.ts): a ring in shared memory the host gave this isolate once it
  // sent a large body. Bodies of `outboxMin` bytes or more are written there as [length: u32 LE][bytes]
  // after the last one, and the response carries their position; the host's I/O thread frees them
  // (`outboxFreed`) once written to their sockets. Only calls of the host's tasks write there
  // (`outboxOpen`): a body of a timer or a settled operation is copied by the host anyway.
  let outbox: Uint8Array | null = null;
  let outboxFreed: Int32Array | null = null;
  let outboxMin = 0;
  let outboxAt = 0;
  let outboxOpen = false;
  /**
   * Where `n` bytes that begin at `offset` of their buffer may be written, their length in the 4 bytes
   * before them, or -1 when there is no room. Free is [outboxAt, size) and [0, freed) while freed <=
   * outboxAt (the bytes in use do not wrap), [outboxAt, freed) otherwise; a body never ends on
   * `freed`, which would read as an empty ring. A stale `freed` only makes the room look smaller.
   */
  function outboxRoom(size: number, offset: number, n: number): number {
    const freed = I.atomicsLoad(outboxFreed as Int32Array, 0);
    let start = bodyStart(outboxAt, offset);
    if (freed <= outboxAt) {
      if (start + n <= size) return start;
      start = bodyStart(0, offset);
    }
    return start + n < freed && start + n <= size ? start : -1;
  }
  /** Past a length header at `at`, where the body sits at its source's place modulo 8, so V8 copies it word by word (protocol body-ring.ts, sameAlignment). */
  function bodyStart(at: number, offset: number): number {
    return at + 4 + ((offset - at - 4) & 7);
  }
  /** The position `data`'s bytes were written at, or -1 when they go the ordinary way (small, no room, not bytes). */
  function toOutbox(data: unknown): number {
    let source: Uint8Array;
    let offset = 0;
    if (I.isView(data)) {
      const typed = I.typedArrayTag(data) !== undefined;
      const buffer = typed ? I.typedArrayBuffer(data) : I.dataViewBuffer(data);
      offset = typed ? I.typedArrayByteOffset(data) : I.dataViewByteOffset(data);
      const length = typed ? I.typedArrayByteLength(data) : I.dataViewByteLength(data);
      if (length < outboxMin) return -1;
      source = new I.Uint8Array(buffer, offset, length);
    } else if (isArrayBuffer(data)) {
      if (I.arrayBufferByteLength(data) < outboxMin) return -1;
      source = new I.Uint8Array(data as ArrayBuffer);
    } else {
      return -1;
    }
    const box = outbox as Uint8Array;
    const n = I.typedArrayByteLength(source);
    const start = outboxRoom(I.typedArrayByteLength(box), offset, n);
    if (start < 0) return -1;
    const at = start - 4;
    box[at] = n & 255; box[at + 1] = (n >>> 8) & 255; box[at + 2] = (n >>> 16) & 255; box[at + 3] = (n >>> 24) & 255;
    I.typedArraySet(box, source, start);
    outboxAt = start + n;
    return at;
  }

  /** Reads the whole response first, so nothing of it is emitted if reading it throws or is cut. */
  function respond(id: number, r: any): void {
    if (r === null || typeof r !== 'object') throw new I.TypeError('onHTTPRequest must return the response object (or nothing)');
    const headers: string[] = list();
    const keys = I.objectKeys(r);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      if (key !== 'statusCode' && key !== 'statusReason' && key !== 'data' && key !== 'headers') pushHeader(headers, key, r[key]);
    }
    const hs = field(r, 'headers') as Record<string, unknown> | null;
    if (hs !== null && typeof hs === 'object') {
      const names = I.objectKeys(hs);
      for (let i = 0; i < names.length; i++) pushHeader(headers, names[i], hs[names[i]]);
    }
    const sc = field(r, 'statusCode');
    const status = sc === undefined ? 200 : I.Number(sc);
    const sr = field(r, 'statusReason');
    const reason = sr === undefined ? '' : I.String(sr);
    const b = body(field(r, 'data'));
    write.respond(out, id, 'ok', status, reason, headers, b);
  }

  /** A field of the response. A plain object's fields count only as its own properties: a getter that
   *  callbacks put on Object.prototype (`headers`, say) would otherwise be read for every response. */
  function field(r: object, key: string): unknown {
    return I.getPrototypeOf(r) === I.ObjectPrototype && !I.hasOwn(r, key) ? undefined : (r as Record<string, unknown>)[key];
  }

  function fail(id: number, err: unknown, where: string): void {
    ops.end(id);
    let text = 'Uncaught exception';
    try { text = stackOf(err) ?? 'Uncaught ' + inspect(err, 1); } catch { /* the value threw again while being read; the event fails all the same */ }
    write.log(out, 'error', where + ' threw: ' + I.stringSlice(text, 0, MAX_LOG_CHARS));
    write.done(out, id, 'exception');
  }

  function finish(id: number, http: boolean, value: unknown, res: unknown, where: string): void {
    ops.end(id);
    if (!http) { write.done(out, id, 'ok'); return; }
    try { respond(id, value === undefined ? res : value); } catch (err) { fail(id, err, where); }
  }

  /** An async callback's promise. The event stays in `pending` until its answer is emitted, so a
   *  continuation cut by the time limit leaves it there for `recover` to give up. */
  async function watch(id: number, http: boolean, promise: unknown, res: unknown, where: string): Promise<void> {
    let value: unknown;
    try {
      value = await promise;
    } catch (err) {
      if (I.mapHas(pending, id)) { fail(id, err, where); I.mapDelete(pending, id); }
      return;
    }
    if (!I.mapHas(pending, id)) return;
    finish(id, http, value, res, where);
    I.mapDelete(pending, id);
  }

  /** A returned value to await. A plain object's `then` counts only as its own property: one that
   *  callbacks put on Object.prototype would otherwise turn every response object into a thenable. */
  function isThenable(v: unknown): boolean {
    if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return false;
    if (typeof (v as { then?: unknown }).then !== 'function') return false;
    return I.getPrototypeOf(v) !== I.ObjectPrototype || I.hasOwn(v, 'then');
  }

  /** The event at f[p]: k, id, then the fields of its kind. True when its callback went asynchronous. */
  function run(f: any[], p: number): boolean {
    const k: number = f[p];
    const id: number = f[p + 1];
    const at = AT[k];
    if (at === undefined) { write.done(out, id, 'internal'); return false; }
    // Clients of the server connected to other processes (SPEC §12): the lists only, no callback.
    if (k === E_PEER_JOIN || k === E_PEER_LEAVE) {
      if (k === E_PEER_JOIN) I.setAdd(clients, f[p + at.client]);
      else I.setDelete(clients, f[p + at.client]);
      write.done(out, id, 'ok');
      return false;
    }
    // Each start says where the server listens: with `--port 0` the port is known only then.
    if (k === E_START) port = f[p + at.port];
    const name = CALLBACK_OF[k];
    if (name === undefined) { write.done(out, id, 'internal'); return false; }
    const http = k === E_HTTP;
    if (k === E_WS_OPEN) I.setAdd(clients, f[p + at.client]);
    else if (k === E_WS_CLOSE) I.setDelete(clients, f[p + at.client]);
    const fn = cb[name];
    if (fn === undefined) {
      if (http) write.respond(out, id, 'ok', 404, 'Not Found', NOT_FOUND_HEADERS, 'Not Found\n');
      else write.done(out, id, 'ok');
      return false;
    }
    let res: unknown;
    let args: unknown[];
    if (http) {
      res = { statusCode: 200, statusReason: 'OK', data: '' };
      args = [webServer, makeRequest(f, p), res];
    } else if (k === E_START || k === E_STOP) args = [webServer];
    else if (k === E_WS_CLOSE) args = [webServer, f[p + at.client]];
    else if (k === E_WS_OPEN) args = [webServer, f[p + at.client], f[p + at.uri]];
    else args = [webServer, f[p + at.client], f[p + at.data]];
    return invoke(id, http, name, fn, args, res);
  }

  /** Runs `fn` as invocation `id`; true when it went asynchronous. */
  function invoke(id: number, http: boolean, name: string, fn: Function, args: unknown[], res?: unknown): boolean {
    ops.current = id;
    let ret: unknown;
    let thenable = false;
    budget.begin(id);
    // An invocation over its output budget was answered by the budget; its operations end with it.
    try {
      ret = I.apply(fn, undefined, args);
      thenable = isThenable(ret);
    } catch (err) {
      if (budget.end()) ops.end(id); else fail(id, err, name);
      return false;
    }
    if (budget.end()) { ops.end(id); return false; }
    if (thenable) {
      I.mapSet(pending, id, I.dateNow());
      watch(id, http, ret, res, name);
      return true;
    }
    finish(id, http, ret, res, name);
    return false;
  }

  /** Ends an async invocation the host gave up on (its time ran out); `answer`: answered `timeout`. */
  function giveUp(id: number, answer: boolean): boolean {
    if (!I.mapDelete(pending, id)) return false;
    ops.end(id);
    if (answer) write.done(out, id, 'timeout');
    return true;
  }

  function pendingPairs(): number[] {
    const t = I.dateNow();
    const p = list();
    I.mapForEach(pending, (start: number, id: number) => { p[p.length] = id; p[p.length] = t - start; });
    return p;
  }

  function take(): unknown[] {
    // No call between the swap and the return: a cut (`recover`) cannot lose the commands taken.
    budget.read();
    logs = 0;
    const fresh = list();
    const o = out;
    out = fresh;
    return o;
  }

  /** Log lines dropped since the last call (over the per-call cap or the log budget): the worker counts them. */
  function dropped(): number {
    const n = droppedLogs;
    droppedLogs = 0;
    return n;
  }

  function reply<T>(value: T): T {
    last = value;
    return value;
  }

  Object.defineProperty(g, 'console', { value: console, writable: true, configurable: true });

  return {
    /** Takes the module's exports; `known` re-seeds the open connections after an isolate was rebuilt. */
    install(ns: any, known: string[]): void {
      for (let i = 0; i < known.length; i++) I.setAdd(clients, known[i]);
      for (let i = 0; i < CALLBACKS.length; i++) {
        const n = CALLBACKS[i];
        let fn: unknown;
        try { fn = ns[n]; } catch { continue; }
        if (typeof fn === 'function') cb[n] = fn;
      }
    },
    /**
     * Runs events start.. (event i begins at flat[at[i]]) until all ran, `sliceMs` passed or the
     * call's output reached one output budget; returns [commands, next index, open async events, when
     * the last event's callback began if it went asynchronous (else 0), log lines dropped]. With none
     * open, the host can skip the `collect` call that reads microtask results. Stopping after a slice
     * gives every event at least the full time limit of the call that runs it. Stopping after an
     * asynchronous callback lets its first microtasks run alone, so that what they cost and the
     * operations they start are that invocation's.
     */
    dispatch(flat: any[], at: number[], snapshot: Record<string, number>, cancel: number[], start: number, sliceMs: number): [unknown[], number, number, number, number] {
      last = null;
      outboxOpen = true;
      info = snapshot;
      primary = snapshot.primary === 1;
      for (let i = 0; i < cancel.length; i++) giveUp(cancel[i], false);
      const t0 = I.dateNow();
      let asyncAt = 0;
      let i = start;
      for (; i < at.length; i++) {
        if (i > start && (I.dateNow() - t0 > sliceMs || budget.full())) break;
        cursor = i;
        const began = I.dateNow();
        if (run(flat, at[i])) { asyncAt = began; i++; break; }
      }
      cursor = -1;
      return reply([take(), i, I.mapSize(pending), asyncAt, dropped()]);
    },
    /**
     * Runs timer `timerId` as invocation `id`; returns the invocation its microtasks belong to (the
     * host reads the commands with `collect`). A timer created by an invocation still awaiting resumes
     * it (`await new Promise((r) => setTimeout(r, 10))`): what then runs is that invocation's.
     */
    fire(id: number, timerId: number): number {
      last = null;
      outboxOpen = false;
      const t = timers.take(timerId);
      if (t === undefined) return reply(id);
      invoke(id, false, t.repeat ? 'setInterval callback' : 'setTimeout callback', t.fn, t.args);
      if (t.creator !== id && I.mapHas(pending, t.creator)) ops.current = t.creator;
      return reply(ops.current);
    },
    /** Settles host operation `opId`; its continuations run right after, as microtasks of this call. */
    settle(opId: number, ok: boolean, value: unknown): number {
      last = null;
      outboxOpen = false;
      ops.settle(opId, ok, value);
      return reply(opId);
    },
    /** The host gave up on these async invocations (time limit); each is answered `timeout`. */
    expire(ids: number[]): number {
      last = null;
      for (let i = 0; i < ids.length; i++) giveUp(ids[i], true);
      return reply(ids.length);
    },
    /**
     * The server stopped or its code is being replaced: its timers are gone on the host side (but those
     * invocation `keep` created, when given: a stop still running).
     */
    clearTimers(keep?: number): number {
      last = null;
      timers.clear(keep);
      return reply(0);
    },
    /**
     * After a call: what its microtasks produced, which async events are still running, log lines
     * dropped. `inTask`: the host reads this within a task, so bodies may go to the outbox.
     */
    collect(inTask: boolean): [unknown[], number[], number] {
      last = null;
      outboxOpen = inTask === true;
      return reply([take(), pendingPairs(), dropped()]);
    },
    /**
     * After a call was cut by the time limit: that call's reply if it had returned before the cut
     * (null otherwise), commands so far, the event that was running, pending ids given up, log lines
     * dropped.
     */
    recover(owner?: number): [unknown, unknown[], number, number[], number] {
      // Restartable: on a starved thread the time limit can cut this call before it returns, and the
      // host then calls it once more. What it takes is kept in `recovering` until it returns; V8 stops
      // code only at calls and loop edges, so the plain stores between two calls here are never split.
      let r = recovering;
      if (r === null) {
        r = list();
        r[0] = last; r[1] = cursor; r[2] = null; r[3] = null;
        recovering = r;
        last = null;
        cursor = -1;
      }
      budget.end();
      const c = r[1] as number;
      if (r[2] === null) {
        // `owner`: the host knows whose code the cut call ran (a settled operation, a timer). Else the
        // microtasks that ran belong to the current invocation; if that one is not asynchronous, the
        // loop's owner is unknown and every async invocation is given up.
        const chosen = list();
        if (c === -1) {
          const id = owner === undefined ? ops.current : owner;
          if (I.mapHas(pending, id)) chosen[0] = id;
          else if (owner === undefined) I.mapForEach(pending, (_s: number, p: number) => { chosen[chosen.length] = p; });
        }
        r[2] = chosen;
      }
      const given = r[2] as number[];
      for (let i = 0; i < given.length; i++) giveUp(given[i], false);
      if (r[3] === null) r[3] = take();
      const value: [unknown, unknown[], number, number[], number] = [r[0], r[3] as unknown[], c, given, dropped()];
      last = value;
      recovering = null;
      return value;
    },
    /** A full collection of this isolate's heap, which the host asks for when the heap grew (isolate-host.ts). */
    collectGarbage(): number {
      last = null;
      const gc = I.gc;
      if (gc !== null) gc();
      return reply(0);
    },
    /** The host's outbox for this isolate's large bodies (its data begins at `dataAt`), and the smallest body that goes there. */
    attachOutbox(memory: SharedArrayBuffer, dataAt: number, minBytes: number): number {
      outbox = new I.Uint8Array(memory, dataAt);
      outboxFreed = new I.Int32Array(memory, 0, 1);
      outboxMin = minBytes;
      outboxAt = 0;
      return 0;
    },
    /** The reply of the previous call, which an error raised after it returned kept from the host. */
    again(): unknown {
      const l = last;
      last = null;
      return l;
    },
  };
}
