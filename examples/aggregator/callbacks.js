// GET /dashboard: fetches the sources of one upstream at the same time and answers with one JSON
// document. A source that fails (down, refused, too large) is reported, not fatal.

import { UPSTREAM } from './upstream.js';

const SOURCES = ['status', 'orders', 'weather'];

/** @param {string} name */
async function load(name) {
  try {
    const res = await fetch(`${UPSTREAM}/${name}.json`, { headers: { accept: 'application/json' } });
    if (!res.ok) return { error: `${res.status} ${res.statusText}` };
    return { data: await res.json() };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

/** @type {import('@webdat/engine/callbacks').OnHTTPRequest} */
export async function onHTTPRequest(webServer, request, response) {
  if (request.uri !== '/dashboard') {
    response.statusCode = 404;
    response.data = 'try /dashboard';
    return response;
  }
  const results = await Promise.all(SOURCES.map(load));
  /** @type {Record<string, unknown>} */
  const body = { sources: SOURCES.length, failed: [] };
  results.forEach((r, i) => {
    if ('data' in r) body[SOURCES[i]] = r.data;
    else /** @type {string[]} */ (body.failed).push(`${SOURCES[i]}: ${r.error}`);
  });
  response.statusCode = results.every((r) => 'data' in r) ? 200 : 207;
  response['content-type'] = 'application/json';
  response['cache-control'] = 'no-store';
  response.data = JSON.stringify(body);
  return response;
}
