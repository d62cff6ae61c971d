import { Packr } from 'msgpackr';
import { ProtocolError, ProtocolErrorCode } from './errors.js';
import { checkBatchResult, checkLoadResult, checkTask } from './guards.js';
import type { BatchResult, LoadResult, Task } from './messages.js';

// One module-level Packr per thread. Records (`useRecords`) write each object shape once per message,
// which suits batches of same-shaped events; no structures are shared across messages, so the two
// threads never need to agree on hidden state, and a message decodes on its own.
const packr = new Packr({ useRecords: true, moreTypes: false, bundleStrings: false });

/**
 * Encodes into a fresh ArrayBuffer the caller owns, so it can be transferred to another thread
 * (msgpackr's own output is a view into a buffer it reuses).
 */
export function encode(message: Task | BatchResult | LoadResult): Uint8Array {
  const packed = packr.pack(message);
  const out = new Uint8Array(packed.length);
  out.set(packed);
  return out;
}

function decodeRaw(bytes: Uint8Array): unknown {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) {
    throw new ProtocolError(ProtocolErrorCode.decode, 'expected a non-empty byte buffer');
  }
  try {
    return packr.unpack(bytes);
  } catch (err) {
    throw new ProtocolError(ProtocolErrorCode.decode, `malformed message: ${(err as Error).message}`);
  }
}

export function decodeTask(bytes: Uint8Array): Task {
  const m = decodeRaw(bytes);
  checkTask(m);
  return m;
}

export function decodeBatchResult(bytes: Uint8Array): BatchResult {
  const m = decodeRaw(bytes);
  checkBatchResult(m);
  return m;
}

export function decodeLoadResult(bytes: Uint8Array): LoadResult {
  const m = decodeRaw(bytes);
  checkLoadResult(m);
  return m;
}
