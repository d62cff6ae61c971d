/**
 * The concurrency slots of one server's fetches (SPEC §5 `limits.maxFetches`). A slot is held from
 * the call until the isolate consumed the body or the invocation ended, whichever comes first.
 */
export class Slots {
  readonly #max: number;
  readonly #held = new Map<number, () => void>();
  #next = 1;

  constructor(max: number) {
    this.#max = max;
  }

  get active(): number {
    return this.#held.size;
  }

  /** A new slot, freed at the latest when `signal` aborts; null when all are taken. */
  acquire(signal: AbortSignal): number | null {
    if (this.#held.size >= this.#max) return null;
    const slot = this.#next++;
    const onAbort = () => this.release(slot);
    signal.addEventListener('abort', onAbort, { once: true });
    this.#held.set(slot, () => signal.removeEventListener('abort', onAbort));
    return slot;
  }

  release(slot: number): void {
    const detach = this.#held.get(slot);
    if (detach === undefined) return;
    this.#held.delete(slot);
    detach();
  }
}
