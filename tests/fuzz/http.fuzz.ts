import fc from 'fast-check';
import { RawConnection, inParallel } from './tcp.ts';
import { mutatedBytes } from './inputs.ts';
import type { Probe } from './probe.ts';

// HTTP/1.x over raw TCP against a running webdat: request lines, headers and bodies generated and
// mutated. Every request must be answered or its connection closed, by the server or after our own
// half-close, within HANG_MS; the process must live on, and the probe server must keep answering.

/** Longer than uWS's 10 s idle timeout, so a connection the server forgot would be seen. */
export const HANG_MS = 20_000;
/** How long a request may go unanswered before the client half-closes (a slow machine stays correct). */
const PATIENCE_MS = 1_000;
const CRLF = '\r\n';

// Weighted so that most requests are ones uWS parses and hands to a callback (its parser neither
// answers nor closes on some valid-but-unusual forms, such as header names with '+' or '`', and
// those cost the client's whole patience); the odd ones stay frequent enough to be many.
const rare = <T>(common: fc.Arbitrary<T>, odd: fc.Arbitrary<T>, oddOneIn = 20) => fc.oneof({ weight: oddOneIn - 1, arbitrary: common }, { weight: 1, arbitrary: odd });
const token = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}$/);
const name = rare(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/), token, 200);
const junk = fc.string({ unit: 'binary', maxLength: 24 });
const method = rare(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'), fc.oneof(token, junk, fc.constantFrom('CONNECT', 'get', 'TRACE', '')));
const target = rare(
  fc.tuple(fc.webPath(), fc.webQueryParameters()).map(([p, q]) => (p.startsWith('/') ? p : '/' + p) + (q ? '?' + q : '')),
  fc.oneof(fc.integer({ min: 1, max: 12_000 }).map((n) => '/' + 'a'.repeat(n)), fc.constantFrom('*', 'http://a/x', '/%', '/%zz', '//', '/a b', '/\u00e9', ''), junk.map((j) => '/' + j)),
);
const version = rare(fc.constant('HTTP/1.1'), fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1x', 'HTTP/1', 'http/1.1', ''));
const header = rare(
  fc.tuple(name, fc.string({ maxLength: 20 })),
  fc.oneof(
    fc.tuple(fc.oneof(token, junk), junk),
    fc.constantFrom<[string, string]>(['x-a', 'b\rc'], ['x-a', 'b\nc'], ['x-a', 'b\u0000'], [' x', 'y'], ['x', ' folded\r\n continued'], ['', 'v'], ['x-\u00e9', '\u00fc']),
  ),
  60,
);
const bodyFraming = rare(fc.constantFrom('none', 'length'), fc.constantFrom('chunked', 'badLength', 'shortBody', 'longBody', 'badChunked'), 10);

export const request = fc.record({
  method, target, version,
  host: rare(fc.constant('ok'), fc.constantFrom('none', 'double', 'dot', 'other', 'junk')),
  headers: rare(fc.array(header, { maxLength: 6 }), fc.array(header, { minLength: 40, maxLength: 60 }), 50),
  framing: bodyFraming,
  body: rare(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 100_000 }).map((n) => new Uint8Array(n)), 10),
  badLength: fc.constantFrom('-1', '0x5', '5,5', '1e3', ' ', '99999999999999999999', '+5'),
  lineEnd: rare(fc.constant(CRLF), fc.constantFrom('\n', '\r'), 50),
  close: rare(fc.constant(false), fc.constant(true), 10),
});
type Request = typeof request extends fc.Arbitrary<infer T> ? T : never;

export function render(r: Request, hostName: string): { bytes: Uint8Array; clean: boolean; head: boolean } {
  const lines = [`${r.method} ${r.target} ${r.version}`.trimEnd()];
  if (r.host === 'ok' || r.host === 'double') lines.push(`Host: ${hostName}`);
  if (r.host === 'double') lines.push('Host: other.test');
  if (r.host === 'dot') lines.push(`Host: ${hostName}.`);
  if (r.host === 'other') lines.push('Host: elsewhere.test');
  if (r.host === 'junk') lines.push('Host: a b\u0001');
  for (const [n, v] of r.headers) lines.push(`${n}: ${v}`);
  if (r.close) lines.push('Connection: close');
  let body = Buffer.alloc(0);
  const b = Buffer.from(r.body);
  switch (r.framing) {
    case 'length': lines.push(`Content-Length: ${b.length}`); body = b; break;
    case 'badLength': lines.push(`Content-Length: ${r.badLength}`); body = b.subarray(0, 5); break;
    case 'shortBody': lines.push(`Content-Length: ${b.length + 10}`); body = b; break;
    case 'longBody': lines.push(`Content-Length: ${b.length >> 1}`); body = b; break;
    case 'chunked': lines.push('Transfer-Encoding: chunked'); body = Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from(b.length ? '\r\n0\r\n\r\n' : '\r\n')]); break;
    case 'badChunked': lines.push('Transfer-Encoding: chunked'); body = Buffer.concat([Buffer.from('zz\r\n'), b]); break;
  }
  const head = Buffer.from(lines.join(r.lineEnd) + r.lineEnd + r.lineEnd, 'latin1');
  const clean = r.lineEnd === CRLF && r.version === 'HTTP/1.1' && r.host === 'ok' && (r.framing === 'none' || r.framing === 'length') && r.method !== 'HEAD' && !r.close;
  return { bytes: Buffer.concat([head, body]), clean, head: r.method === 'HEAD' };
}

