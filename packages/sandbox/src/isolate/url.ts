// Runs inside the isolate. URL parsing is delegated to the host's WHATWG parser through one narrow
// callback (strings in, an array of strings out) because a faithful parser in plain JS is thousands of
// lines; URLSearchParams is small enough to live here.

/** op 0: parse(input, base); op 1: set(href, field, value). Returns the URL's fields, or null if invalid. */
type UrlHost = (op: 0 | 1, a: string, b: string | undefined, c?: string) => string[] | null;

export function installUrl(g: any, urlHost: UrlHost): void {
  function decodeComponent(s: string): string {
    const t = s.replace(/\+/g, ' ');
    try { return decodeURIComponent(t); } catch { return t; }
  }
  function encodeComponent(s: string): string {
    return encodeURIComponent(s).replace(/%20/g, '+').replace(/[!'()~]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  }

  class URLSearchParams {
    #list: [string, string][] = [];
    #onChange: (() => void) | null = null;
    constructor(init: unknown = '') {
      if (typeof init === 'string') this.#parse(init);
      else if (init instanceof URLSearchParams) this.#list = init.#list.map((p) => [p[0], p[1]] as [string, string]);
      else if (init !== null && typeof init === 'object') {
        if (typeof (init as any)[Symbol.iterator] === 'function') {
          for (const pair of init as Iterable<unknown>) {
            const arr = [...(pair as Iterable<unknown>)];
            if (arr.length !== 2) throw new TypeError('Each query pair must be an iterable [name, value] tuple');
            this.#list.push([String(arr[0]), String(arr[1])]);
          }
        } else for (const k of Object.keys(init)) this.#list.push([k, String((init as any)[k])]);
      } else this.#parse(String(init));
    }
    #parse(s: string): void {
      this.#list = [];
      const q = s.startsWith('?') ? s.slice(1) : s;
      for (const part of q.split('&')) {
        if (part === '') continue;
        const eq = part.indexOf('=');
        this.#list.push(eq < 0 ? [decodeComponent(part), ''] : [decodeComponent(part.slice(0, eq)), decodeComponent(part.slice(eq + 1))]);
      }
    }
    static _bind(p: URLSearchParams, search: string, onChange: () => void): void { p.#parse(search); p.#onChange = onChange; }
    static _reset(p: URLSearchParams, search: string): void { p.#parse(search); }
    #changed(): void { if (this.#onChange) this.#onChange(); }
    get size(): number { return this.#list.length; }
    append(name: string, value: string): void { this.#list.push([String(name), String(value)]); this.#changed(); }
    delete(name: string, value?: string): void {
      const n = String(name);
      this.#list = this.#list.filter((p) => !(p[0] === n && (value === undefined || p[1] === String(value))));
      this.#changed();
    }
    get(name: string): string | null { const p = this.#list.find((q) => q[0] === String(name)); return p ? p[1] : null; }
    getAll(name: string): string[] { return this.#list.filter((q) => q[0] === String(name)).map((q) => q[1]); }
    has(name: string, value?: string): boolean {
      return this.#list.some((p) => p[0] === String(name) && (value === undefined || p[1] === String(value)));
    }
    set(name: string, value: string): void {
      const n = String(name);
      const i = this.#list.findIndex((p) => p[0] === n);
      if (i < 0) this.#list.push([n, String(value)]);
      else { this.#list[i] = [n, String(value)]; this.#list = this.#list.filter((p, j) => j <= i || p[0] !== n); }
      this.#changed();
    }
    sort(): void { this.#list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)); this.#changed(); }
    forEach(fn: (value: string, name: string, self: URLSearchParams) => void, thisArg?: unknown): void {
      for (const [k, v] of this.#list) fn.call(thisArg, v, k, this);
    }
    *entries(): IterableIterator<[string, string]> { for (const p of this.#list) yield [p[0], p[1]]; }
    *keys(): IterableIterator<string> { for (const p of this.#list) yield p[0]; }
    *values(): IterableIterator<string> { for (const p of this.#list) yield p[1]; }
    [Symbol.iterator](): IterableIterator<[string, string]> { return this.entries(); }
    toString(): string { return this.#list.map((p) => encodeComponent(p[0]) + '=' + encodeComponent(p[1])).join('&'); }
  }

  class URL {
    #f: string[];
    #params: URLSearchParams;
    constructor(input: unknown, base?: unknown) {
      const f = urlHost(0, String(input), base === undefined ? undefined : String(base));
      if (f === null) throw new TypeError(`Invalid URL: ${String(input)}`);
      this.#f = f;
      this.#params = new URLSearchParams();
      URLSearchParams._bind(this.#params, f[9], () => {
        const s = this.#params.toString();
        this.#set('search', s === '' ? '' : '?' + s, false);
      });
    }
    static canParse(input: unknown, base?: unknown): boolean {
      return urlHost(0, String(input), base === undefined ? undefined : String(base)) !== null;
    }
    // Setting a component rebuilds the whole record through the host parser, as browsers do.
    #set(field: string, value: unknown, syncParams = true): void {
      const next = urlHost(1, this.#f[0], field, String(value));
      if (next !== null) this.#f = next;
      if (syncParams) URLSearchParams._reset(this.#params, this.#f[9]);
    }
    get href(): string { return this.#f[0]; }
    set href(v: string) { const f = urlHost(0, String(v), undefined); if (f === null) throw new TypeError(`Invalid URL: ${String(v)}`); this.#f = f; URLSearchParams._reset(this.#params, f[9]); }
    get origin(): string { return this.#f[1]; }
    get protocol(): string { return this.#f[2]; }
    set protocol(v: string) { this.#set('protocol', v); }
    get username(): string { return this.#f[3]; }
    set username(v: string) { this.#set('username', v); }
    get password(): string { return this.#f[4]; }
    set password(v: string) { this.#set('password', v); }
    get host(): string { return this.#f[5]; }
    set host(v: string) { this.#set('host', v); }
    get hostname(): string { return this.#f[6]; }
    set hostname(v: string) { this.#set('hostname', v); }
    get port(): string { return this.#f[7]; }
    set port(v: string) { this.#set('port', v); }
    get pathname(): string { return this.#f[8]; }
    set pathname(v: string) { this.#set('pathname', v); }
    get search(): string { return this.#f[9]; }
    set search(v: string) { this.#set('search', v); }
    get hash(): string { return this.#f[10]; }
    set hash(v: string) { this.#set('hash', v); }
    get searchParams(): URLSearchParams { return this.#params; }
    toString(): string { return this.#f[0]; }
    toJSON(): string { return this.#f[0]; }
  }
  Object.defineProperties(g, {
    URL: { value: URL, writable: true, configurable: true },
    URLSearchParams: { value: URLSearchParams, writable: true, configurable: true },
  });
}
