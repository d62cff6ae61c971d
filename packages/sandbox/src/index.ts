export { SandboxPool, type PoolHooks, type PoolOptions } from './main/pool.js';
export { SandboxErrorCode, type SandboxError } from './shared/errors.js';
export { createFetcher, allowListProblem, caFileProblem, parseAllowEntry, type EgressPolicy, type FetchLimits, type FetchRequest, type FetchResponse, type FetchResult, type InstanceFetcher } from './worker/capabilities/fetch/index.js';
