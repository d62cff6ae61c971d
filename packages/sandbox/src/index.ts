export { SandboxPool, type PoolHooks, type PoolOptions } from './pool.js';
export { SandboxErrorCode, type SandboxError } from './errors.js';
export { ACTIVITY_FILE_ENV, readActivity, type Activity } from './activity.js';
