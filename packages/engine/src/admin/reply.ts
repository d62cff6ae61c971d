import { STATUS_CODES } from 'node:http';
import type { HttpResponse } from 'uWebSockets.js';

// The uWS rules for the admin listener, kept in one place: onAborted is attached before anything
// asynchronous, a response is written once, inside cork() (writes after an await need it), and
// never after the client left.

export type Headers = Record<string, string>;

const COMMON: Headers = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };

export class Reply {
  private aborted = false;
  private done = false;
  private readonly extra: Headers = {};
  private observer: ((status: number) => void) | null = null;

  /** `head`: a HEAD request, answered with the headers (and length) a GET would get, no body */
  constructor(private readonly res: HttpResponse, private readonly head = false) {
    res.onAborted(() => { this.aborted = true; });
  }

  get open(): boolean {
    return !this.aborted && !this.done;
  }

  /** Adds a header to whatever answer is sent. */
  header(name: string, value: string): void {
    this.extra[name] = value;
  }

  /** `fn` learns the status of the answer, once, even when the client left before it was written. */
  observe(fn: (status: number) => void): void {
    this.observer = fn;
  }

  /** The raw response, for reading a body; writes go through send(). */
  get response(): HttpResponse {
    return this.res;
  }

  send(status: number, headers: Headers, body: string, close = false): void {
    if (this.done) return;
    this.done = true;
    const observer = this.observer;
    this.observer = null;
    observer?.(status);
    if (this.aborted) return;
    const res = this.res;
    res.cork(() => {
      res.writeStatus(`${status} ${STATUS_CODES[status] ?? ''}`);
      for (const k in COMMON) res.writeHeader(k, COMMON[k]);
      for (const k in this.extra) res.writeHeader(k, this.extra[k]);
      for (const k in headers) res.writeHeader(k, headers[k]);
      if (this.head) res.endWithoutBody(Buffer.byteLength(body), close);
      else res.end(body, close);
    });
  }

  json(status: number, value: unknown, headers: Headers = {}, close = false): void {
    this.send(status, { 'content-type': 'application/json; charset=utf-8', ...headers }, JSON.stringify(value) + '\n', close);
  }

  /** Error bodies are `{ "error": <code or kind>, "message": <sentence> }`. */
  error(status: number, error: string, message: string, headers: Headers = {}, close = false): void {
    this.json(status, { error, message }, headers, close);
  }
}
