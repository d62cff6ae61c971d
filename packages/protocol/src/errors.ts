import { WebdatError } from './webdat-error.js';

/** Errors cross threads as { code, message } and are rebuilt by code, so `instanceof` is never needed. */
export const ProtocolErrorCode = {
  decode: 'WEBDAT_ERR_PROTOCOL_DECODE',
  version: 'WEBDAT_ERR_PROTOCOL_VERSION',
  shape: 'WEBDAT_ERR_PROTOCOL_SHAPE',
} as const;
export type ProtocolErrorCode = (typeof ProtocolErrorCode)[keyof typeof ProtocolErrorCode];

export class ProtocolError extends WebdatError<ProtocolErrorCode> {}

export function isProtocolError(err: unknown): err is ProtocolError {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string'
    && (err as { code: string }).code.startsWith('WEBDAT_ERR_PROTOCOL_');
}
