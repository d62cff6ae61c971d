import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { serveSource } from './helpers/webdat.ts';
import { connect } from './helpers/ws.ts';

// WebSocket callbacks and the webServer WebSocket API (SPEC §4), with the real `ws` client.
const server = await serveSource(`
const opened = {};
export function onWebSocketOpen(w, client, uri) {
  opened[client] = uri;
  w.webSocketSendText(client, JSON.stringify({ hello: client, uri, connections: w.webSocketConnections.length }));
}
export function onWebSocketReceiveText(w, client, data) {
  if (data === 'who') return w.webSocketSendText(client, JSON.stringify(w.webSocketConnections));
  if (data === 'ping-me') return w.webSocketSendPing(client, new Uint8Array([1, 2, 3]));
  if (data === 'close-me') return w.webSocketClose(client, 4001, 'as you wish');
  if (data === 'broadcast') return w.webSocketBroadcastText('to everyone from ' + client);
  if (data === 'broadcast-bin') return w.webSocketBroadcastBinary(new Uint8Array([7, 7]));
  if (data === 'gone') return w.webSocketSendText(client, String(w.webSocketSendText('nobody#0', 'x')) + ' ' + String(w.webSocketClose('nobody#0')));
  if (data === 'info') return w.webSocketSendText(client, JSON.stringify(w.info));
  if (data === 'pong-me') return w.webSocketSendText(client, String(w.webSocketSendPong(client, new Uint8Array([1]))));
  if (data === 'burst') { for (let i = 0; i < 100; i++) w.webSocketSendText(client, 'b' + i); return; }
  w.webSocketSendText(client, 'echo:' + data);
}
export function onWebSocketReceiveBinary(w, client, data) {
  w.webSocketSendBinary(client, data.map((b) => 255 - b));
}
export function onWebSocketReceivePing(w, client, data) { w.webSocketSendText(client, 'got ping ' + Array.from(data).join(',')); }
export function onWebSocketReceivePong(w, client, data) { w.webSocketSendText(client, 'got pong ' + Array.from(data).join(',')); }
export function onWebSocketClose(w, client) { console.log('closed ' + client + ' from ' + opened[client]); }
`);
after(() => server.stop());
const wsUrl = (p: string) => server.url.replace('http', 'ws') + p;

test('onWebSocketOpen gets a readable client id and the uri with its query', async () => {
  const c = await connect(wsUrl('/chat/room?name=ada&x=1'));
  const hello = JSON.parse(String(await c.next()));
  assert.equal(hello.uri, '/chat/room?name=ada&x=1');
  assert.match(hello.hello, /127\.0\.0\.1/);
  assert.ok(hello.connections >= 1);
  c.ws.close();
});

test('text and binary messages reach their callbacks, answers come back', async () => {
  const c = await connect(wsUrl('/'));
  await c.next();
  c.ws.send('héllo');
  assert.equal(await c.next(), 'echo:héllo');
  c.ws.send(Buffer.from([0, 1, 254]));
  assert.deepEqual([...(await c.next() as Buffer)], [255, 254, 1]);
  c.ws.close();
});

test('1000 messages arrive in order, and a burst of sends reaches the client in the order made', async () => {
  const c = await connect(wsUrl('/'));
  await c.next();
  for (let i = 0; i < 1000; i++) c.ws.send(String(i));
  const got = await c.waitFor(1001);
  assert.deepEqual(got.slice(1), Array.from({ length: 1000 }, (_, i) => `echo:${i}`));
  c.ws.send('burst');
  const all = await c.waitFor(1101);
  assert.deepEqual(all.slice(1001), Array.from({ length: 100 }, (_, i) => `b${i}`));
  c.ws.close();
});

test('pings and pongs reach callbacks; webSocketSendPing reaches the client', async () => {
  const c = await connect(wsUrl('/'));
  await c.next();
  c.ws.ping(Buffer.from([4, 5]));
  assert.equal(await c.next(), 'got ping 4,5');
  c.ws.pong(Buffer.from([6]));
  assert.equal(await c.next(), 'got pong 6');
  c.ws.send('ping-me');
  const t0 = c.pings.length;
  await new Promise<void>((r) => { const i = setInterval(() => { if (c.pings.length > t0) { clearInterval(i); r(); } }, 5); });
  assert.deepEqual([...c.pings[t0]], [1, 2, 3]);
  c.ws.close();
});

test('webSocketClose closes with the given code and reason', async () => {
  const c = await connect(wsUrl('/'));
  await c.next();
  c.ws.send('close-me');
  assert.deepEqual(await c.closed, { code: 4001, reason: 'as you wish' });
});

test('broadcasts reach every client, text and binary', async () => {
  const a = await connect(wsUrl('/a'));
  const b = await connect(wsUrl('/b'));
  await a.next(); await b.next();
  a.ws.send('broadcast');
  assert.match(String(await a.next()), /^to everyone from /);
  assert.match(String(await b.next()), /^to everyone from /);
  b.ws.send('broadcast-bin');
  assert.deepEqual([...(await a.next() as Buffer)], [7, 7]);
  assert.deepEqual([...(await b.next() as Buffer)], [7, 7]);
  a.ws.close(); b.ws.close();
});

test('webSocketConnections lists open clients; sends to a gone client return false', async () => {
  const a = await connect(wsUrl('/'));
  const helloA = JSON.parse(String(await a.next()));
  const b = await connect(wsUrl('/'));
  const helloB = JSON.parse(String(await b.next()));
  a.ws.send('who');
  const list = JSON.parse(String(await a.next()));
  assert.ok(list.includes(helloA.hello) && list.includes(helloB.hello));
  b.ws.close();
  await b.closed;
  await server.waitFor(new RegExp(`closed ${helloB.hello.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} from /`));
  a.ws.send('who');
  assert.ok(!JSON.parse(String(await a.next())).includes(helloB.hello));
  a.ws.send('gone');
  assert.equal(await a.next(), 'false false');
  a.ws.close();
});

test('webSocketSendPong returns false: the I/O layer cannot send an unsolicited pong', async () => {
  const a = await connect(wsUrl('/'));
  await a.next();
  a.ws.send('pong-me');
  assert.equal(await a.next(), 'false');
  a.ws.close();
});

test('webServer.info counts the connections', async () => {
  const a = await connect(wsUrl('/'));
  await a.next();
  a.ws.send('info');
  const info = JSON.parse(String(await a.next()));
  assert.equal(info.server_running, 1);
  assert.ok(info.websocket_connections >= 1);
  a.ws.close();
});
