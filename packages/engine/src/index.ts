export { Engine, createEngine, type EngineOptions } from './engine.js';
export { WebdatServer } from './server.js';
export { AdminListener, type AdminListenerOptions } from './admin/listener.js';
export type { AdminHost } from './admin/routes.js';
export { EngineError, ENGINE_ERRORS, isEngineError, type EngineErrorCode } from './errors.js';
export type { EngineConfig, EngineConfigInput, ServerConfig, ServerInput, LimitsConfig, AdminConfig } from './config/schema.js';
export type { InfoSnapshot } from '@webdat/protocol';
