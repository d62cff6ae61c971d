import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { serveSource } from './helpers/webdat.ts';
import { connect } from './helpers/ws.ts';

// webSocketClose(client, code, reason): a close frame holds at most 123 bytes of reason. The reason
// is cut there at a character boundary, so the client gets valid UTF-8 and the code it was sent.
const server = await serveSource(`
export function onWebSocketReceiveText(w, client, data) {
  const [unit, count] = JSON.parse(data);
  w.webSocketClose(client, 4000, unit.repeat(count));
}
`);
after(() => server.stop());
const url = server.url.replace('http', 'ws') + '/';

async function closeWith(unit: string, count: number): Promise<{ code: number; reason: string }> {
  const c = await connect(url);
  c.ws.send(JSON.stringify([unit, count]));
  return c.closed;
}

test('a reason of two-byte characters over 123 bytes is cut before the character that does not fit', async () => {
  assert.deepEqual(await closeWith('é', 62), { code: 4000, reason: 'é'.repeat(61) });
  assert.deepEqual(await closeWith('é', 200), { code: 4000, reason: 'é'.repeat(61) });
});

test('three- and four-byte characters are never split', async () => {
  assert.deepEqual(await closeWith('€', 42), { code: 4000, reason: '€'.repeat(41) });
  assert.deepEqual(await closeWith('😀', 31), { code: 4000, reason: '😀'.repeat(30) });
  // 122 ASCII bytes and an emoji cut in half by the 123-unit slice of the reason: no replacement character.
  assert.deepEqual(await closeWith('a'.repeat(122) + '😀', 1), { code: 4000, reason: 'a'.repeat(122) });
});

test('a reason that fits arrives whole, up to exactly 123 bytes', async () => {
  assert.deepEqual(await closeWith('a', 123), { code: 4000, reason: 'a'.repeat(123) });
  assert.deepEqual(await closeWith('a', 300), { code: 4000, reason: 'a'.repeat(123) });
  assert.deepEqual(await closeWith('é', 61), { code: 4000, reason: 'é'.repeat(61) });
  assert.deepEqual(await closeWith('a', 0), { code: 4000, reason: '' });
});
