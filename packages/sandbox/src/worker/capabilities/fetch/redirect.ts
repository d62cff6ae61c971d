import type { OutboundRequest } from './request.js';

export const MAX_REDIRECTS = 20;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const BODY_HEADERS = new Set(['content-encoding', 'content-language', 'content-location', 'content-type']);
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie']);

/** Where a response sends the request next, or null when it is not a redirect (the fetch spec's rules). */
export function redirectTarget(status: number, location: string | null, current: URL): URL | null {
  if (!REDIRECT_STATUSES.has(status) || location === null) return null;
  let next: URL;
  try {
    next = new URL(location, current);
  } catch {
    throw new TypeError(`fetch to ${current.href} failed: redirect location "${location.slice(0, 200)}" is not a valid URL`);
  }
  next.hash = '';
  return next;
}

/** The request of the next hop: 303 (and 301/302 after POST) turn into a body-less GET; credentials stay with their origin. */
export function followRedirect(req: OutboundRequest, status: number, next: URL): OutboundRequest {
  let { method, body, headers } = req;
  if (((status === 301 || status === 302) && method === 'POST') || (status === 303 && method !== 'GET' && method !== 'HEAD')) {
    method = 'GET';
    body = null;
    headers = headers.filter(([name]) => !BODY_HEADERS.has(name));
  }
  if (next.origin !== req.url.origin) headers = headers.filter(([name]) => !CREDENTIAL_HEADERS.has(name));
  return { ...req, url: next, method, body, headers };
}
