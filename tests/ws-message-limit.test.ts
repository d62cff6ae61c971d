import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startWebdat, tempDir } from './helpers/webdat.ts';
import { connect } from './helpers/ws.ts';
import { freePort } from './helpers/free-port.ts';

// limits.maxMessageBytes (SPEC §5): a message over it, up to twice it, closes the connection with 1009
// on every kind of port, and never reaches a callback.
const echo = (name: string) => `
let received = 0;
export function onWebSocketReceiveText(w, client, data) { received++; w.webSocketSendText(client, data === 'count' ? String(received) : '${name}:' + data.length); }
export function onWebSocketReceiveBinary(w, client, data) { received++; w.webSocketSendText(client, '${name}-bin:' + data.length); }
`;


const shared = await freePort();
const dir = tempDir({ 'solo.js': echo('solo'), 'alpha.js': echo('alpha'), 'beta.js': echo('beta') });
const config = path.join(dir, 'webdat.json');
fs.writeFileSync(config, JSON.stringify({
  servers: [
    { name: 'solo', host: '127.0.0.1', port: 0, callbacks: 'solo.js', limits: { maxMessageBytes: 1024 } },
    { name: 'alpha', host: '127.0.0.1', port: shared, callbacks: 'alpha.js', hosts: ['alpha.test'], limits: { maxMessageBytes: 1024 } },
    { name: 'beta', host: '127.0.0.1', port: shared, callbacks: 'beta.js', hosts: ['beta.test'], limits: { maxMessageBytes: 4096 } },
  ],
}));
const server = await startWebdat(['--config', config], { expectServers: 3 });
after(() => server.stop());

const ports = [
  { name: 'solo', url: server.urls.get('solo')!.replace('http', 'ws') + '/', host: undefined, limit: 1024 },
  { name: 'alpha', url: `ws://127.0.0.1:${shared}/`, host: 'alpha.test', limit: 1024 },
  // The largest limit on the shared port: the one the listener itself admits.
  { name: 'beta', url: `ws://127.0.0.1:${shared}/`, host: 'beta.test', limit: 4096 },
];

for (const p of ports) {
  test(`${p.name}: messages of limit + 1 and twice the limit close with 1009; one at the limit is delivered`, async () => {
    const open = () => connect(p.url, p.host === undefined ? {} : { headers: { host: p.host } });
    const probe = await open();
    probe.ws.send('count');
    const before = Number(await probe.next());
    const ok = await open();
    ok.ws.send('x'.repeat(p.limit));
    assert.equal(await ok.next(), `${p.name}:${p.limit}`);
    ok.ws.close();
    for (const size of [p.limit + 1, 2 * p.limit]) {
      for (const message of ['y'.repeat(size), Buffer.alloc(size)]) {
        const c = await open();
        c.ws.send(message);
        assert.equal((await c.closed).code, 1009, `${typeof message} of ${size} bytes`);
        assert.deepEqual(c.messages, []);
      }
    }
    probe.ws.send('count');
    assert.equal(Number(await probe.next()), before + 2, 'only the probe\'s count and the message at the limit were received');
    probe.ws.close();
  });
}
