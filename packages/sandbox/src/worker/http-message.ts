import { STATUS_CODES } from 'node:http';
import type { CommandKind, Command, HttpEvent } from '@webdat/protocol';

// Request bodies become strings for textual content types and stay bytes otherwise (SPEC §4);
// responses from callbacks are checked here so that nothing invalid is ever handed to the I/O layer.

const TEXTUAL = /^(text\/|application\/(json|x-www-form-urlencoded|xml|javascript|ecmascript|x-javascript)\b|[^;]*\+(json|xml)\b)/i;
const utf8 = new TextDecoder('utf-8');

function contentType(headers: string[]): string {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === 'content-type') return headers[i + 1];
  return '';
}

/** What a callback sees as `request.data`: the body decoded for textual content types, bytes otherwise, '' without one. */
export function requestData(e: HttpEvent): string | Uint8Array {
  const body = e.body;
  return body === null ? '' : TEXTUAL.test(contentType(e.headers)) ? utf8.decode(body) : body;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Field values: visible ASCII, obs-text, space and tab; never CR, LF or NUL.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
// Set by the I/O layer itself; a callback's copy would duplicate or contradict it.
const RESERVED = new Set(['content-length', 'transfer-encoding', 'connection', 'date', 'upgrade', 'keep-alive']);

/**
 * The response's header fields against limits.maxHeaders and limits.maxHeaderBytes (names and values
 * together), as nginx bounds an upstream's headers by its buffers: every field costs the I/O thread a
 * write. Returns the problem, or null when they fit.
 */
export function headerBudgetProblem(headers: string[], maxHeaders: number, maxHeaderBytes: number): string | null {
  if (headers.length / 2 > maxHeaders) return `more than limits.maxHeaders (${maxHeaders}) header fields`;
  let bytes = 0;
  for (let i = 0; i < headers.length; i++) bytes += headers[i].length;
  if (bytes > maxHeaderBytes) return `${bytes} bytes of header fields, more than limits.maxHeaderBytes (${maxHeaderBytes})`;
  return null;
}

/**
 * Checks and normalises a callback's response in place. Returns an error message when the response
 * must not be written (the event then ends as an exception), or null when it is fine.
 */
export function checkResponse(cmd: Command & { c: typeof CommandKind.respond }): string | null {
  const s = cmd.status;
  if (!Number.isInteger(s) || s < 100 || s > 999) return `invalid statusCode ${String(s)}: expected an integer from 100 to 999`;
  if (s < 200 && s !== 101) return `statusCode ${s} is not allowed for a final response`;
  if (!FIELD_VALUE.test(cmd.reason) || /[\t]/.test(cmd.reason)) return 'invalid statusReason: it contains characters not allowed in an HTTP status line';
  if (cmd.reason === '' || (cmd.reason === 'OK' && s !== 200)) cmd.reason = STATUS_CODES[s] ?? '';
  const h = cmd.headers;
  const kept: string[] = [];
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i], value = h[i + 1];
    if (!TOKEN.test(name)) return `invalid header name ${JSON.stringify(name.slice(0, 64))}`;
    if (!FIELD_VALUE.test(value)) return `invalid value for header ${name}: CR, LF and control characters are not allowed`;
    if (RESERVED.has(name.toLowerCase())) continue;
    kept.push(name, value);
  }
  cmd.headers = kept;
  return null;
}
