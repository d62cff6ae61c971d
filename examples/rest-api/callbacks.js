// A JSON REST API over /api/items, every request checked with HTTP basic authentication. The items
// live in webServer.storage, so they outlive restarts, reloads and a memory-limit breach.
// Credentials are constants here for the example; a real deployment would generate its own.

const USER = 'editor';
const PASSWORD = 'correct horse battery staple';
const MAX_ITEMS = 1000;

/**
 * Ids come from a counter kept in storage beside the items and read once per isolate; the isolate
 * hands them out synchronously, so concurrent POSTs never share one. (A server run with `instances`
 * has several isolates and would need ids that need no counter, such as crypto.randomUUID().)
 * @type {Promise<void> | null}
 */
let counterRead = null;
let nextId = 1;

/** @param {import('@webdat/engine/callbacks').Storage} storage */
async function allocateId(storage) {
  // A read that failed (its request ran out of time, say) is tried again by the next request.
  counterRead ??= storage.get('next-id').then(
    (stored) => { nextId = typeof stored === 'number' ? stored : 1; },
    (err) => { counterRead = null; throw err; },
  );
  await counterRead;
  return nextId++;
}

/** Keys sort as strings: zero-padded ids keep `list` in id order. @param {number} id */
const itemKey = (id) => `item:${String(id).padStart(10, '0')}`;

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
export async function onHTTPRequest(webServer, request, response) {
  if (!webServer.authenticateBasic(request, USER, PASSWORD)) {
    response['www-authenticate'] = 'Basic realm="items", charset="UTF-8"';
    return json(response, 401, { error: 'authentication required' });
  }
  const storage = webServer.storage;
  if (request.uri === '/api/items') {
    if (request.method === 'GET') return json(response, 200, (await storage.list({ prefix: 'item:', limit: MAX_ITEMS })).map((e) => e.value));
    if (request.method === 'POST') {
      const fields = parseItem(request.data);
      if (fields === null) return json(response, 400, { error: 'expected {"name": string, "done"?: boolean}' });
      const item = { id: await allocateId(storage), ...fields };
      // puts made in one go share one commit: the item and the counter are written together
      await Promise.all([storage.put(itemKey(item.id), item), storage.put('next-id', nextId)]);
      response.location = `/api/items/${item.id}`;
      return json(response, 201, item);
    }
    return json(response, 405, { error: 'use GET or POST' });
  }
  const m = /^\/api\/items\/(\d{1,10})$/.exec(request.uri);
  if (m === null) return json(response, 404, { error: 'not found' });
  const id = Number(m[1]);
  const item = await storage.get(itemKey(id));
  if (item === undefined) return json(response, 404, { error: `no item ${id}` });
  if (request.method === 'GET') return json(response, 200, item);
  if (request.method === 'PUT') {
    const fields = parseItem(request.data);
    if (fields === null) return json(response, 400, { error: 'expected {"name": string, "done"?: boolean}' });
    const updated = { id, ...fields };
    await storage.put(itemKey(id), updated);
    return json(response, 200, updated);
  }
  if (request.method === 'DELETE') {
    await storage.delete(itemKey(id));
    response.statusCode = 204;
    response.data = '';
    return response;
  }
  return json(response, 405, { error: 'use GET, PUT or DELETE' });
}
