import type { Outcome } from '@webdat/protocol';

/** The one place outcomes become what a client sees (SPEC §5). */
export const OUTCOME_STATUS: Record<Exclude<Outcome, 'ok'>, { status: string; body: string }> = {
  exception: { status: '500 Internal Server Error', body: 'The server callback failed.\n' },
  timeout: { status: '503 Service Unavailable', body: 'The server callback ran out of time.\n' },
  memory: { status: '503 Service Unavailable', body: 'The server callback ran out of memory.\n' },
  overloaded: { status: '503 Service Unavailable', body: 'The server is overloaded; retry later.\n' },
  canceled: { status: '503 Service Unavailable', body: 'The request was canceled before the callback finished.\n' },
  internal: { status: '500 Internal Server Error', body: 'Internal error.\n' },
  output: { status: '503 Service Unavailable', body: 'The server callback sent more than its output budget.\n' },
};

/** Seconds a client is asked to wait after `overloaded`. */
export const RETRY_AFTER_SECONDS = '1';
