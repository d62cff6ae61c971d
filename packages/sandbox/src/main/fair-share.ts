// How the instances placed on one worker thread share it: a pure scheduler (no I/O, no clock; the lane
// tells it what happened and when). Words used here:
//   turn     one instance's part of a task: its events, run one after another by the worker (a turn
//            ends after its slice of time or after a call cut by a limit; see isolate-host.ts).
//   task     what the lane hands the worker at once: turns of several instances.
//   used     the time charged to an instance, in ms, comparable between the instances of one lane.
//   active   an instance with work waiting, a turn in flight, or either within its grace.
//   grace    GRACE_MS after its last turn came back, for an instance whose previous work came that soon.
//
// Deficit round robin by time: the active instance that used least goes, and with it any instance within
// QUANTUM_MS of it (shortest turns first), so light instances keep sharing tasks (one task for many
// events is what makes the worker cheap). An instance further ahead waits until the others caught up or
// went inactive. A turn costs the CPU time its isolate counted (what `cpu_time_ms` shows), or as long
// as the turn ran when it breached a limit; CPU of timers and host operations counts too. The time
// the worker idles because an instance ahead was held back for one in its grace is charged to that one,
// so a neighbour ahead still gets its share. Not charged: the worker's own work around the turns
// (decoding, encoding), which no instance's code chose, and time in host functions, which isolated-vm
// does not count as the isolate's. (Charging the time a task took, as the I/O thread sees it, was
// tried: on a loaded machine it charged a light instance for the I/O thread's delays, and a 90 ms
// neighbour then got most of the worker.) Whatever an instance leaves unused is not banked: on becoming
// active again it starts from the least used of the lane so far.
//
// A turn longer than QUANTUM_MS is the only long turn in flight, so an event of a light instance waits
// for at most about one long call, never a queue of them. And an instance whose turn breached a limit
// rests before its next one, as long as that turn ran, twice as long after each further breach in a
// row (up to 2^REST_DOUBLINGS times): alone on its worker it would otherwise take a whole core from
// the process (bench workload h).

/** How far ahead of the least used active instance an instance may be and still go; also what makes a turn long. */
export const QUANTUM_MS = 10;
/**
 * How long an instance counts as active after its work ran out, if its previous work came back within
 * as long. Its next event is then likely on its way (its clients are reading the answers): an instance
 * ahead that took the worker in that gap would make the event wait for a whole long call. Gaps
 * measured with a loaded 2-core machine (load average 10): half under 2 ms, nearly all under 20 ms.
 * An instance whose work comes sporadically gets no grace, so nobody idles for it.
 */
export const GRACE_MS = 20;
/** The rest after a breach doubles this many times at most: 1, 2, 4, 8 times the breached turn. */
export const REST_DOUBLINGS = 3;

/** What a task's result says of one turn. */
export interface TurnReport {
  instance: number;
  /** the instance's CPU time so far, as its worker counts it (the turn's is the increase) */
  cpuMs: number;
  /** how long the turn ran when it breached a time or memory limit; 0 when it did not */
  breachedMs: number;
  /** events of the instance still wait in the worker: it wants another turn */
  backlog: boolean;
}

/** The next task: the instances whose turns it carries, shortest turns first; none (wake at `wakeAt`, if finite) when all must wait. */
export interface Pick {
  instances: number[];
  wakeAt: number;
  /** an instance with work was left out because the caller said it may not go */
  skipped: boolean;
}

interface Share {
  used: number;
  wants: boolean;
  inFlight: number;
  /** when it last had work waiting or in flight */
  seen: number;
  /** its work came back within GRACE_MS last time: it gets the grace */
  quick: boolean;
  /** the last turn's cost: more than QUANTUM_MS makes the turn long */
  lastCost: number;
  /** the CPU time it last reported */
  cpu: number;
  restUntil: number;
  streak: number;
}

interface Task {
  instances: number[];
  /** it carries a long turn */
  long: boolean;
}

export class FairShare {
  private readonly shares = new Map<number, Share>();
  /** instances that are or may be active (pruned lazily) */
  private readonly active = new Set<number>();
  private readonly tasks = new Map<number, Task>();
  private taskSeq = 0;
  private longInFlight = false;
  /** least `used` among the active instances, never decreasing: where an instance becoming active starts */
  private floor = 0;
  /** since when the idle worker is held for instances in their grace, and which */
  private holdSince = -1;
  private holdFor: number[] = [];

  /** `instance` has work: events or cancels waiting in the lane. */
  want(instance: number, now: number): void {
    const s = this.share(instance);
    if (!s.wants && s.inFlight === 0) s.quick = now - s.seen < GRACE_MS;
    if (!this.isActive(s, now)) s.used = Math.max(s.used, this.raiseFloor(now));
    s.wants = true;
    s.seen = now;
    this.active.add(instance);
  }

  /**
   * The instances whose turns go in the next task. Those `barred` (suspects while another lane holds the
   * probation gate) may not go now, and hold nobody back.
   */
  next(now: number, barred?: (instance: number) => boolean): Pick {
    this.endHold(now);
    const least = this.raiseFloor(now, barred);
    const go: number[] = [];
    let wakeAt = Infinity;
    let skipped = false;
    /** least `used` among the instances held back for being ahead */
    let held = Infinity;
    let long = this.longInFlight;
    for (const id of this.active) {
      const s = this.shares.get(id)!;
      if (!s.wants) continue;
      if (s.restUntil > now) { wakeAt = Math.min(wakeAt, s.restUntil); continue; }
      if (barred?.(id) === true) { skipped = true; continue; }
      if (s.used > least + QUANTUM_MS) { held = Math.min(held, s.used); continue; }
      if (s.lastCost > QUANTUM_MS) {
        if (long) continue;
        long = true;
      }
      go.push(id);
    }
    // Every instance of the task goes anyway: the shortest turns first, so that they wait least.
    if (go.length > 0) return { instances: go.sort((a, b) => this.order(a, b)), wakeAt: Infinity, skipped };
    if (held !== Infinity) wakeAt = Math.min(wakeAt, this.holdUntil(now, held));
    return { instances: go, wakeAt, skipped };
  }

