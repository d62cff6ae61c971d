import { WebdatError } from '@webdat/protocol';

/** Stable codes for everything the sandbox can refuse; messages are for humans, codes for programs. */
export const SandboxErrorCode = {
  load: 'WEBDAT_ERR_CALLBACKS_LOAD',
  syntax: 'WEBDAT_ERR_CALLBACKS_SYNTAX',
  importRefused: 'WEBDAT_ERR_IMPORT_REFUSED',
  notLoaded: 'WEBDAT_ERR_NOT_LOADED',
  workerLost: 'WEBDAT_ERR_WORKER_LOST',
} as const;
export type SandboxErrorCode = (typeof SandboxErrorCode)[keyof typeof SandboxErrorCode];

export interface SandboxError {
  code: SandboxErrorCode;
  message: string;
}

export class CallbacksLoadError extends WebdatError<SandboxErrorCode> {}
