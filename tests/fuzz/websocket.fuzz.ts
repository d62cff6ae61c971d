import crypto from 'node:crypto';
import fc from 'fast-check';
import { RawConnection, inParallel } from './tcp.ts';
import { HANG_MS } from './http.fuzz.ts';
import type { Probe } from './probe.ts';

// WebSocket frames over raw TCP after a real handshake: bad opcodes, reserved bits, unmasked frames,
// lengths that lie or are not minimal, oversized and fragmented control frames, continuation without
// a start, invalid UTF-8 and close codes. After its frames each connection sends a ping; it must get
// the pong, a close, or (after our half-close) a closed connection within HANG_MS.

const PATIENCE_MS = 3_000;

const frame = fc.record({
  fin: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  rsv: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 7 }) }),
  opcode: fc.oneof({ weight: 10, arbitrary: fc.constantFrom(0, 1, 2, 8, 9, 10) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }) }),
  masked: fc.oneof({ weight: 12, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  payload: fc.oneof(
    { weight: 6, arbitrary: fc.string({ maxLength: 40 }).map((s) => new Uint8Array(Buffer.from(s))) },
    { weight: 3, arbitrary: fc.uint8Array({ maxLength: 200 }) },
    { weight: 1, arbitrary: fc.constantFrom(new Uint8Array([0xc3]), new Uint8Array([0xed, 0xa0, 0x80]), new Uint8Array([0xff, 0xfe]), new Uint8Array([0x03, 0xe8]), new Uint8Array([0x03]), new Uint8Array([0x03, 0xed, 0x61, 0x62]), new Uint8Array([0x00, 0x00]), new Uint8Array([0x13, 0x88])) },
    { weight: 1, arbitrary: fc.integer({ min: 126, max: 70_000 }).map((n) => new Uint8Array(n).fill(0x61)) },
  ),
  length: fc.oneof({ weight: 10, arbitrary: fc.constant('minimal' as const) }, { weight: 1, arbitrary: fc.constantFrom('wide16' as const, 'wide64' as const, 'short' as const, 'long' as const, 'huge' as const) }),
});
type Frame = typeof frame extends fc.Arbitrary<infer T> ? T : never;

/** The same frame made valid: final, masked, minimal length, a data or ping/pong opcode, control payloads of at most 125 bytes. */
function wellFormed(f: Frame): Frame {
  const opcode = [1, 2, 9, 10][f.opcode % 4];
  const payload = opcode === 1 ? new Uint8Array(Buffer.from(Buffer.from(f.payload).toString('utf8'))) : f.payload;
  return { fin: true, rsv: 0, opcode, masked: true, payload: opcode >= 8 ? payload.subarray(0, 125) : payload, length: 'minimal' };
}

function encodeFrame(f: Frame | { fin: boolean; rsv: number; opcode: number; masked: boolean; payload: Uint8Array; length: Frame['length'] }): Buffer {
  const n = f.payload.length;
  const declared = f.length === 'short' ? Math.max(0, n - 1) : f.length === 'long' ? n + 1 : f.length === 'huge' ? 2 ** 40 : n;
  const parts: number[] = [(f.fin ? 0x80 : 0) | (f.rsv << 4) | f.opcode];
  const m = f.masked ? 0x80 : 0;
  if (f.length === 'huge' || f.length === 'wide64' || declared > 0xffff) {
    parts.push(m | 127);
    const big = Buffer.alloc(8);
    big.writeBigUInt64BE(BigInt(declared));
    parts.push(...big);
  } else if (f.length === 'wide16' || declared > 125) {
    parts.push(m | 126, declared >> 8, declared & 0xff);
  } else parts.push(m | declared);
  const key = f.masked ? crypto.randomBytes(4) : null;
  const body = Buffer.from(f.payload);
  if (key !== null) for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  return Buffer.concat([Buffer.from(parts), key ?? Buffer.alloc(0), body]);
}

