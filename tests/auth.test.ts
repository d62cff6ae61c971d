import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { serveSource } from './helpers/webdat.ts';

// webServer.authenticateBasic(request, username, password) (SPEC §4).
const server = await serveSource(`
export function onHTTPRequest(w, req, res) {
  if (!w.authenticateBasic(req, 'ädmin', 'p:ss wörd')) {
    res.statusCode = 401;
    res['www-authenticate'] = 'Basic realm="webdat"';
    res.data = 'denied';
    return res;
  }
  res.data = 'welcome';
}
`);
after(() => server.stop());

const basic = (s: string) => 'Basic ' + Buffer.from(s, 'utf8').toString('base64');
async function status(authorization?: string) {
  const r = await fetch(server.url + '/', { headers: authorization === undefined ? {} : { authorization } });
  return [r.status, await r.text()];
}

test('the right user and password (UTF-8, with a colon) are accepted', async () => {
  assert.deepEqual(await status(basic('ädmin:p:ss wörd')), [200, 'welcome']);
  assert.deepEqual(await status('basic ' + Buffer.from('ädmin:p:ss wörd').toString('base64')), [200, 'welcome']);
});

test('wrong or missing credentials are refused', async () => {
  assert.deepEqual(await status(), [401, 'denied']);
  assert.deepEqual(await status(basic('ädmin:wrong')), [401, 'denied']);
  assert.deepEqual(await status(basic('admin:p:ss wörd')), [401, 'denied']);
  assert.deepEqual(await status(basic('ädmin:p:ss wörd ')), [401, 'denied']);
  assert.deepEqual(await status(basic('ädmin:p:ss wör')), [401, 'denied']);
});

test('malformed headers are simply false', async () => {
  for (const h of ['Basic', 'Basic !!!', 'Bearer abc', 'Basic ' + 'A'.repeat(5000), 'Basic YWRtaW4', 'Digest x=1', basic('no-colon')]) {
    assert.deepEqual(await status(h), [401, 'denied'], h);
  }
});
