import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { serveSource } from './helpers/webdat.ts';

// uWS aborts the whole process if a response is touched after the client left; every write path
// must respect onAborted. Clients that vanish mid-request must not hurt the server.
const server = await serveSource(`
export function onHTTPRequest(w, req, res) {
  if (req.uri === '/slow') { const end = Date.now() + 50; while (Date.now() < end) {} }
  if (req.uri === '/big') res.data = 'z'.repeat(4 * 1024 * 1024);
  else if (req.uri === '/never') return new Promise(() => {});
  else res.data = 'fine';
}
`);
after(() => server.stop());

function abortAfterSend(path: string, body = ''): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(server.port, '127.0.0.1', () => {
      s.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: ${body.length + 100}\r\n\r\n${body}`);
      setImmediate(() => { s.destroy(); resolve(); });
    });
    s.on('error', () => resolve());
  });
}

test('clients that leave before the answer, mid-body or mid-download do not disturb the server', async () => {
  const gone: Promise<unknown>[] = [];
  for (let i = 0; i < 20; i++) {
    const ac = new AbortController();
    gone.push(fetch(server.url + (i % 3 === 0 ? '/slow' : i % 3 === 1 ? '/big' : '/never'), { signal: ac.signal }).catch(() => null));
    setImmediate(() => ac.abort());
    gone.push(abortAfterSend('/slow', 'partial body'));
  }
  await Promise.all(gone);
  const r = await fetch(server.url + '/');
  assert.equal(r.status, 200);
  assert.equal(await r.text(), 'fine');
  assert.equal(server.proc.exitCode, null, 'the server process died');
});
