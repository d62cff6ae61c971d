// Servers on probation (suspects: the supervisor saw them running together when the engine died)
// never run beside one another: at most one lane at a time holds the gate and may carry suspects'
// work, and a lane runs its tasks one after another, so when the engine dies again at most one
// suspect's callbacks are running and the supervisor's activity slots name it alone. Servers that
// are not suspects are never held back.

export class ProbationGate {
  /** instance → when its probation ends (ms since the epoch) */
  private readonly until = new Map<number, number>();
  private holder = -1;
  /** tasks carrying suspects' work that the holder has in flight; 0 with a holder: handed over, not yet entered */
  private held = 0;
  /** lanes waiting for the gate, in the order they asked, with the call that wakes each */
  private readonly waiting = new Map<number, () => void>();

  suspect(instance: number, until: number): void {
    this.until.set(instance, until);
  }

  forget(instance: number): void {
    this.until.delete(instance);
  }

  /** whether any instance is on probation; the hot path asks nothing more when none is */
  get active(): boolean {
    return this.until.size > 0;
  }

  isSuspect(instance: number, now: number): boolean {
    const end = this.until.get(instance);
    if (end === undefined) return false;
    if (end > now) return true;
    this.until.delete(instance);
    return false;
  }

  /** Whether `lane` would get the gate now (enter would take it). */
  isOpen(lane: number): boolean {
    // a lane handed the gate (held 0) enters even with others waiting behind it
    return this.holder === -1 || (this.holder === lane && (this.held === 0 || this.waiting.size === 0));
  }

  /**
   * Takes the gate for one task of `lane`; false (and `wake` is called once the gate is this lane's)
   * when another lane holds it. The holder gets no new turn while others wait, so no lane starves.
   */
  enter(lane: number, wake: () => void): boolean {
    if (!this.isOpen(lane)) {
      if (!this.waiting.has(lane)) this.waiting.set(lane, wake);
      return false;
    }
    this.holder = lane;
    this.held++;
    return true;
  }

  /** A task that entered has finished (answered or lost): with none left, the gate goes to the next lane waiting. */
  leave(): void {
    if (--this.held > 0) return;
    this.handOver();
  }

  /**
   * A woken lane found no suspects' work it could send (it was answered meanwhile, or rests): the
   * gate it was handed goes on to the next lane waiting. Nothing happens unless `lane` was handed it.
   */
  decline(lane: number): void {
    if (this.holder === lane && this.held === 0) this.handOver();
  }

  /**
   * The gate passes straight to the lane that has waited longest, never through a free state: a
   * lane whose task just ended would otherwise take it again before a woken lane's turn came (its
   * next batch is gathered at once, the woken lane's on a later loop turn), and a busy suspect kept
   * a crasher waiting past its whole probation.
   */
  private handOver(): void {
    this.holder = -1;
    const first = this.waiting.entries().next();
    if (first.done === true) return;
    const [lane, wake] = first.value;
    this.waiting.delete(lane);
    this.holder = lane;
    wake();
  }
}
