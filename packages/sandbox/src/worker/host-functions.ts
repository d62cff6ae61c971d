import crypto from 'node:crypto';
import ivm from 'isolated-vm';
import { checkHostDeadline } from './limits.js';

// The whole surface a callback can reach outside its isolate: three functions that take and return
// plain copies. Each checks the host deadline, because isolated-vm does not count time spent here.

const MAX_URL_CHARS = 65536;
const URL_FIELDS = ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash'] as const;
const SETTABLE = new Set(['protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash']);

function fields(u: URL): string[] {
  return URL_FIELDS.map((f) => u[f]);
}

function urlHost(op: unknown, a: unknown, b: unknown, c: unknown): string[] | null {
  checkHostDeadline();
  if (typeof a !== 'string' || a.length > MAX_URL_CHARS) return null;
  if (op === 0) {
    if (b !== undefined && (typeof b !== 'string' || b.length > MAX_URL_CHARS)) return null;
    try { return fields(new URL(a, b as string | undefined)); } catch { return null; }
  }
  if (op === 1 && typeof b === 'string' && SETTABLE.has(b) && typeof c === 'string' && c.length <= MAX_URL_CHARS) {
    try {
      const u = new URL(a);
      (u as unknown as Record<string, string>)[b] = c;
      return fields(u);
    } catch { return null; }
  }
  return null;
}

function randomBytes(n: unknown): Uint8Array {
  checkHostDeadline();
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65536) throw new RangeError('invalid byte count');
  return new Uint8Array(crypto.randomBytes(n));
}

function clone(v: unknown): unknown {
  checkHostDeadline();
  return v;
}

/** The error as the isolate may see it: isolated-vm copies a thrown error's stack in, and a host stack names webdat's files and node:internal. */
function withoutHostStack(err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  const e = err instanceof RangeError ? new RangeError(message) : err instanceof TypeError ? new TypeError(message) : new Error(message);
  e.stack = `${e.name}: ${message}`;
  return e;
}

/** `fn` as an `ivm.Callback` (arguments and result copied, a plain function inside) whose errors carry no host stack. */
export function hostCallback<A extends unknown[]>(fn: (...args: A) => unknown): ivm.Callback {
  return new ivm.Callback((...args: A) => {
    try {
      return fn(...args);
    } catch (err) {
      throw withoutHostStack(err);
    }
  });
}

/** Fresh callbacks per isolate. */
export function hostCallbacks(): ivm.Callback[] {
  return [hostCallback(urlHost), hostCallback(randomBytes), hostCallback(clone)];
}
