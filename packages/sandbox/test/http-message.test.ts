import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandKind, EventKind } from '@webdat/protocol';
import { checkResponse, headerBudgetProblem, requestData } from '../src/worker/http-message.ts';

const respond = (over: Record<string, unknown>) => ({ c: CommandKind.respond, id: 1, o: 'ok' as const, status: 200, reason: 'OK', headers: [] as string[], body: '', ...over });

test('valid responses pass; reserved headers are dropped; default reasons are filled in', () => {
  const r = respond({ status: 404, reason: 'OK', headers: ['X-A', 'v', 'content-length', '5', 'Set-Cookie', 'a=1; Path=/'] });
  assert.equal(checkResponse(r), null);
  assert.equal(r.reason, 'Not Found');
  assert.deepEqual(r.headers, ['X-A', 'v', 'Set-Cookie', 'a=1; Path=/']);
  const custom = respond({ status: 299, reason: '' });
  assert.equal(checkResponse(custom), null);
});

test('header injection, bad tokens, bad statuses and bad reasons are refused with a reason', () => {
  assert.match(checkResponse(respond({ headers: ['x', 'a\r\nInjected: 1'] }))!, /CR, LF/);
  assert.match(checkResponse(respond({ headers: ['x', 'a\nb'] }))!, /CR, LF/);
  assert.match(checkResponse(respond({ headers: ['x', 'nul\u0000'] }))!, /CR, LF/);
  assert.match(checkResponse(respond({ headers: ['bad name', 'v'] }))!, /invalid header name/);
  assert.match(checkResponse(respond({ headers: ['x:y', 'v'] }))!, /invalid header name/);
  assert.match(checkResponse(respond({ headers: ['', 'v'] }))!, /invalid header name/);
  assert.match(checkResponse(respond({ status: 1000 }))!, /statusCode/);
  assert.match(checkResponse(respond({ status: 99 }))!, /statusCode/);
  assert.match(checkResponse(respond({ status: 200.5 }))!, /statusCode/);
  assert.match(checkResponse(respond({ reason: 'OK\r\nX: y' }))!, /statusReason/);
});

test('textual content types become strings, the rest stays bytes', () => {
  const ev = (type: string | null, body: Uint8Array | null) => ({ data: requestData({
    k: EventKind.http, id: 1, method: 'POST', uri: '/', query: '', headers: type === null ? [] : ['content-type', type],
    body, clientAddress: '', serverAddress: '',
  }) });
  const bytes = new TextEncoder().encode('é');
  for (const t of ['text/plain', 'text/html; charset=utf-8', 'application/json', 'application/problem+json', 'application/x-www-form-urlencoded', 'application/xml', 'image/svg+xml', 'application/javascript']) {
    assert.equal(ev(t, bytes).data, 'é', t);
  }
  for (const t of ['application/octet-stream', 'image/png', 'multipart/form-data; boundary=x', null]) {
    assert.ok(ev(t, bytes).data instanceof Uint8Array, String(t));
  }
  assert.equal(ev('application/octet-stream', null).data, '');
});

test('header fields over limits.maxHeaders or limits.maxHeaderBytes are refused, at the limit they pass', () => {
  const fields = (n: number, value = 'v') => Array.from({ length: n }, (_, i) => [`x-${i}`, value]).flat();
  assert.equal(headerBudgetProblem(fields(100), 100, 65536), null);
  assert.match(headerBudgetProblem(fields(101), 100, 65536)!, /more than limits\.maxHeaders \(100\)/);
  assert.equal(headerBudgetProblem(['a', 'x'.repeat(99)], 100, 100), null);
  assert.match(headerBudgetProblem(['a', 'x'.repeat(100)], 100, 100)!, /101 bytes .*limits\.maxHeaderBytes \(100\)/);
});
