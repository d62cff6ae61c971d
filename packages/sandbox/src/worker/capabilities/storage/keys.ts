import type { StorageResult } from './types.js';
import { isWellFormed } from './well-formed.js';

export const MAX_KEY_BYTES = 512;
export const LIST_DEFAULT_LIMIT = 100;
export const LIST_MAX_LIMIT = 1000;

/** A checked list request, in UTF-8 bytes: keys compare in code point order, as UTF-8 does. */
export interface ListRange {
  prefix: Uint8Array;
  start: Uint8Array;
  limit: number;
}

function typeError(message: string): StorageResult<never> {
  return { ok: false, error: { name: 'TypeError', message } };
}

function utf8(text: string): Uint8Array | null {
  return isWellFormed(text) ? Buffer.from(text, 'utf8') : null;
}

export function checkKey(key: unknown): StorageResult<Uint8Array> {
  const problem = `storage key must be a non-empty string of at most ${MAX_KEY_BYTES} UTF-8 bytes`;
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_BYTES) return typeError(problem);
  const bytes = utf8(key);
  if (bytes === null) return typeError(`${problem} (it has a lone surrogate)`);
  if (bytes.length > MAX_KEY_BYTES) return typeError(problem);
  return { ok: true, value: bytes };
}

function checkBound(name: string, value: unknown): StorageResult<Uint8Array> {
  if (value === undefined) return { ok: true, value: new Uint8Array(0) };
  const problem = `storage.list option "${name}" must be a string of at most ${MAX_KEY_BYTES} UTF-8 bytes`;
  if (typeof value !== 'string' || value.length > MAX_KEY_BYTES) return typeError(problem);
  const bytes = utf8(value);
  if (bytes === null || bytes.length > MAX_KEY_BYTES) return typeError(problem);
  return { ok: true, value: bytes };
}

export function checkListOptions(options: unknown): StorageResult<ListRange> {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object' || Array.isArray(options)) return typeError('storage.list options must be an object');
  const { prefix, start, limit } = options as Record<string, unknown>;
  const p = checkBound('prefix', prefix);
  if (!p.ok) return p;
  const s = checkBound('start', start);
  if (!s.ok) return s;
  let n = LIST_DEFAULT_LIMIT;
  if (limit !== undefined) {
    if (typeof limit !== 'number' || Number.isNaN(limit) || limit < 1 || (Number.isFinite(limit) && !Number.isInteger(limit))) {
      return typeError('storage.list option "limit" must be a positive integer');
    }
    n = Math.min(limit, LIST_MAX_LIMIT);
  }
  return { ok: true, value: { prefix: p.value, start: s.value, limit: n } };
}
