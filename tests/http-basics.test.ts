import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { serveSource } from './helpers/webdat.ts';

const server = await serveSource(`
export function onHTTPRequest(webServer, request, response) {
  response['content-type'] = 'application/json';
  response.data = JSON.stringify({ method: request.method, uri: request.uri, pars: request.pars });
}
`);
after(() => server.stop());

test('a GET reaches onHTTPRequest with method, uri and decoded pars', async () => {
  const r = await fetch(`${server.url}/a/b?x=1&y=h%C3%A9llo+w`);
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { method: 'GET', uri: '/a/b', pars: { x: '1', y: 'héllo w' } });
});
