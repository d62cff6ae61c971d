/**
 * The concurrency slots of one server's fetches (SPEC §5 `limits.maxFetches`). A slot is held from
 * the call until the isolate consumed the body or the invocation ended, whichever comes first. Each
 * invocation's signal gets one listener, however many fetches it makes.
 */
export class Slots {
  readonly #max: number;
  /** slot → the invocation signal it belongs to */
  readonly #held = new Map<number, AbortSignal>();
  readonly #bySignal = new WeakMap<AbortSignal, Set<number>>();
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
    this.#held.set(slot, signal);
    let slots = this.#bySignal.get(signal);
    if (slots === undefined) {
      const mine = new Set<number>();
      slots = mine;
      this.#bySignal.set(signal, mine);
      signal.addEventListener('abort', () => { for (const s of mine) this.#held.delete(s); mine.clear(); }, { once: true });
    }
    slots.add(slot);
    return slot;
  }

  release(slot: number): void {
    const signal = this.#held.get(slot);
    if (signal === undefined) return;
    this.#held.delete(slot);
    this.#bySignal.get(signal)?.delete(slot);
  }
}
