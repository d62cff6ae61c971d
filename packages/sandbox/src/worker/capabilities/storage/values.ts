import { Packr } from 'msgpackr';
import type { StorageResult } from './types.js';
import { isWellFormed } from './well-formed.js';

export const MAX_VALUE_BYTES = 1024 * 1024;
/** deep enough for any real document, shallow enough that encoding and copying never exhaust a stack */
export const MAX_VALUE_DEPTH = 1000;

/**
 * Records keep plain objects apart from Maps (`mapsAsObjects: false` decodes msgpack maps as Maps);
 * structuredClone keeps cycles and shared references; moreTypes keeps Sets; copyBuffers makes every
 * Uint8Array read back own its bytes instead of viewing lmdb's reused read buffer.
 */
const packr = new Packr({ structuredClone: true, moreTypes: true, mapsAsObjects: false, useRecords: true, copyBuffers: true });

const TOO_LARGE = `storage value is larger than ${MAX_VALUE_BYTES} bytes encoded`;
const STORABLE = 'strings, numbers, booleans, null, arrays, plain objects, Uint8Array, Date, Map and Set';

function refuse(name: 'TypeError' | 'DataCloneError', message: string): StorageResult<never> {
  return { ok: false, error: { name, message } };
}

/**
 * Walks the value without recursion (a hostile value may be deep) and refuses what would not come
 * back exactly. `lowerBound` counts bytes the encoding needs at least, to refuse huge values before
 * encoding them.
 */
function check(root: unknown): StorageResult<void> {
  if (root === undefined) return refuse('TypeError', 'storage.put value must not be undefined (use storage.delete)');
  const seen = new Set<object>();
  const stack: [unknown, number][] = [[root, 0]];
  let lowerBound = 0;
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    lowerBound += 1;
    switch (typeof value) {
      case 'string':
        if (!isWellFormed(value)) return refuse('TypeError', 'storage value has a string with a lone surrogate');
        lowerBound += value.length;
        break;
      case 'number':
      case 'boolean':
      case 'undefined':
        break;
      case 'function':
      case 'symbol':
        return refuse('DataCloneError', `a ${typeof value} cannot be stored`);
      case 'bigint':
        return refuse('TypeError', `a bigint cannot be stored (storable: ${STORABLE})`);
      case 'object': {
        if (value === null || seen.has(value)) break;
        seen.add(value);
        if (depth >= MAX_VALUE_DEPTH) return refuse('TypeError', `storage value is nested deeper than ${MAX_VALUE_DEPTH} levels`);
        const children = childrenOf(value);
        if (children === null) {
          const kind = Object.prototype.toString.call(value).slice(8, -1);
          return refuse('TypeError', `a ${kind} cannot be stored (storable: ${STORABLE})`);
        }
        if (typeof children === 'string') return refuse('TypeError', children);
        if (children instanceof Uint8Array) lowerBound += children.byteLength;
        else for (const child of children) stack.push([child, depth + 1]);
        break;
      }
    }
    if (lowerBound > MAX_VALUE_BYTES) return refuse('TypeError', TOO_LARGE);
  }
  return { ok: true, value: undefined };
}

/** What to walk inside a storable object, the object itself for bytes, a message, or null if refused. */
function childrenOf(value: object): unknown[] | Uint8Array | string | null {
  const proto = Object.getPrototypeOf(value);
  if (proto === Array.prototype) {
    // a sparse array can claim a huge length without holding anything; each slot costs an encoded byte
    const array = value as unknown[];
    return array.length > MAX_VALUE_BYTES ? TOO_LARGE : Array.from(array);
  }
  if (value instanceof Uint8Array && (proto === Uint8Array.prototype || proto === Buffer.prototype)) return value;
  if (proto === Date.prototype) return [];
  if (proto === Map.prototype) {
    const out: unknown[] = [];
    for (const [k, v] of value as Map<unknown, unknown>) out.push(k, v);
    return out;
  }
  if (proto === Set.prototype) return [...(value as Set<unknown>)];
  if (proto === Object.prototype || proto === null) {
    const out: unknown[] = [];
    for (const key of Object.keys(value)) {
      // msgpackr renames an own "__proto__" key on decode, so it would not come back
      if (key === '__proto__') return 'a property named "__proto__" cannot be stored';
      out.push(key, (value as Record<string, unknown>)[key]);
    }
    return out;
  }
  return null;
}

/** Checks a value from a callback and encodes it; the bytes are what is stored and counted. */
export function encodeValue(value: unknown): StorageResult<Uint8Array> {
  let bytes: Uint8Array;
  try {
    const checked = check(value);
    if (!checked.ok) return checked;
    bytes = packr.pack(value);
  } catch (e) {
    // only objects built host-side with a borrowed prototype (a fake Map) get here
    return refuse('DataCloneError', `storage value cannot be encoded: ${(e as Error).message}`);
  }
  if (bytes.length > MAX_VALUE_BYTES) return refuse('TypeError', TOO_LARGE);
  // pack may return a view of msgpackr's reused buffer: copy before the next pack overwrites it
  return { ok: true, value: new Uint8Array(bytes) };
}

export function decodeValue(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}
