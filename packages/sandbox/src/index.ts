export { SandboxPool, type PoolHooks, type PoolOptions } from './pool.js';
export { SandboxErrorCode, type SandboxError } from './errors.js';