/** The length of one complete response at the start of `buf`, or null while incomplete. */
export function responseLength(buf: Buffer, head: boolean): number | null {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = buf.subarray(0, end).toString('latin1');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines)?.[1]);
  if (!(status >= 100)) return end + 4;
  if (head || status < 200 || status === 204 || status === 304) return end + 4;
  const cl = /\r\ncontent-length: *(\d+)/i.exec(lines);
  if (cl !== null) return buf.length >= end + 4 + Number(cl[1]) ? end + 4 + Number(cl[1]) : null;
  if (/\r\ntransfer-encoding: *chunked/i.test(lines)) {
    const fin = buf.indexOf('\r\n0\r\n\r\n', end);
    return fin < 0 ? null : fin + 7;
  }
  return null;
}

export interface HttpFuzzStats {
  requests: number;
  connections: number;
  answered: number;
  byStatus: Record<string, number>;
  closedByServer: number;
  closedAfterHalfClose: number;
  hangs: string[];
}

/** Sends `count` generated requests to `port` (Host `hostName`), `width` connections at a time. */
export async function fuzzHttp(opts: { port: number; hostName: string; count: number; seed: number; width: number; probe: Probe }): Promise<HttpFuzzStats> {
  const stats: HttpFuzzStats = { requests: 0, connections: 0, answered: 0, byStatus: {}, closedByServer: 0, closedAfterHalfClose: 0, hangs: [] };
  // One connection carries up to 5 requests; byte-mutated ones always travel alone and last.
  const connection = fc.array(fc.tuple(request, fc.nat({ max: 9 })), { minLength: 1, maxLength: 5 });
  // Connections are planned while fewer than `count` requests were sent (a closed connection drops the rest of its plan).
  const batches = function* () {
    for (let chunk = 0; ; chunk++) {
      for (const conn of fc.sample(connection, { numRuns: 200, seed: opts.seed + chunk })) {
        if (stats.requests >= opts.count) return;
        const rendered = conn.map(([r, m]) => ({ ...render(r, opts.hostName), mutate: m === 0 }));
        const cut = rendered.findIndex((x) => x.mutate || !x.clean);
        yield cut < 0 ? rendered : rendered.slice(0, cut + 1);
      }
    }
  };
  let sinceProbe = 0;
  await inParallel(batches(), opts.width, async (reqs) => {
    stats.connections++;
    const c = await RawConnection.openOrNote(opts.port, stats.hangs);
    if (c === null) return;
    let offset = 0;
    for (const [i, r] of reqs.entries()) {
      const bytes = r.mutate ? mutateOnce(r.bytes, opts.seed + stats.requests) : r.bytes;
      stats.requests++;
      if (++sinceProbe >= 500) { sinceProbe = 0; opts.probe.check(); }
      c.write(bytes);
      const len = await c.until(() => responseLength(c.received.subarray(offset), r.head), PATIENCE_MS);
      if (len !== null) {
        stats.answered++;
        const status = c.received.subarray(offset, offset + 12).toString('latin1').slice(9, 12);
        stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
        offset += len;
        if (i < reqs.length - 1 && c.ended === null) continue;
      } else if (c.ended !== null) {
        stats.closedByServer++;
        break;
      }
      const closed = await c.finish(HANG_MS);
      if (len === null) {
        if (closed) stats.closedAfterHalfClose++;
        else stats.hangs.push(JSON.stringify(Buffer.from(bytes).subarray(0, 200).toString('latin1')));
      } else if (!closed) stats.hangs.push('an answered connection stayed open after our half-close');
      return;
    }
    c.socket.destroy();
  });
  return stats;
}

/** A few byte edits of a rendered request (flips, cuts, insertions), chosen by `seed`. */
function mutateOnce(bytes: Uint8Array, seed: number): Uint8Array {
  return fc.sample(mutatedBytes(fc.constant(bytes)), { numRuns: 1, seed })[0];
}
