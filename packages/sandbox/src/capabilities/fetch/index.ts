export { createFetcher, type FetcherOptions } from './fetcher.js';
export { allowListProblem, parseAllowEntry } from './allow-list.js';
export type { EgressPolicy, FetchLimits, FetchRequest, FetchResponse, FetchResult, FetchFailure, TenantFetcher } from './types.js';
export type { Lookup, ResolvedAddress } from './egress.js';
