// Runs inside the isolate. SPEC §10: `fetch` and `Headers` as in browsers, over the host operation
// 'fetch'. The request goes out as plain fields; the host (capabilities/fetch) checks egress, makes the
// connection, reads the body up to limits.maxFetchBytes, and answers the whole response at once. A
// body over that limit arrives as `bodyError`: status and headers resolve, reading the body rejects.

import type { HostOps } from './host-ops.js';

interface WireResponse {
  status: number;
  statusText: string;
  url: string;
  redirected: boolean;
  headers: [string, string][];
  body: Uint8Array;
  bodyError?: string;
  /** the concurrency slot the response holds until its body is read (null: none) */
  slot: number | null;
}

export function installFetch(g: any, ops: HostOps): void {
  const TypeErrorCtor = TypeError;
  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  const BAD_VALUE = /[\0\r\n]/;

  function name(n: unknown): string {
    const s = String(n);
    if (!TOKEN.test(s)) throw new TypeErrorCtor(`invalid header name: ${JSON.stringify(s)}`);
    return s.toLowerCase();
  }
  function value(v: unknown): string {
    const s = String(v).replace(/^[\t ]+|[\t ]+$/g, '');
    if (BAD_VALUE.test(s)) throw new TypeErrorCtor('invalid header value');
    return s;
  }

  class Headers {
    #list: [string, string][] = [];
    constructor(init?: unknown) {
      if (init === undefined || init === null) return;
      if (init instanceof Headers) { init.forEach((v, k) => this.append(k, v)); return; }
      if (typeof init !== 'object') throw new TypeErrorCtor('Headers: init must be an object, an array of pairs or Headers');
      if (typeof (init as any)[Symbol.iterator] === 'function') {
        for (const pair of init as Iterable<unknown>) {
          const arr = [...(pair as Iterable<unknown>)];
          if (arr.length !== 2) throw new TypeErrorCtor('Headers: each pair must be [name, value]');
          this.append(arr[0], arr[1]);
        }
        return;
      }
      for (const k of Object.keys(init)) this.append(k, (init as any)[k]);
    }
    append(n: unknown, v: unknown): void { this.#list.push([name(n), value(v)]); }
    set(n: unknown, v: unknown): void {
      const k = name(n);
      const val = value(v);
      const i = this.#list.findIndex((p) => p[0] === k);
      if (i < 0) { this.#list.push([k, val]); return; }
      this.#list[i][1] = val;
      this.#list = this.#list.filter((p, j) => p[0] !== k || j === i);
    }
    get(n: unknown): string | null {
      const k = name(n);
      const vals = this.#list.filter((p) => p[0] === k).map((p) => p[1]);
      return vals.length === 0 ? null : vals.join(', ');
    }
    has(n: unknown): boolean { const k = name(n); return this.#list.some((p) => p[0] === k); }
    delete(n: unknown): void { const k = name(n); this.#list = this.#list.filter((p) => p[0] !== k); }
    forEach(fn: (value: string, key: string, headers: Headers) => void, thisArg?: unknown): void {
      for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this);
    }
    *entries(): IterableIterator<[string, string]> {
      const keys = [...new Set(this.#list.map((p) => p[0]))].sort();
      for (const k of keys) yield [k, this.get(k)!];
    }
    *keys(): IterableIterator<string> { for (const [k] of this.entries()) yield k; }
    *values(): IterableIterator<string> { for (const [, v] of this.entries()) yield v; }
    [Symbol.iterator](): IterableIterator<[string, string]> { return this.entries(); }
    get [Symbol.toStringTag](): string { return 'Headers'; }
    /** the pairs as sent, repeated names kept apart */
    static pairs(h: Headers): [string, string][] { return h.#list.map((p) => [p[0], p[1]]); }
  }

  class Response {
    readonly status: number;
    readonly statusText: string;
    readonly ok: boolean;
    readonly url: string;
    readonly redirected: boolean;
    readonly headers: Headers;
    #body: Uint8Array;
    #bodyError: string | undefined;
    #slot: number | null;
    #used = false;
    constructor(w: WireResponse) {
      this.status = w.status;
      this.statusText = w.statusText;
      this.ok = w.status >= 200 && w.status <= 299;
      this.url = w.url;
      this.redirected = w.redirected;
      this.headers = new Headers(w.headers);
      this.#body = w.body;
      this.#bodyError = w.bodyError;
      this.#slot = typeof w.slot === 'number' ? w.slot : null;
    }
    get bodyUsed(): boolean { return this.#used; }
    #consume(): Promise<Uint8Array> {
      if (this.#used) return Promise.reject(new TypeErrorCtor('Body has already been consumed'));
      this.#used = true;
      if (this.#slot !== null) { ops.notify('fetch.release', [this.#slot]); this.#slot = null; }
      if (this.#bodyError !== undefined) return Promise.reject(new TypeErrorCtor(this.#bodyError));
      const b = this.#body;
      this.#body = new Uint8Array(0);
      return Promise.resolve(b);
    }
    arrayBuffer(): Promise<ArrayBuffer> { return this.#consume().then((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer); }
    bytes(): Promise<Uint8Array> { return this.#consume(); }
    text(): Promise<string> { return this.#consume().then((b) => new g.TextDecoder().decode(b)); }
    json(): Promise<unknown> { return this.text().then((t) => JSON.parse(t)); }
    get [Symbol.toStringTag](): string { return 'Response'; }
  }

  function body(b: unknown, headers: Headers): Uint8Array | null {
    if (b === undefined || b === null) return null;
    if (b instanceof ArrayBuffer) return new Uint8Array(b.slice(0));
    if (ArrayBuffer.isView(b)) return new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    if (b instanceof g.URLSearchParams) {
      if (!headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded;charset=UTF-8');
      return new g.TextEncoder().encode(String(b));
    }
    if (!headers.has('content-type')) headers.set('content-type', 'text/plain;charset=UTF-8');
    return new g.TextEncoder().encode(String(b));
  }

  function fetch(input: unknown, init?: any): Promise<Response> {
    try {
      const o = init === undefined || init === null ? {} : init;
      const method = o.method === undefined ? 'GET' : String(o.method).toUpperCase();
      const headers = new Headers(o.headers);
      const b = body(o.body, headers);
      if (b !== null && (method === 'GET' || method === 'HEAD')) throw new TypeErrorCtor(`a ${method} request cannot have a body`);
      const redirect = o.redirect === undefined ? 'follow' : String(o.redirect);
      if (redirect !== 'follow' && redirect !== 'manual' && redirect !== 'error') throw new TypeErrorCtor(`redirect must be "follow", "manual" or "error"`);
      const req = { url: String(input), method, headers: Headers.pairs(headers), body: b, redirect };
      return ops.request('fetch', [req]).then((w) => new Response(w as WireResponse));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  Object.defineProperties(g, {
    fetch: { value: fetch, writable: true, configurable: true },
    Headers: { value: Headers, writable: true, configurable: true },
  });
}
