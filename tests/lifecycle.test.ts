import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createEngine } from '../packages/engine/dist/index.js';
import { tempDir } from './helpers/webdat.ts';
import { connect } from './helpers/ws.ts';
import path from 'node:path';

// start(), stop(), restart() on the engine's server object, with real sockets (SPEC §3), and the
// lifecycle callbacks around them.
const dir = tempDir({
  'cb.js': `
let events = [];
export function onServerStart(w) { events.push('start'); console.log('lifecycle start ' + w.name); }
export function onServerStop(w) { events.push('stop'); console.log('lifecycle stop ' + w.name); }
export function onHTTPRequest(w, req, res) { events.push('http'); res.data = JSON.stringify(events); }
export function onWebSocketOpen(w, client) { w.webSocketSendText(client, 'open'); }
`,
});
const lines: string[] = [];
const logger = pino({ level: 'info' }, new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } }));
const announced: string[] = [];
const engine = createEngine({ servers: [{ name: 'life', host: '127.0.0.1', port: 0, callbacks: path.join(dir, 'cb.js') }] }, { logger, announce: (l) => announced.push(l) });
await engine.start();
const server = engine.server('life');
after(() => engine.stop());
const url = () => `http://127.0.0.1:${server.port}/`;

test('onServerStart runs before the first event', async () => {
  const events = await (await fetch(url())).json();
  assert.deepEqual(events.slice(0, 2), ['start', 'http']);
  assert.match(announced[0], /server "life" listening on http:\/\/127\.0\.0\.1:\d+/);
});

test('info() reports the running server', () => {
  const info = server.info();
  assert.equal(info.server_running, 1);
  assert.ok(info.requests >= 1);
});

test('stop() runs onServerStop, closes the listener and reports not running; start() serves again', async () => {
  const port = server.port;
  await server.stop();
  assert.equal(server.info().server_running, 0);
  assert.ok(lines.some((l) => l.includes('lifecycle stop life') && l.includes('"server":"life"')), 'onServerStop log line, tagged with the server name');
  await assert.rejects(fetch(`http://127.0.0.1:${port}/`));
  await server.start();
  assert.equal(server.info().server_running, 1);
  const events = await (await fetch(url())).json();
  assert.deepEqual(events.slice(-3), ['stop', 'start', 'http'], 'module state survives stop/start; hooks ran in order');
});

test('restart() closes WebSocket clients with 1012 and serves again', async () => {
  const c = await connect(`ws://127.0.0.1:${server.port}/`);
  assert.equal(await c.next(), 'open');
  const restarting = server.restart();
  const closed = await c.closed;
  assert.equal(closed.code, 1012);
  await restarting;
  const events = await (await fetch(url())).json();
  assert.deepEqual(events.slice(-3), ['stop', 'start', 'http']);
});

test('console.* in callbacks reaches the host log, tagged with the server name', () => {
  const start = lines.find((l) => l.includes('lifecycle start life'));
  assert.ok(start, 'no log line from onServerStart');
  assert.equal(JSON.parse(start).server, 'life');
});
