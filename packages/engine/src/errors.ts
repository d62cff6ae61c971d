import { WebdatError } from '@webdat/protocol';

/**
 * Every error the engine reports to a user, declared once: a stable code, the process exit status it
 * leads to at start-up, and a message built from its details. docs/errors.md explains each code.
 */
export const ENGINE_ERRORS = {
  WEBDAT_ERR_CONFIG: { exit: 2, title: 'invalid configuration' },
  WEBDAT_ERR_USAGE: { exit: 2, title: 'invalid command line' },
  WEBDAT_ERR_TLS: { exit: 2, title: 'TLS setup failed' },
  WEBDAT_ERR_CALLBACKS_LOAD: { exit: 2, title: 'callbacks failed to load' },
  WEBDAT_ERR_LISTEN: { exit: 2, title: 'cannot listen' },
  WEBDAT_ERR_UWS_NATIVE: { exit: 3, title: 'uWebSockets.js native binary did not load' },
  WEBDAT_ERR_SERVER_UNKNOWN: { exit: 2, title: 'no such server' },
  WEBDAT_ERR_SERVER_EXISTS: { exit: 2, title: 'server already exists' },
} as const;
export type EngineErrorCode = keyof typeof ENGINE_ERRORS;

export class EngineError extends WebdatError<EngineErrorCode> {
  get exitCode(): number {
    return ENGINE_ERRORS[this.code].exit;
  }
}

/** Brand check that works across package copies, undici-style. */
export function isEngineError(err: unknown): err is EngineError {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string'
    && (err as { code: string }).code in ENGINE_ERRORS;
}
