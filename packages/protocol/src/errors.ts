/** Errors cross threads as { code, message } and are rebuilt by code, so `instanceof` is never needed. */
export const ProtocolErrorCode = {
  decode: 'WEBDAT_ERR_PROTOCOL_DECODE',
  version: 'WEBDAT_ERR_PROTOCOL_VERSION',
  shape: 'WEBDAT_ERR_PROTOCOL_SHAPE',
} as const;
export type ProtocolErrorCode = (typeof ProtocolErrorCode)[keyof typeof ProtocolErrorCode];

export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  constructor(code: ProtocolErrorCode, message: string) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
  }
}

export function isProtocolError(err: unknown): err is ProtocolError {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string'
    && (err as { code: string }).code.startsWith('WEBDAT_ERR_PROTOCOL_');
}
