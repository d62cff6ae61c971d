/** Wire version: bumped whenever a message shape changes, so mismatched halves fail loudly. */
export const PROTOCOL_VERSION = 9;

/** Event ids start at 1. A `done` with this id finishes no event: it counts its outcome against the
 *  server (an unhandled rejection, logged beside the response it did not spoil). */
export const NO_EVENT = 0;

export const WsOp = { text: 1, binary: 2, ping: 3 } as const;
export type WsOp = (typeof WsOp)[keyof typeof WsOp];

/** Every event ends in exactly one of these; the engine maps them to statuses in one place. */
export const OUTCOMES = ['ok', 'exception', 'timeout', 'memory', 'overloaded', 'canceled', 'internal', 'output'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export const LOG_LEVELS = ['log', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * `hold` keeps an idle worker's event loop turning while it has host work (timers, host operations):
 * it resolves once that work is done. Without one in flight, an idle worker waits in Atomics.wait,
 * the fastest way to take the next task. `check` compiles and links a callbacks module graph in a
 * throwaway isolate without running it (servers with `limits.idleSeconds`, checked once per file).
 */
export const TaskKind = { load: 1, unload: 2, batch: 3, hold: 4, check: 5, close: 6 } as const;
export type TaskKind = (typeof TaskKind)[keyof typeof TaskKind];
