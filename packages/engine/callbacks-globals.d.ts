// Globals the sandbox gives callbacks beyond the JavaScript built-ins, for editors of JavaScript
// callbacks (examples/tsconfig.json includes this file). Projects that already have the DOM or
// Node.js typings have these globals from there and leave this file out.

/** The `Headers` class of browsers: names are case-insensitive, repeated values join with ", ". */
declare class Headers {
  constructor(init?: Headers | Record<string, string> | [string, string][]);
  append(name: string, value: string): void;
  delete(name: string): void;
  get(name: string): string | null;
  has(name: string): boolean;
  set(name: string, value: string): void;
  forEach(callback: (value: string, name: string, headers: Headers) => void): void;
  entries(): IterableIterator<[string, string]>;
  keys(): IterableIterator<string>;
  values(): IterableIterator<string>;
  [Symbol.iterator](): IterableIterator<[string, string]>;
}

interface FetchInit {
  method?: string;
  headers?: Headers | Record<string, string> | [string, string][];
  body?: string | Uint8Array | ArrayBuffer | null;
  /** 'follow' (default, at most 20 hops, each checked against egress.allow), 'manual' (the 3xx itself) or 'error' */
  redirect?: 'follow' | 'manual' | 'error';
}

/** What `fetch` resolves to. Reading the body rejects with TypeError over limits.maxFetchBytes. */
interface FetchResponse {
  readonly status: number;
  readonly statusText: string;
  /** status 200–299 */
  readonly ok: boolean;
  /** the URL of the last redirect hop */
  readonly url: string;
  readonly headers: Headers;
  text(): Promise<string>;
  json(): Promise<any>;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/**
 * Outbound HTTP(S), denied unless the server's `egress.allow` permits the host (see the README's
 * "Outbound fetch"); refusals and network failures reject with TypeError.
 */
declare function fetch(url: string | { readonly href: string }, init?: FetchInit): Promise<FetchResponse>;

// SPEC §9 timers. Ids are numbers, as in browsers; a timer callback is an invocation of its own.
declare function setTimeout<A extends unknown[]>(fn: (...args: A) => unknown, ms?: number, ...args: A): number;
declare function setInterval<A extends unknown[]>(fn: (...args: A) => unknown, ms?: number, ...args: A): number;
declare function clearTimeout(id: number | undefined): void;
declare function clearInterval(id: number | undefined): void;
declare function queueMicrotask(fn: () => void): void;
