import type { HttpResponse } from 'uWebSockets.js';
import type { Outcome } from '@webdat/protocol';
import type { InFlightEvent } from '../in-flight.js';
import { recordLatency } from './latency.js';
import { OUTCOME_STATUS, RETRY_AFTER_SECONDS } from './outcome-status.js';

// uWS rules kept in one place: writes after an await go inside cork(); a response that was aborted
// must not be touched; bodies larger than a socket write are streamed with tryEnd/onWritable.
// An answered event drops its `res` (so nothing writes twice) but keeps `aborted` for the client's
// own departure: a streamed body still needs onWritable after the answer started, until the client
// leaves.

const STREAM_THRESHOLD = 256 * 1024;

/** Every write below ends here: the event is answered and, for a request, its duration counted. */
function answered(p: InFlightEvent): void {
  p.res = null;
  if (p.latency !== null) recordLatency(p.latency, p.start);
}

function streamBody(p: InFlightEvent, res: HttpResponse, body: Uint8Array | string): void {
  // Streaming outlives this call; a body viewed in the shared ring must be copied first.
  const buf = typeof body === 'string' || body.buffer instanceof SharedArrayBuffer ? Buffer.from(body) : body;
  const total = buf.length;
  const start = res.getWriteOffset();
  const [ok, done] = res.tryEnd(buf, total);
  if (ok || done) return;
  res.onWritable((offset) => {
    if (p.aborted) return true;
    const [ok2] = res.tryEnd(buf.subarray(offset - start), total);
    return ok2;
  });
}

/**
 * Ends a response whose status and headers are written (`status` is given when a callback chose it).
 * RFC 9110 allows no content with 1xx, 204 and 304, nor in an answer to HEAD, and uWS writes whatever
 * it is given: stray bytes would be read as the start of the next response on a kept-alive
 * connection. uWS.js v20.30 always reports a length (`Content-Length: 0` here): its endWithoutBody,
 * which could report a HEAD answer's real length, leaves the connection unable to take the next
 * request. Returns the body bytes written.
 */
function end(p: InFlightEvent, res: HttpResponse, body: string | Uint8Array, close = false, status = 0): number {
  if (p.head || (status !== 0 && (status < 200 || status === 204 || status === 304))) {
    res.end('', close);
    return 0;
  }
  if (body.length > STREAM_THRESHOLD) streamBody(p, res, body);
  else res.end(body, close);
  return typeof body === 'string' ? Buffer.byteLength(body) : body.length;
}

/** Writes a complete response; returns the number of body bytes handed to the socket. */
export function writeResponse(p: InFlightEvent, status: number, reason: string, headers: string[], body: string | Uint8Array): number {
  const res = p.res;
  if (p.aborted || res === null) return 0;
  let written = 0;
  res.cork(() => {
    // uWS writes 200 OK when no status was written; most responses save a native call and a string.
    if (status !== 200 || reason !== 'OK') res.writeStatus(`${status} ${reason}`);
    for (let i = 0; i < headers.length; i += 2) res.writeHeader(headers[i], headers[i + 1]);
    written = end(p, res, body, false, status);
  });
  answered(p);
  return written;
}

/** Error answers carry `x-webdat-error: <outcome>` so clients and tests can tell the cause apart. */
export function writeOutcome(p: InFlightEvent, outcome: Exclude<Outcome, 'ok'>): void {
  const res = p.res;
  if (p.aborted || res === null) return;
  const o = OUTCOME_STATUS[outcome];
  res.cork(() => {
    res.writeStatus(o.status);
    res.writeHeader('content-type', 'text/plain; charset=utf-8');
    res.writeHeader('x-webdat-error', outcome);
    if (outcome === 'overloaded') res.writeHeader('retry-after', RETRY_AFTER_SECONDS);
    end(p, res, o.body);
  });
  answered(p);
}

/** Answers that never reach a callback (413, 400…); the connection is closed when asked. */
export function writeStatus(p: InFlightEvent, status: string, errorKind: string, body: string, close: boolean): void {
  const res = p.res;
  if (p.aborted || res === null) return;
  res.cork(() => {
    res.writeStatus(status);
    res.writeHeader('content-type', 'text/plain; charset=utf-8');
    res.writeHeader('x-webdat-error', errorKind);
    end(p, res, body, close);
  });
  answered(p);
}
