import { CommandKind, type Command } from '@webdat/protocol';

// The I/O thread applies a worker's results in slices of about this much work, then lets the event
// loop serve other sockets (setImmediate) before the next slice: one server's large result (a
// broadcast storm, thousands of log lines) must not hold the thread every server's traffic needs.
// Work is measured in bytes written, a broadcast once per recipient, plus a fixed cost per command
// (a native call, a log write). Hello-world batches fit in one slice many times over.

export const APPLY_SLICE_COST = 1024 * 1024;
const COMMAND_COST = 512;

/** The work one command costs the I/O thread; `fanout` is the number of the server's WebSocket clients. */
export function commandCost(c: Command, fanout: number): number {
  switch (c.c) {
    case CommandKind.respond: {
      let n = COMMAND_COST + c.body.length;
      for (const h of c.headers) n += h.length;
      return n;
    }
    case CommandKind.wsSend: return COMMAND_COST + c.data.length;
    case CommandKind.broadcast: return COMMAND_COST + c.data.length * Math.max(1, fanout);
    case CommandKind.log: return COMMAND_COST + c.msg.length;
    default: return COMMAND_COST;
  }
}
