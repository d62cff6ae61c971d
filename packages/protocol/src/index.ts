export * from './kinds.js';
export type * from './messages.js';
export * from './errors.js';
export { WebdatError } from './webdat-error.js';
export { checkEvent, checkCommand, checkTask, checkBatchResult, checkLoadResult } from './guards.js';
export { encode, decodeTask, decodeBatchResult, decodeLoadResult } from './codec.js';
