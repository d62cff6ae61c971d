// Types for callbacks authors. A callbacks file is JavaScript or TypeScript run in a sandbox; these
// types are for editors and for `import type` in .ts callbacks:
// `/** @type {import('@webdat/engine/callbacks').OnHTTPRequest} */` in JavaScript,
// `import type { OnHTTPRequest } from '@webdat/engine/callbacks'` in TypeScript (an import that
// compilation does not erase is refused). The sandbox's globals (fetch, Headers, timers) are typed in
// `@webdat/engine/globals` for projects without the DOM library.

import type { InfoChannels } from '@webdat/protocol';

/** An opaque, readable id of one WebSocket connection, unique while the server runs ("127.0.0.1#12"). */
export type ClientId = string;

/** `webServer.info`: the info channels of the Web Server DAT plus counters (listed, with what each
 *  counts, in @webdat/protocol's info.ts). */
export type { InfoChannels };

export type Bytes = Uint8Array | ArrayBuffer | ArrayBufferView;

/** The `webServerDAT` handed to every callback. */
export interface WebServer {
  readonly name: string;
  readonly port: number;
  readonly secure: boolean;
  /** this engine process, unique in the cluster (`host:pid`); see `--processes` */
  readonly node: string;
  /** true in exactly one process per server at a time: do once-only work (a ticker) where it is true */
  readonly primary: boolean;
  /** a fresh snapshot each time it is read */
  readonly info: InfoChannels;
  /** ids of the open WebSocket connections, in every engine process */
  readonly webSocketConnections: ClientId[];
  /**
   * All sends return false (and do nothing) when the client is gone. Sends and broadcasts throw a
   * RangeError once the invocation has sent more than `limits.maxOutputBytes` (a broadcast counts once
   * per recipient): the invocation then ends with `output` (HTTP 503) whatever it does next.
   */
  webSocketSendText(client: ClientId, text: string): boolean;
  webSocketSendBinary(client: ClientId, data: Bytes | string): boolean;
  webSocketSendPing(client: ClientId, data?: Bytes | string): boolean;
  /** Always false: the I/O layer (uWebSockets.js v20.30) cannot send an unsolicited pong. */
  webSocketSendPong(client: ClientId, data?: Bytes | string): false;
  /** `code`: 1000 (default) or 3000–4999; `reason` is cut to 123 characters. */
  webSocketClose(client: ClientId, code?: number, reason?: string): boolean;
  webSocketBroadcastText(text: string): boolean;
  webSocketBroadcastBinary(data: Bytes | string): boolean;
  /** Checks an `Authorization: Basic` header in constant time; malformed headers are false. */
  authenticateBasic(request: Request, username: string, password: string): boolean;
  /** This server's persistent key-value store (SPEC §8); it outlives the isolate and webdat. */
  readonly storage: Storage;
}

/** What `storage.put` accepts and `storage.get` gives back, nested; at most 1 MiB encoded. */
export type StoredValue =
  | string | number | boolean | null | Uint8Array | Date
  | StoredValue[] | { [key: string]: StoredValue }
  | Map<StoredValue, StoredValue> | Set<StoredValue>;

export interface ListOptions {
  /** only keys that start with it */
  prefix?: string;
  /** the first key listed (inclusive) */
  start?: string;
  /** default 100, clamped to 1000 */
  limit?: number;
}

/**
 * Keys are non-empty strings of at most 512 UTF-8 bytes. A bad key or value rejects with TypeError
 * (DataCloneError for values that cannot be cloned); a put over `limits.storageMb` rejects with an
 * error named QuotaExceededError; in a cluster, an unreachable Redis with StorageUnavailableError.
 */
export interface Storage {
  get<T extends StoredValue = StoredValue>(key: string): Promise<T | undefined>;
  /** resolves once the write is durable */
  put(key: string, value: StoredValue): Promise<void>;
  /** true if the key existed */
  delete(key: string): Promise<boolean>;
  /** ascending key order */
  list<T extends StoredValue = StoredValue>(options?: ListOptions): Promise<Array<{ key: string; value: T }>>;
}

