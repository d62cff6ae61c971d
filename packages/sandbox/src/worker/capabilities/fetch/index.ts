// The host side of `fetch` (SPEC §10). Wiring it into a worker's host operations:
// - one fetcher per server and worker: `createFetcher(spec.egress, spec.limits)`; `close()` when the
//   server's code is unloaded for good;
// - operation 'fetch': `fetcher.fetch(request, signal)` where `signal` aborts when the INVOCATION that
//   called fetch ends, also after this operation settled: it cancels a fetch still running and frees
//   the slot of a response whose body was never read (SPEC: a fetch holds its slot until its body is
//   consumed or its invocation ends);
// - when the isolate reads a response's body (text/json/arrayBuffer, or the read rejects with
//   `bodyError`), `fetcher.release(response.slot)` (a fire-and-forget operation is enough).
export { caFileProblem, createFetcher, preloadUndici, type FetcherOptions } from './fetcher.js';
export { allowListProblem, parseAllowEntry } from './allow-list.js';
export type { EgressPolicy, FetchLimits, FetchRequest, FetchResponse, FetchResult, FetchFailure, InstanceFetcher } from './types.js';
export type { Lookup, ResolvedAddress } from './egress.js';
