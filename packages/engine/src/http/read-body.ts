import type { HttpResponse } from 'uWebSockets.js';

/**
 * Collects a request body chunk by chunk (uWS empties each chunk after the callback returns, so it
 * is copied) and stops counting at `limit`: `onTooLarge` runs as soon as the limit is passed.
 */
export function readBody(res: HttpResponse, expected: number, limit: number, onDone: (body: Uint8Array) => void, onTooLarge: () => void): void {
  let buf = Buffer.allocUnsafe(expected > 0 && expected <= limit ? expected : Math.min(limit, 64 * 1024));
  let len = 0;
  let over = false;
  res.onData((chunk, isLast) => {
    if (over) return;
    const n = chunk.byteLength;
    if (len + n > limit) {
      over = true;
      onTooLarge();
      return;
    }
    if (len + n > buf.length) {
      const bigger = Buffer.allocUnsafe(Math.min(limit, Math.max(buf.length * 2, len + n)));
      buf.copy(bigger, 0, 0, len);
      buf = bigger;
    }
    buf.set(new Uint8Array(chunk), len);
    len += n;
    if (isLast) onDone(len === buf.length ? buf : buf.subarray(0, len));
  });
}