/** `fetch`'s second argument (SPEC §10). */
export interface FetchInit {
  method?: string;
  headers?: HeadersInit;
  body?: string | Uint8Array | ArrayBuffer | null;
  redirect?: 'follow' | 'manual' | 'error';
}

export type HeadersInit = Headers | Record<string, string> | Array<[string, string]>;

/** The `Headers` class of the sandbox: names are case-insensitive. */
export interface Headers {
  get(name: string): string | null;
  has(name: string): boolean;
  set(name: string, value: string): void;
  append(name: string, value: string): void;
  delete(name: string): void;
  forEach(fn: (value: string, name: string, headers: Headers) => void): void;
  entries(): IterableIterator<[string, string]>;
  keys(): IterableIterator<string>;
  values(): IterableIterator<string>;
  [Symbol.iterator](): IterableIterator<[string, string]>;
}

/** What `fetch` resolves to. Reading a body over `limits.maxFetchBytes` rejects with TypeError. */
export interface FetchResponse {
  readonly status: number;
  readonly statusText: string;
  readonly ok: boolean;
  readonly url: string;
  readonly redirected: boolean;
  readonly headers: Headers;
  text(): Promise<string>;
  json<T = unknown>(): Promise<T>;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/**
 * Outbound HTTP(S), denied unless the server's `egress.allow` lists the host; rejects with TypeError
 * naming the host otherwise, and beyond `limits.maxFetches` concurrent fetches.
 */
export type Fetch = (url: string | { href: string }, init?: FetchInit) => Promise<FetchResponse>;

export interface Request {
  /** 'GET', 'POST', … */
  method: string;
  /** the path, without the query string */
  uri: string;
  /** decoded query parameters; for a repeated key the first value wins */
  pars: Record<string, string>;
  clientAddress: string;
  serverAddress: string;
  /** lower-case header names; repeated headers joined with ', ' */
  headers: Record<string, string>;
  /** a string for textual content types, bytes otherwise; '' without a body */
  data: string | Uint8Array;
  /** every header again in canonical case, as TouchDesigner has it: request['Content-Type'] */
  [canonicalHeader: string]: unknown;
}

export interface Response {
  statusCode: number;
  /** empty (or 'OK' with another status) means the standard phrase */
  statusReason: string;
  data: string | Uint8Array | ArrayBuffer | number | boolean | null | undefined;
  headers?: Record<string, string | number | Array<string | number>>;
  /** any other key is a header: response['content-type'] = 'application/json' */
  [header: string]: unknown;
}

type MaybePromise<T> = T | Promise<T>;

export type OnHTTPRequest = (webServer: WebServer, request: Request, response: Response) => MaybePromise<Response | void>;
export type OnWebSocketOpen = (webServer: WebServer, client: ClientId, uri: string) => MaybePromise<void>;
export type OnWebSocketClose = (webServer: WebServer, client: ClientId) => MaybePromise<void>;
export type OnWebSocketReceiveText = (webServer: WebServer, client: ClientId, data: string) => MaybePromise<void>;
export type OnWebSocketReceiveBinary = (webServer: WebServer, client: ClientId, data: Uint8Array) => MaybePromise<void>;
export type OnWebSocketReceivePing = (webServer: WebServer, client: ClientId, data: Uint8Array) => MaybePromise<void>;
export type OnWebSocketReceivePong = (webServer: WebServer, client: ClientId, data: Uint8Array) => MaybePromise<void>;
export type OnServerStart = (webServer: WebServer) => MaybePromise<void>;
export type OnServerStop = (webServer: WebServer) => MaybePromise<void>;

/** The shape of a whole callbacks module; every export is optional. */
export interface Callbacks {
  onHTTPRequest?: OnHTTPRequest;
  onWebSocketOpen?: OnWebSocketOpen;
  onWebSocketClose?: OnWebSocketClose;
  onWebSocketReceiveText?: OnWebSocketReceiveText;
  onWebSocketReceiveBinary?: OnWebSocketReceiveBinary;
  onWebSocketReceivePing?: OnWebSocketReceivePing;
  onWebSocketReceivePong?: OnWebSocketReceivePong;
  onServerStart?: OnServerStart;
  onServerStop?: OnServerStop;
}
