import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serveSource } from './helpers/webdat.ts';
import { connect, type Client } from './helpers/ws.ts';

// SPEC §5 "every request gets an answer (or its connection is closed)": a WebSocket event that goes
// with its isolate is never answered, so its connection is closed with 1011, as when a worker is lost.

/** The close of `c`, or a failure once `ms` passed without one. */
function closedWithin(c: Client, ms: number, what: string): Promise<{ code: number; reason: string }> {
  let timer: NodeJS.Timeout | undefined;
  const bounded = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} stayed open`)), ms); });
  return Promise.race([c.closed, bounded]).finally(() => clearTimeout(timer));
}

test('WebSocket events lost with an isolate over its memory limit close their connections with 1011; idle connections stay open', async () => {
  // The longest time and CPU limits allowed: the heap limit is what stops the bomb however loaded the machine.
  const s = await serveSource(`
let n = 0;
export async function onWebSocketReceiveText(w, client, data) {
  if (data === 'wait') { console.log('waiting on ' + data); await new Promise((r) => setTimeout(r, 600000)); }
  if (data === 'eat') { const keep = []; for (;;) keep.push(new Array(1e5).fill(n)); }
  w.webSocketSendText(client, 'echo ' + data + ' ' + (++n));
}`, ['--memory-mb', '32', '--timeout-ms', '600000', '--cpu-ms', '60000']);
  try {
    const url = s.url.replace('http', 'ws');
    const idle = await connect(url);
    const waiting = await connect(url);
    const culprit = await connect(url);
    idle.ws.send('one');
    assert.equal(await idle.next(), 'echo one 1');
    waiting.ws.send('wait');
    await s.waitFor(/waiting on wait/);
    culprit.ws.send('eat');
    const bystander = await closedWithin(waiting, 60_000, 'the connection whose message went with the isolate');
    assert.deepEqual(bystander, { code: 1011, reason: 'Event Lost' }, 'its message will never be answered: the client is told so');
    assert.deepEqual(await closedWithin(culprit, 20_000, 'the connection whose message broke the limit'), { code: 1011, reason: 'Event Lost' });
    await s.waitFor(/memory limit/);
    idle.ws.send('two');
    assert.equal(await idle.next(), 'echo two 1', 'a connection with nothing in flight stays open, served by the recreated isolate');
    idle.ws.close();
  } finally {
    await s.stop();
  }
});
