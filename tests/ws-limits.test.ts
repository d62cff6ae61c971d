import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import WebSocket from 'ws';
import { startWebdat, tempDir } from './helpers/webdat.ts';
import { connect } from './helpers/ws.ts';

// limits.maxMessageBytes, limits.maxConnections and slow readers (SPEC §5).
const dir = tempDir({
  'cb.js': `
let received = 0;
export function onWebSocketReceiveText(w, client, data) {
  received++;
  if (data === 'count') return w.webSocketSendText(client, String(received));
  if (data === 'info') return w.webSocketSendText(client, JSON.stringify(w.info));
  if (data === 'conns') return w.webSocketSendText(client, String(w.webSocketConnections.length));
  if (data === 'flood') { for (let i = 0; i < 400; i++) w.webSocketSendBinary(client, new Uint8Array(64 * 1024)); return; }
  w.webSocketSendText(client, 'ok:' + data.length);
}
export function onWebSocketReceiveBinary(w, client, data) { received++; w.webSocketSendText(client, 'bin:' + data.length); }
`,
});
const config = path.join(dir, 'webdat.json');
fs.writeFileSync(config, JSON.stringify({
  // The slow-reader flood (25 MiB in one invocation) needs an output budget above it.
  servers: [{ name: 'ws-limits', host: '127.0.0.1', port: 0, callbacks: 'cb.js', limits: { maxMessageBytes: 1024, maxConnections: 3, timeoutMs: 1000, maxOutputBytes: 32 * 1024 * 1024 } }],
}));
const server = await startWebdat(['--config', config]);
after(() => server.stop());
const url = server.url.replace('http', 'ws') + '/';

test('a message over limits.maxMessageBytes closes the connection and never reaches a callback', async () => {
  const probe = await connect(url);
  probe.ws.send('count');
  const before = Number(await probe.next());
  const c = await connect(url);
  c.ws.send('x'.repeat(1024));
  assert.equal(await c.next(), 'ok:1024');
  c.ws.send('y'.repeat(1025));
  assert.equal((await c.closed).code, 1009);
  const b = await connect(url);
  b.ws.send(Buffer.alloc(2000));
  assert.equal((await b.closed).code, 1009);
  probe.ws.send('count');
  assert.equal(Number(await probe.next()), before + 2, 'only the probe\'s own message and the 1024-byte one were received');
  probe.ws.close();
});

test('connections beyond limits.maxConnections are refused; a freed slot can be reused', async () => {
  const open = [await connect(url), await connect(url), await connect(url)];
  const refused = await new Promise<number>((resolve) => {
    const ws = new WebSocket(url);
    ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate(); });
    ws.on('open', () => { resolve(101); ws.close(); });
    ws.on('error', () => resolve(-1));
  });
  assert.equal(refused, 503);
  open[0].ws.close();
  await open[0].closed;
  let again: Awaited<ReturnType<typeof connect>> | null = null;
  for (const until = Date.now() + 10_000; again === null && Date.now() < until;) {
    again = await connect(url).catch(() => null);
    if (again === null) await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(again, 'a freed slot was not reusable');
  again.ws.send('hi');
  assert.equal(await again.next(), 'ok:2');
  for (const c of [again, open[1], open[2]]) c.ws.close();
  await Promise.all([again.closed, open[1].closed, open[2].closed]);
});

test('a client that never reads is disconnected once its buffer is full, and others keep working', async () => {
  // A raw socket that completes the handshake and then never reads a byte.
  const key = Buffer.from('0123456789abcdef').toString('base64');
  const slow = net.connect(server.port, '127.0.0.1');
  await new Promise<void>((r) => slow.once('connect', () => r()));
  slow.write(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  await new Promise<void>((r) => slow.once('data', () => { slow.pause(); r(); }));
  const healthy = await connect(url);
  healthy.ws.send('conns');
  assert.equal(await healthy.next(), '2');
  const mask = Buffer.from([1, 2, 3, 4]);
  const payload = Buffer.from('flood');
  slow.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, Buffer.from(payload.map((b, i) => b ^ mask[i % 4]))]));
  // 400 × 64 KiB = 25 MiB for a reader that never reads, against a 1 MiB cap: the server must drop
  // the connection (the client only notices once it reads what the kernel already holds).
  let conns = '2';
  for (const until = Date.now() + 60_000; conns !== '1' && Date.now() < until;) {
    healthy.ws.send('conns');
    conns = String(await healthy.next());
    if (conns !== '1') await new Promise((r) => setTimeout(r, 25));
  }
  assert.equal(conns, '1', 'the slow reader is still connected');
  healthy.ws.send('after');
  assert.equal(await healthy.next(), 'ok:5');
  healthy.ws.close();
  slow.destroy();
});

test('refused upgrades and closed slow readers are counted in the info channels', async () => {
  const c = await connect(url);
  c.ws.send('info');
  const info = JSON.parse(String(await c.next()));
  // the test above retries its freed slot until the server saw the close, so a retry may be refused too
  assert.ok(info.connections_refused >= 1, `connections_refused ${info.connections_refused}`);
  assert.equal(info.slow_readers_closed, 1);
  c.ws.close();
  await c.closed;
});
