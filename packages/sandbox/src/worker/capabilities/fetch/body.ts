import type { Response } from 'undici';

export interface ReadBody {
  body: Uint8Array;
  /** why the body cannot be delivered (too large, broken off); status and headers stay valid */
  error?: string;
}

const EMPTY = new Uint8Array(0);

/**
 * Reads a response body up to `limit` bytes as the callback would see them (after content decoding,
 * so a compressed bomb stops at the limit too). An abort rethrows: the invocation is over.
 */
export async function readLimited(res: Response, limit: number, signal: AbortSignal): Promise<ReadBody> {
  if (res.body === null) return { body: EMPTY };
  const tooLarge = `response body of ${res.url} exceeds limits.maxFetchBytes (${limit} bytes)`;
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (!res.headers.has('content-encoding') && declared > limit) {
    await res.body.cancel();
    return { body: EMPTY, error: tooLarge };
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limit) {
        await reader.cancel();
        return { body: EMPTY, error: tooLarge };
      }
      chunks.push(value);
    }
  } catch (err) {
    if (signal.aborted) throw err;
    return { body: EMPTY, error: `reading the response body of ${res.url} failed: ${causeMessage(err)}` };
  }
  if (chunks.length === 1) return { body: chunks[0] };
  const body = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.byteLength;
  }
  return { body };
}

/** undici wraps network failures as TypeError('fetch failed' / 'terminated') with the real reason as cause. */
export function causeMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}
