// Binary upload and download: PUT /images/NAME stores the body as sent, GET /images/NAME returns it
// byte for byte with its content type, GET /images lists what is stored. Images live in module state
// (one isolate per server), bounded so a client cannot fill the heap.

const MAX_IMAGES = 50;
const MAX_BYTES = 8 * 1024 * 1024;
/** @type {Map<string, { type: string, bytes: Uint8Array }>} */
const images = new Map();

/** @param {number} status @param {string} text */
function plain(response, status, text) {
  response.statusCode = status;
  response['content-type'] = 'text/plain; charset=utf-8';
  response.data = text;
  return response;
}

/** @type {import('@webdat/engine/callbacks').OnHTTPRequest} */
export function onHTTPRequest(webServer, request, response) {
  if (request.uri === '/images') {
    response['content-type'] = 'application/json';
    response.data = JSON.stringify([...images].map(([name, img]) => ({ name, type: img.type, size: img.bytes.length })));
    return response;
  }
  const m = /^\/images\/([A-Za-z0-9._-]{1,64})$/.exec(request.uri);
  if (m === null) return plain(response, 404, 'try PUT or GET /images/NAME');
  const name = m[1];
  if (request.method === 'PUT' || request.method === 'POST') {
    if (typeof request.data === 'string') return plain(response, 415, 'send the image as binary (image/*)');
    if (request.data.length > MAX_BYTES) return plain(response, 413, 'image too large');
    if (!images.has(name) && images.size >= MAX_IMAGES) return plain(response, 507, 'store full');
    images.set(name, { type: request.headers['content-type'] ?? 'application/octet-stream', bytes: request.data });
    return plain(response, 201, `stored ${request.data.length} bytes`);
  }
  if (request.method === 'DELETE') return plain(response, images.delete(name) ? 200 : 404, 'deleted');
  const img = images.get(name);
  if (img === undefined) return plain(response, 404, 'no such image');
  response['content-type'] = img.type;
  response.data = img.bytes;
  return response;
}
