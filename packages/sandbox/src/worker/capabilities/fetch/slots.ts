/**
 * The concurrency slots of one server's fetches (SPEC §5 `limits.maxFetches`). A slot is held from
 * the call until the isolate consumed the body or the invocation ended, whichever comes first. Each
 * invocation's signal gets one listener, however many fetches it makes.
 */
export class Slots {
  readonly #max: number;
  /** slot → the invocation signal it belongs to, and whether its response went to the isolate */
  readonly #held = new Map<number, { signal: AbortSignal; delivered: boolean }>();
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
    this.#held.set(slot, { signal, delivered: false });
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

  /** The response went to the isolate: from now on only reading its body (or the invocation's end) frees the slot. */
  deliver(slot: number): void {
    const held = this.#held.get(slot);
    if (held !== undefined) held.delivered = true;
  }

  /**
   * The isolate read the body. Only a delivered slot is freed: the isolate names the slot, and must
   * not be able to free the slot of a fetch still running and so run more than maxFetches at once.
   */
  consumed(slot: number): void {
    if (this.#held.get(slot)?.delivered === true) this.free(slot);
  }

  free(slot: number): void {
    const held = this.#held.get(slot);
    if (held === undefined) return;
    this.#held.delete(slot);
    this.#bySignal.get(held.signal)?.delete(slot);
  }
}
