import pino, { type Logger } from 'pino';

// Structured logs (pino) on stderr: JSON lines for machines, pretty lines on a terminal. Stdout is
// kept for the readiness lines alone, so scripts can read it without filtering.

const REDACT = ['password', 'token', 'authorization', '*.password', '*.token', '*.authorization', 'headers.authorization'];

export function createLogger(level = process.env.WEBDAT_LOG_LEVEL ?? 'info'): Logger {
  if (process.stderr.isTTY) {
    return pino({
      level,
      redact: REDACT,
      transport: { target: 'pino-pretty', options: { destination: 2, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l' } },
    });
  }
  return pino({ level, redact: REDACT, base: { pid: process.pid } }, pino.destination({ dest: 2, sync: true }));
}

/**
 * The logger of audit lines (SPEC §7): tagged `"audit": true`, and written at any WEBDAT_LOG_LEVEL
 * (a quieter log must not silence the record of who did what). Its `token` field is the token's
 * name, which must stay readable, so that one path is left out of the redaction; a token's value is
 * never handed to it.
 */
export function auditLogger(logger: Logger): Logger {
  return logger.child({ audit: true }, { level: 'info', redact: REDACT.filter((p) => p !== 'token') });
}

export type { Logger };