  /** The lane sent a task carrying these instances' turns (none: a load or unload). Returns its id. */
  sent(instances: number[], now: number): number {
    this.endHold(now);
    let long = false;
    for (const id of instances) {
      const s = this.share(id);
      s.wants = false;
      s.inFlight++;
      s.seen = now;
      this.active.add(id);
      if (s.lastCost > QUANTUM_MS) long = true;
    }
    if (long) this.longInFlight = true;
    this.tasks.set(++this.taskSeq, { instances, long });
    return this.taskSeq;
  }

  /** A task came back with these reports: its instances are charged, rested after a breach, and want more if their work is not done. */
  returned(task: number, reports: TurnReport[], now: number): void {
    if (this.settle(task, now) === undefined) return;
    for (const r of reports) {
      // An instance forgotten while its turn was in flight (unloaded) is charged nothing.
      const s = this.shares.get(r.instance);
      if (s === undefined) continue;
      const cost = Math.max(this.cpuSince(s, r.cpuMs), r.breachedMs);
      s.used += cost;
      s.lastCost = cost;
      s.seen = now;
      this.rest(s, r.breachedMs, now);
      if (r.backlog) {
        s.wants = true;
        this.active.add(r.instance);
      }
    }
  }

  /** A task that never came back (its worker was lost): its turns cost nothing. */
  lost(task: number, now: number): void {
    this.settle(task, now);
  }

  /** CPU the instance used outside tasks (timers, host operations) as its worker reported it. */
  used(instance: number, cpuMs: number): void {
    const s = this.shares.get(instance);
    if (s !== undefined) s.used += this.cpuSince(s, cpuMs);
  }

  forget(instance: number): void {
    this.shares.delete(instance);
    this.active.delete(instance);
  }

  private order(a: number, b: number): number {
    const x = this.shares.get(a)!;
    const y = this.shares.get(b)!;
    return x.lastCost - y.lastCost || x.used - y.used;
  }

  /** Drops instances no longer active; returns the least `used` among the active ones not resting (the floor, when none is). */
  private raiseFloor(now: number, barred?: (instance: number) => boolean): number {
    let least = Infinity;
    for (const id of this.active) {
      const s = this.shares.get(id);
      if (s === undefined || !this.isActive(s, now)) { this.active.delete(id); continue; }
      if (s.restUntil <= now && !(s.wants && s.inFlight === 0 && barred?.(id) === true)) least = Math.min(least, s.used);
    }
    if (least === Infinity) return this.floor;
    this.floor = Math.max(this.floor, least);
    return least;
  }

  private share(instance: number): Share {
    let s = this.shares.get(instance);
    if (s === undefined) {
      s = { used: this.floor, wants: false, inFlight: 0, seen: -Infinity, quick: false, lastCost: 0, cpu: 0, restUntil: 0, streak: 0 };
      this.shares.set(instance, s);
    }
    return s;
  }

  private isActive(s: Share, now: number): boolean {
    return s.wants || s.inFlight > 0 || (s.quick && now - s.seen < GRACE_MS);
  }

  private settle(task: number, now: number): Task | undefined {
    const t = this.tasks.get(task);
    if (t === undefined) return undefined;
    this.tasks.delete(task);
    if (t.long) this.longInFlight = false;
    for (const id of t.instances) {
      const s = this.shares.get(id);
      if (s === undefined) continue;
      // An instance forgotten and placed again while its old turn was in flight has none of its own.
      s.inFlight = Math.max(0, s.inFlight - 1);
      s.seen = now;
    }
    return t;
  }

  /** A reloaded isolate counts from zero again: its first report is all new. */
  private cpuSince(s: Share, cpuMs: number): number {
    const d = cpuMs >= s.cpu ? cpuMs - s.cpu : cpuMs;
    s.cpu = cpuMs;
    return d;
  }

  private rest(s: Share, breachedMs: number, now: number): void {
    if (breachedMs === 0) { s.streak = 0; s.restUntil = 0; return; }
    s.streak = Math.min(s.streak + 1, REST_DOUBLINGS + 1);
    s.restUntil = now + breachedMs * 2 ** (s.streak - 1);
  }

  /**
   * An instance that wants, `held` ahead, is held back for the instances in their grace (nothing waiting or
   * in flight) that used less. While no task is in flight the worker idles for them, and they are
   * charged for it (endHold). Returns when the first of their graces ends.
   */
  private holdUntil(now: number, held: number): number {
    const graced: number[] = [];
    let until = Infinity;
    for (const id of this.active) {
      const s = this.shares.get(id)!;
      if (s.wants || s.inFlight > 0 || s.restUntil > now || s.used + QUANTUM_MS >= held) continue;
      graced.push(id);
      until = Math.min(until, s.seen + GRACE_MS);
    }
    if (this.tasks.size === 0 && graced.length > 0) {
      this.holdSince = now;
      this.holdFor = graced;
    }
    return until;
  }

  private endHold(now: number): void {
    if (this.holdSince < 0) return;
    const each = (now - this.holdSince) / this.holdFor.length;
    for (const id of this.holdFor) {
      const s = this.shares.get(id);
      if (s !== undefined) s.used += each;
    }
    this.holdSince = -1;
    this.holdFor = [];
  }
}
