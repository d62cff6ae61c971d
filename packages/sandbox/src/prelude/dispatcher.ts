// Runs inside the isolate. Turns a batch of events into callback calls and collects everything the
// callbacks produce (responses, WebSocket commands, log lines) into one ordered array of commands.
// Events arrive and commands leave as flat arrays laid out as isolate-wire.ts describes. The host
// reads the commands once per call; nothing here ever holds a host object.

import type { createOutputBudget } from './output-budget.js';
import type { createLogAllowance } from './log-allowance.js';

interface Kinds {
  event: Record<string, number>;
  command: Record<string, number>;
  ws: Record<string, number>;
}
interface Meta { name: string; port: number; secure: boolean; node: string; maxOutputBytes: number; maxHeaders: number; logLinesPerSecond: number; logBytesPerSecond: number }
type OutputBudget = ReturnType<typeof createOutputBudget>;
type LogAllowance = ReturnType<typeof createLogAllowance>;

export function createDispatcher(g: any, kinds: Kinds, meta: Meta, budget: OutputBudget, admitLog: LogAllowance) {
  // Captured before user code runs, so a callback that rewrites Date.now cannot skew the slicing.
  const now = Date.now;
  const E = kinds.event, C = kinds.command, W = kinds.ws;
  const MAX_LOG_CHARS = 16384;
  const MAX_LOGS_PER_CALL = 1000;
  const CALLBACKS = ['onHTTPRequest', 'onWebSocketOpen', 'onWebSocketClose', 'onWebSocketReceiveText',
    'onWebSocketReceiveBinary', 'onWebSocketReceivePing', 'onWebSocketReceivePong', 'onServerStart', 'onServerStop'];

  const cb: Record<string, Function> = Object.create(null);
  const clients = new Set<string>();
  /** async events still running: id → start time */
  const pending = new Map<number, number>();
  let out: unknown[] = [];
  let info: Record<string, number> = {};
  let primary = false;
  let cursor = -1;
  let logs = 0;
  let droppedLogs = 0;

  function inspect(v: unknown, depth: number): string {
    if (typeof v === 'string') return depth === 0 ? v : JSON.stringify(v);
    if (v instanceof Error) return String(v.stack || v);
    if (typeof v === 'function') return `[Function ${v.name || 'anonymous'}]`;
    if (typeof v !== 'object' || v === null) return String(v);
    if (v instanceof Uint8Array) return `Uint8Array(${v.length})`;
    try { return JSON.stringify(v) ?? String(v); } catch { return Object.prototype.toString.call(v); }
  }

  function log(level: string, args: unknown[]): void {
    if (logs >= MAX_LOGS_PER_CALL) { droppedLogs++; return; }
    let msg = '';
    for (let i = 0; i < args.length; i++) msg += (i ? ' ' : '') + inspect(args[i], 0);
    if (msg.length > MAX_LOG_CHARS) msg = msg.slice(0, MAX_LOG_CHARS) + '…';
    if (!admitLog(msg.length)) { droppedLogs++; return; }
    logs++;
    out.push(C.log, level, msg);
  }

  const console = Object.freeze({
    log: (...a: unknown[]) => log('log', a),
    info: (...a: unknown[]) => log('info', a),
    warn: (...a: unknown[]) => log('warn', a),
    error: (...a: unknown[]) => log('error', a),
    debug: (...a: unknown[]) => log('log', a),
  });

  function bytes(v: unknown, what: string): Uint8Array {
    if (v instanceof ArrayBuffer) return new Uint8Array(v.slice(0));
    if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
    if (typeof v === 'string') return new g.TextEncoder().encode(v);
    throw new TypeError(`${what} must be a Uint8Array, an ArrayBuffer or a string`);
  }
  function optionalBytes(v: unknown, what: string): Uint8Array {
    return v === undefined || v === null ? new Uint8Array(0) : bytes(v, what);
  }

  function send(client: unknown, op: number, data: string | Uint8Array): boolean {
    if (typeof client !== 'string' || !clients.has(client)) return false;
    const over = budget.charge(data, 1);
    if (over !== 0) overBudget(over === 1);
    out.push(C.wsSend, client, op, data);
    return true;
  }

  function broadcast(op: number, data: string | Uint8Array): boolean {
    const n = info.websocket_connections;
    const over = budget.charge(data, typeof n === 'number' ? n : 1);
    if (over !== 0) overBudget(over === 1);
    out.push(C.broadcast, op, data);
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
    if (first && id !== -1) {
      out.push(C.log, 'error', `stopped: the callback sent more than limits.maxOutputBytes (${meta.maxOutputBytes} bytes; a broadcast counts once per recipient)`, C.done, id, 'output');
    } else if (first && pending.size > 0) {
      out.push(C.log, 'error', `stopped ${pending.size} async callbacks: their continuations sent more than limits.maxOutputBytes (${meta.maxOutputBytes} bytes)`);
      pending.forEach((_s, pid) => { out.push(C.done, pid, 'output'); });
      pending.clear();
    }
    throw new RangeError(`output budget exceeded (limits.maxOutputBytes = ${meta.maxOutputBytes})`);
  }

  function safeEqual(a: Uint8Array, b: Uint8Array): boolean {
    // Every byte of the longer input is visited whatever matches, so timing does not leak a prefix.
    const n = Math.max(a.length, b.length);
    let diff = a.length ^ b.length;
    for (let i = 0; i < n; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
    return diff === 0;
  }

  function authenticateBasic(request: any, username: unknown, password: unknown): boolean {
    try {
      const h = request && request.headers && request.headers.authorization;
      if (typeof h !== 'string') return false;
      const m = /^\s*basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(h);
      if (m === null) return false;
      const got = Uint8Array.from(g.atob(m[1]), (ch: string) => ch.charCodeAt(0));
      const want = new g.TextEncoder().encode(`${String(username)}:${String(password)}`);
      return safeEqual(got, want);
    } catch {
      return false;
    }
  }

  const webServer = Object.freeze(Object.defineProperties({}, {
    name: { value: meta.name, enumerable: true },
    port: { value: meta.port, enumerable: true },
    secure: { value: meta.secure, enumerable: true },
    node: { value: meta.node, enumerable: true },
    primary: { get: () => primary, enumerable: true },
    info: { get: () => { const o = { ...info }; delete o.primary; return o; }, enumerable: true },
    webSocketConnections: { get: () => Array.from(clients), enumerable: true },
    webSocketSendText: { value: (client: unknown, text: unknown) => send(client, W.text, String(text)) },
    webSocketSendBinary: { value: (client: unknown, data: unknown) => send(client, W.binary, bytes(data, 'data')) },
    webSocketSendPing: { value: (client: unknown, data?: unknown) => send(client, W.ping, optionalBytes(data, 'data')) },
    // uWS v20.30 can send pings but no unsolicited pong (it answers pings by itself): nothing is sent.
    webSocketSendPong: { value: (_client: unknown, _data?: unknown) => false },
    webSocketClose: {
      value: (client: unknown, code?: unknown, reason?: unknown) => {
        if (typeof client !== 'string' || !clients.has(client)) return false;
        const c = code === undefined ? 1000 : Number(code);
        if (!(c === 1000 || (c >= 3000 && c <= 4999)) || !Number.isInteger(c)) {
          throw new RangeError('close code must be 1000 or an integer from 3000 to 4999');
        }
        out.push(C.wsClose, client, c, reason === undefined ? '' : String(reason).slice(0, 123));
        return true;
      },
    },
    webSocketBroadcastText: { value: (text: unknown) => broadcast(W.text, String(text)) },
    webSocketBroadcastBinary: { value: (data: unknown) => broadcast(W.binary, bytes(data, 'data')) },
    authenticateBasic: { value: authenticateBasic },
  }));

  const canonicalCache = new Map<string, string>();
  function canonical(name: string): string {
    let c = canonicalCache.get(name);
    if (c === undefined) {
      c = name.replace(/(^|-)([a-z])/g, (_m, sep: string, ch: string) => sep + ch.toUpperCase());
      if (canonicalCache.size < 512) canonicalCache.set(name, c);
    }
    return c;
  }

  function parsePars(query: string): Record<string, string> {
    const pars: Record<string, string> = {};
    if (query === '') return pars;
    for (const part of query.split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      const k = decode(eq < 0 ? part : part.slice(0, eq));
      // First value wins for repeated keys (URLSearchParams.get semantics); __proto__ cannot be set.
      if (k === '__proto__' || Object.prototype.hasOwnProperty.call(pars, k)) continue;
      pars[k] = eq < 0 ? '' : decode(part.slice(eq + 1));
    }
    return pars;
  }
  function decode(s: string): string {
    const t = s.replace(/\+/g, ' ');
    try { return decodeURIComponent(t); } catch { return t; }
  }

  /** An HTTP event at f[p]: k, id, method, uri, query, n, ...n header fields, data, clientAddress, serverAddress. */
  function makeRequest(f: any[], p: number): any {
    const headers: Record<string, string> = {};
    const n: number = f[p + 5];
    for (let j = p + 6; j < p + 6 + n; j += 2) {
      const name = f[j];
      if (name === '__proto__') continue;
      headers[name] = headers[name] === undefined ? f[j + 1] : headers[name] + ', ' + f[j + 1];
    }
    const req: any = {
      method: f[p + 2], uri: f[p + 3], pars: parsePars(f[p + 4]),
      clientAddress: f[p + 7 + n], serverAddress: f[p + 8 + n], headers, data: f[p + 6 + n],
    };
    for (const n in headers) req[canonical(n)] = headers[n];
    return req;
  }

  // One field past limits.maxHeaders is enough for the worker to refuse the response; collecting the
  // rest would only copy them out of the isolate.
  const headerCap = 2 * meta.maxHeaders;
  function pushHeader(list: string[], name: string, value: unknown): void {
    if (value === undefined || value === null || list.length > headerCap) return;
    if (Array.isArray(value)) { for (const v of value) { if (list.length > headerCap) return; list.push(name, String(v)); } return; }
    list.push(name, String(value));
  }

  function body(data: unknown): string | Uint8Array {
    if (data === undefined || data === null) return '';
    if (typeof data === 'string') return data;
    if (typeof data === 'number' || typeof data === 'boolean' || typeof data === 'bigint') return String(data);
    return bytes(data, 'response.data');
  }

  function respond(id: number, r: any): void {
    if (r === null || typeof r !== 'object') throw new TypeError('onHTTPRequest must return the response object (or nothing)');
    const headers: string[] = [];
    for (const key of Object.keys(r)) {
      if (key !== 'statusCode' && key !== 'statusReason' && key !== 'data' && key !== 'headers') pushHeader(headers, key, r[key]);
    }
    const hs = r.headers;
    if (hs !== null && typeof hs === 'object') for (const key of Object.keys(hs)) pushHeader(headers, key, hs[key]);
    const status = r.statusCode === undefined ? 200 : Number(r.statusCode);
    const reason = r.statusReason === undefined ? '' : String(r.statusReason);
    const b = body(r.data);
    out.push(C.respond, id, 'ok', status, reason, headers.length);
    for (let i = 0; i < headers.length; i++) out.push(headers[i]);
    out.push(b);
  }

  function fail(id: number, err: unknown, where: string): void {
    let text: string;
    try { text = err instanceof Error ? String(err.stack || err) : `Uncaught ${inspect(err, 1)}`; } catch { text = 'Uncaught exception'; }
    out.push(C.log, 'error', `${where} threw: ${text.slice(0, MAX_LOG_CHARS)}`, C.done, id, 'exception');
  }

  function finish(id: number, http: boolean, value: unknown, res: unknown, where: string): void {
    if (!http) { out.push(C.done, id, 'ok'); return; }
    try { respond(id, value === undefined ? res : value); } catch (err) { fail(id, err, where); }
  }

  function call(id: number, http: boolean, name: string, args: unknown[], res?: unknown): void {
    const fn = cb[name];
    if (fn === undefined) {
      if (http) out.push(C.respond, id, 'ok', 404, 'Not Found', 2, 'content-type', 'text/plain; charset=utf-8', 'Not Found\n');
      else out.push(C.done, id, 'ok');
      return;
    }
    let ret: unknown;
    budget.begin(id);
    try { ret = fn.apply(undefined, args); } catch (err) { if (!budget.end()) fail(id, err, name); return; }
    if (budget.end()) return;
    if (ret !== null && (typeof ret === 'object' || typeof ret === 'function') && typeof (ret as any).then === 'function') {
      pending.set(id, now());
      Promise.resolve(ret).then(
        (v) => { if (pending.delete(id)) finish(id, http, v, res, name); },
        (err) => { if (pending.delete(id)) fail(id, err, name); },
      );
      return;
    }
    finish(id, http, ret, res, name);
  }

  /** The event at f[p]: k, id, then the fields of its kind. */
  function run(f: any[], p: number): void {
    const id: number = f[p + 1];
    switch (f[p]) {
      case E.http: {
        const res = { statusCode: 200, statusReason: 'OK', data: '' };
        call(id, true, 'onHTTPRequest', [webServer, makeRequest(f, p), res], res);
        return;
      }
      case E.wsOpen: clients.add(f[p + 2]); call(id, false, 'onWebSocketOpen', [webServer, f[p + 2], f[p + 3]]); return;
      case E.wsText: call(id, false, 'onWebSocketReceiveText', [webServer, f[p + 2], f[p + 3]]); return;
      case E.wsBinary: call(id, false, 'onWebSocketReceiveBinary', [webServer, f[p + 2], f[p + 3]]); return;
      case E.wsPing: call(id, false, 'onWebSocketReceivePing', [webServer, f[p + 2], f[p + 3]]); return;
      case E.wsPong: call(id, false, 'onWebSocketReceivePong', [webServer, f[p + 2], f[p + 3]]); return;
      case E.wsClose: clients.delete(f[p + 2]); call(id, false, 'onWebSocketClose', [webServer, f[p + 2]]); return;
      case E.peerJoin: clients.add(f[p + 2]); out.push(C.done, id, 'ok'); return;
      case E.peerLeave: clients.delete(f[p + 2]); out.push(C.done, id, 'ok'); return;
      case E.serverStart: call(id, false, 'onServerStart', [webServer]); return;
      case E.serverStop: call(id, false, 'onServerStop', [webServer]); return;
      default: out.push(C.done, id, 'internal');
    }
  }

  function pendingPairs(): number[] {
    const t = now();
    const p: number[] = [];
    pending.forEach((start, id) => { p.push(id, t - start); });
    return p;
  }

  function take(): unknown[] {
    const o = out;
    out = [];
    logs = 0;
    budget.read();
    return o;
  }

  /** Log lines dropped since the last call (over the per-call cap or the log budget): the worker counts them. */
  function dropped(): number {
    const n = droppedLogs;
    droppedLogs = 0;
    return n;
  }

  Object.defineProperty(g, 'console', { value: console, writable: true, configurable: true });

  return {
    /** Takes the module's exports; `known` re-seeds the open connections after an isolate was rebuilt. */
    install(ns: any, known: string[]): string[] {
      for (const c of known) clients.add(c);
      const found: string[] = [];
      for (const n of CALLBACKS) if (typeof ns[n] === 'function') { cb[n] = ns[n]; found.push(n); }
      return found;
    },
    /**
     * Runs events start.. (event i begins at flat[at[i]]) until all ran, `sliceMs` passed or the
     * call's output reached one output budget; returns [commands, next index, open async events, log
     * lines dropped]. With none open, the host can skip the `collect` call that reads microtask
     * results. Stopping after a slice gives every event at least the full time limit of the call that
     * runs it.
     */
    dispatch(flat: any[], at: number[], snapshot: Record<string, number>, cancel: number[], start: number, sliceMs: number): [unknown[], number, number, number] {
      info = snapshot;
      primary = snapshot.primary === 1;
      for (let i = 0; i < cancel.length; i++) pending.delete(cancel[i]);
      const t0 = now();
      let i = start;
      for (; i < at.length; i++) {
        if (i > start && (now() - t0 > sliceMs || budget.full())) break;
        cursor = i;
        run(flat, at[i]);
      }
      cursor = -1;
      return [take(), i, pending.size, dropped()];
    },
    /** After a call: what its microtasks produced, which async events are still running, log lines dropped. */
    collect(): [unknown[], number[], number] {
      return [take(), pendingPairs(), dropped()];
    },
    /** After a call was cut by the time limit: commands so far, the event that was running, pending ids given up, log lines dropped. */
    recover(): [unknown[], number, number[], number] {
      const c = cursor;
      cursor = -1;
      budget.end();
      const given: number[] = [];
      if (c === -1) { pending.forEach((_s, id) => given.push(id)); pending.clear(); }
      return [take(), c, given, dropped()];
    },
  };
}