/** The server's frames in `buf` (never masked), as [opcode, payload]; stops at an incomplete one. */
function serverFrames(buf: Buffer): Array<[number, Buffer]> {
  const out: Array<[number, Buffer]> = [];
  let i = 0;
  while (buf.length - i >= 2) {
    const op = buf[i] & 0x0f;
    let len = buf[i + 1] & 0x7f;
    let at = i + 2;
    if (len === 126) { if (buf.length < at + 2) break; len = buf.readUInt16BE(at); at += 2; } else if (len === 127) { if (buf.length < at + 8) break; len = Number(buf.readBigUInt64BE(at)); at += 8; }
    if (buf.length < at + len) break;
    out.push([op, buf.subarray(at, at + len)]);
    i = at + len;
  }
  return out;
}

export interface WsFuzzStats {
  frames: number;
  connections: number;
  handshakesRefused: number;
  pongs: number;
  closedByServer: number;
  closedAfterHalfClose: number;
  hangs: string[];
}

export async function fuzzWebSocket(opts: { port: number; hostName: string; count: number; seed: number; width: number; probe: Probe }): Promise<WsFuzzStats> {
  const stats: WsFuzzStats = { frames: 0, connections: 0, handshakesRefused: 0, pongs: 0, closedByServer: 0, closedAfterHalfClose: 0, hangs: [] };
  // Half the connections send only well-formed frames, so the echo path is fuzzed as much as the parser.
  const connection = fc.record({ frames: fc.oneof(fc.array(frame, { minLength: 1, maxLength: 12 }), fc.array(frame.map(wellFormed), { minLength: 1, maxLength: 12 })), badHandshake: fc.oneof({ weight: 20, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom('version', 'key', 'upgrade') }) });
  const plans = function* () {
    for (let chunk = 0; ; chunk++) {
      for (const plan of fc.sample(connection, { numRuns: 200, seed: opts.seed + chunk })) {
        if (stats.frames >= opts.count) return;
        yield plan;
      }
    }
  };
  let sinceProbe = 0;
  await inParallel(plans(), opts.width, async (plan) => {
    stats.connections++;
    const c = await RawConnection.openOrNote(opts.port, stats.hangs);
    if (c === null) return;
    const key = plan.badHandshake === 'key' ? 'short' : crypto.randomBytes(16).toString('base64');
    c.write(Buffer.from([
      'GET /ws HTTP/1.1', `Host: ${opts.hostName}`, plan.badHandshake === 'upgrade' ? 'Upgrade: websocket2' : 'Upgrade: websocket', 'Connection: Upgrade',
      `Sec-WebSocket-Key: ${key}`, `Sec-WebSocket-Version: ${plan.badHandshake === 'version' ? '8' : '13'}`, '', '',
    ].join('\r\n')));
    const head = await c.until(() => { const i = c.received.indexOf('\r\n\r\n'); return i < 0 ? null : i + 4; }, HANG_MS);
    if (head === null || !c.received.subarray(0, 12).toString().startsWith('HTTP/1.1 101')) {
      stats.handshakesRefused++;
      stats.frames += plan.frames.length;
      if (!(await c.finish(HANG_MS))) stats.hangs.push(`a refused handshake (${plan.badHandshake}) left the connection open`);
      return;
    }
    const marker = crypto.randomBytes(4);
    for (const f of plan.frames) {
      stats.frames++;
      if (++sinceProbe >= 1000) { sinceProbe = 0; opts.probe.check(); }
      c.write(encodeFrame(f));
    }
    c.write(encodeFrame({ fin: true, rsv: 0, opcode: 9, masked: true, payload: marker, length: 'minimal' }));
    const seen = await c.until(() => {
      const frames = serverFrames(c.received.subarray(head));
      if (frames.some(([op, p]) => op === 10 && p.equals(marker))) return 'pong';
      return frames.some(([op]) => op === 8) ? 'close' : null;
    }, PATIENCE_MS);
    const endedFirst = c.ended !== null;
    if (seen === 'pong') stats.pongs++;
    else if (seen === 'close' || endedFirst) stats.closedByServer++;
    const closed = await c.finish(HANG_MS);
    if (!closed) stats.hangs.push(`a connection stayed open ${HANG_MS} ms after our half-close (${seen ?? 'no answer'})`);
    else if (seen === null && !endedFirst) stats.closedAfterHalfClose++;
  });
  return stats;
}
