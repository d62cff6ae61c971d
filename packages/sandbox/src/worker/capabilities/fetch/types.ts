/** Per server (config `egress`): who a callback's `fetch` may reach. */
export interface EgressPolicy {
  allow: string[];
  /** a PEM file of CA certificates trusted in addition to the default roots */
  caFile?: string;
}

export interface FetchLimits {
  /** fetches that may hold a slot at once (SPEC §5 `limits.maxFetches`) */
  maxFetches: number;
  /** bytes of one response body, after content decoding (SPEC §5 `limits.maxFetchBytes`) */
  maxFetchBytes: number;
}

/**
 * What the isolate asks for, as copied out of it. Validated host-side: the isolate's copy is never
 * trusted. `body` may also be a string (sent as UTF-8 with `text/plain;charset=UTF-8` unless a
 * content-type is given) or an ArrayBuffer.
 */
export interface FetchRequest {
  url: string;
  method: string;
  headers: [string, string][];
  body: Uint8Array | null;
  redirect: 'follow' | 'manual' | 'error';
}

export interface FetchResponse {
  status: number;
  statusText: string;
  /** the URL of the last hop, without fragment */
  url: string;
  redirected: boolean;
  /** lower-case names; repeated headers joined with ", " except set-cookie, which stays one pair per cookie */
  headers: [string, string][];
  body: Uint8Array;
  /**
   * Set when the body could not be delivered (over `maxFetchBytes`, or the upstream broke off
   * mid-body): status and headers are real, `body` is empty, and reading the body in the isolate
   * must reject with a TypeError carrying this message (SPEC §5: the body read rejects).
   */
  bodyError?: string;
  /**
   * The concurrency slot this response still holds (SPEC §10: until its body is consumed), to be
   * handed to `InstanceFetcher.release` once the isolate reads the body; null when nothing is held
   * (an empty body without error is consumed on arrival).
   */
  slot: number | null;
}

export interface FetchFailure {
  name: 'TypeError';
  message: string;
}

export type FetchResult = { ok: true; value: FetchResponse } | { ok: false; error: FetchFailure };

/** One per server on each worker. */
export interface InstanceFetcher {
  /**
   * Never rejects: every failure is an `ok: false` value. `signal` aborts when the invocation ends;
   * that cancels the fetch and frees every slot it still holds.
   */
  fetch(req: unknown, signal: AbortSignal): Promise<FetchResult>;
  /**
   * The isolate consumed the body of the response that holds `slot`. Slots not delivered to the
   * isolate (unknown, or of a fetch still running) are ignored: the isolate could name any number.
   */
  release(slot: number): void;
  /** fetches holding a slot */
  readonly active: number;
  /** closes pooled upstream connections (server removed or its policy replaced) */
  close(): Promise<void>;
}
