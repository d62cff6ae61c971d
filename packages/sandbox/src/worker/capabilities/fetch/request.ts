// Turns what the isolate sent into a request undici may send, as a browser's fetch would: methods
// normalized and CONNECT/TRACE/TRACK refused, header names and values checked, headers the host
// owns dropped (Host, hop-by-hop and framing headers: a browser silently ignores them too).

export interface OutboundRequest {
  url: URL;
  method: string;
  headers: [string, string][];
  body: Uint8Array | string | null;
  redirect: 'follow' | 'manual' | 'error';
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const NORMALIZED = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);
const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);
const DROPPED_HEADERS = new Set([
  'host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer',
  'upgrade', 'content-length', 'expect', 'http2-settings',
]);

/** Parses the isolate's request; throws a TypeError with the message the callback will see. */
export function parseRequest(raw: unknown): OutboundRequest {
  if (raw === null || typeof raw !== 'object') throw new TypeError('fetch request must be an object');
  const r = raw as Record<string, unknown>;
  if (typeof r.url !== 'string') throw new TypeError('fetch URL must be a string');
  let url: URL;
  try {
    url = new URL(r.url);
  } catch {
    throw new TypeError(`Invalid URL: ${r.url.slice(0, 200)}`);
  }
  if (url.username !== '' || url.password !== '') throw new TypeError('fetch URL must not include credentials');
  url.hash = '';
  const method = parseMethod(r.method ?? 'GET');
  const headers = parseHeaders(r.headers ?? []);
  const body = parseBody(r.body ?? null);
  if (body !== null && (method === 'GET' || method === 'HEAD')) throw new TypeError(`a ${method} request cannot have a body`);
  const redirect = r.redirect ?? 'follow';
  if (redirect !== 'follow' && redirect !== 'manual' && redirect !== 'error') {
    throw new TypeError(`redirect must be "follow", "manual" or "error"`);
  }
  return { url, method, headers, body, redirect };
}

function parseMethod(raw: unknown): string {
  if (typeof raw !== 'string' || !TOKEN.test(raw)) throw new TypeError(`"${String(raw).slice(0, 50)}" is not a valid HTTP method`);
  const upper = raw.toUpperCase();
  if (FORBIDDEN_METHODS.has(upper)) throw new TypeError(`"${raw}" HTTP method is unsupported`);
  return NORMALIZED.has(upper) ? upper : raw;
}

function parseHeaders(raw: unknown): [string, string][] {
  if (!Array.isArray(raw)) throw new TypeError('fetch headers must be a list of [name, value] pairs');
  const out: [string, string][] = [];
  for (const pair of raw) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
      throw new TypeError('fetch headers must be a list of [name, value] pairs of strings');
    }
    const name = pair[0];
    const value = pair[1].replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');
    if (!TOKEN.test(name)) throw new TypeError(`"${name.slice(0, 50)}" is an invalid header name`);
    if (/[\0\r\n]/.test(value)) throw new TypeError(`header "${name}" has an invalid value`);
    const lower = name.toLowerCase();
    if (DROPPED_HEADERS.has(lower) || lower.startsWith('proxy-')) continue;
    out.push([lower, value]);
  }
  return out;
}

function parseBody(raw: unknown): Uint8Array | string | null {
  if (raw === null || typeof raw === 'string' || raw instanceof Uint8Array) return raw;
  if (raw instanceof ArrayBuffer) return new Uint8Array(raw);
  throw new TypeError('fetch body must be a string, a Uint8Array or an ArrayBuffer');
}
