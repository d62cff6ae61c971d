export { SandboxPool, type PoolHooks, type PoolOptions } from './pool.js';
export { SandboxErrorCode, type SandboxError } from './errors.js';
export { createFetcher, allowListProblem, caFileProblem, parseAllowEntry, type EgressPolicy, type FetchLimits, type FetchRequest, type FetchResponse, type FetchResult, type TenantFetcher } from './capabilities/fetch/index.js';
