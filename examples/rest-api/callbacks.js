// A JSON REST API over /api/items, every request checked with HTTP basic authentication.
// Credentials are constants here for the example; a real deployment would generate its own.

const USER = 'editor';
const PASSWORD = 'correct horse battery staple';
/** @type {Map<number, { id: number, name: string, done: boolean }>} */
const items = new Map();
let nextId = 1;

/** @param {import('@webdat/engine/callbacks').Response} response @param {number} status @param {unknown} body */
function json(response, status, body) {
  response.statusCode = status;
  response['content-type'] = 'application/json';
  response.data = JSON.stringify(body);
  return response;
}

/** @param {unknown} body */
function parseItem(body) {
  if (typeof body !== 'string') return null;
  try {
    const v = JSON.parse(body);
    if (typeof v !== 'object' || v === null || typeof v.name !== 'string' || v.name.length === 0 || v.name.length > 200) return null;
    return { name: v.name, done: v.done === true };
  } catch {
    return null;
  }
}

/** @type {import('@webdat/engine/callbacks').OnHTTPRequest} */
export function onHTTPRequest(webServer, request, response) {
  if (!webServer.authenticateBasic(request, USER, PASSWORD)) {
    response['www-authenticate'] = 'Basic realm="items", charset="UTF-8"';
    return json(response, 401, { error: 'authentication required' });
  }
  if (request.uri === '/api/items') {
    if (request.method === 'GET') return json(response, 200, [...items.values()]);
    if (request.method === 'POST') {
      const fields = parseItem(request.data);
      if (fields === null) return json(response, 400, { error: 'expected {"name": string, "done"?: boolean}' });
      const item = { id: nextId++, ...fields };
      items.set(item.id, item);
      response.location = `/api/items/${item.id}`;
      return json(response, 201, item);
    }
    return json(response, 405, { error: 'use GET or POST' });
  }
  const m = /^\/api\/items\/(\d+)$/.exec(request.uri);
  if (m === null) return json(response, 404, { error: 'not found' });
  const id = Number(m[1]);
  const item = items.get(id);
  if (item === undefined) return json(response, 404, { error: `no item ${id}` });
  if (request.method === 'GET') return json(response, 200, item);
  if (request.method === 'PUT') {
    const fields = parseItem(request.data);
    if (fields === null) return json(response, 400, { error: 'expected {"name": string, "done"?: boolean}' });
    const updated = { id, ...fields };
    items.set(id, updated);
    return json(response, 200, updated);
  }
  if (request.method === 'DELETE') {
    items.delete(id);
    response.statusCode = 204;
    response.data = '';
    return response;
  }
  return json(response, 405, { error: 'use GET, PUT or DELETE' });
}
