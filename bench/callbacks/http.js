// Workloads a–c (and the quiet server of h, the 100/500 servers of f and g): hello world on any
// path, POST /json parsed and answered, GET /bin 64 KiB of binary. Same logic as every peer.
const BIN = new Uint8Array(64 * 1024);
for (let i = 0; i < BIN.length; i++) BIN[i] = i & 255;

export function onHTTPRequest(webServer, request, response) {
  if (request.uri === '/json') {
    const body = JSON.parse(request.data);
    response['content-type'] = 'application/json';
    response.data = JSON.stringify({ ok: true, id: body.id, items: body.items.length });
    return response;
  }
  if (request.uri === '/bin') {
    response['content-type'] = 'application/octet-stream';
    response.data = BIN;
    return response;
  }
  response['content-type'] = 'text/plain';
  response.data = 'Hello, World!';
  return response;
}
