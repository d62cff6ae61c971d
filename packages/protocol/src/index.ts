export * from './kinds.js';
export * from './wire-table.js';
export * from './isolate-layout.js';
export * from './info.js';
export type * from './messages.js';
export * from './errors.js';
export { checkEvent, checkCommand, checkTask, checkBatchResult, checkLoadResult } from './guards.js';
export { encode, decodeTask, decodeBatchResult, decodeLoadResult } from './codec.js';
