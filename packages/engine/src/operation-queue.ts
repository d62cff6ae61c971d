/**
 * The operations on one server — start, stop, restart, a reload from `--watch` or the admin API, its
 * removal — run one at a time in the order they were asked. Overlapping, a reload would replace the
 * isolate under a running onServerStop, or a restart would start a server that is being removed.
 */
export class OperationQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `op` once every earlier operation has settled; its result or error is the caller's alone. */
  run<T>(op: () => Promise<T>): Promise<T> {
    const next = this.tail.then(op);
    this.tail = next.then(() => undefined, () => undefined);
    return next;
  }
}
