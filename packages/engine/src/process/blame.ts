// Who killed the engine (SPEC §5). The supervisor learns which servers' callbacks were running when
// the engine died; blaming all of them quarantined innocent servers that happened to run beside a
// crasher. Here a death counts against a server only when it was the one server running: servers
// named together become suspects, and the next engine runs suspects one at a time (the sandbox's
// probation gate), so the next death names one of them alone. Suspects are cleared once the engine
// has run a whole window without dying: while deaths go on, the suspects stay apart.

export const QUARANTINE_AFTER = 3;
export const DEATH_WINDOW_MS = 60_000;

/** The variable that hands suspects to the engine: JSON `{ name: until }`, `until` in ms since the epoch. */
export const SUSPECTS_ENV = 'WEBDAT_SUSPECTS';

export interface Verdict {
  /** the one server that was running alone, now one death closer to quarantine */
  guilty: string | null;
  /** servers named together: none of them is counted, each runs apart from the others for a while */
  suspects: string[];
  /** the guilty server, when this death was its QUARANTINE_AFTER-th within the window */
  quarantined: string | null;
  /** proven deaths of the guilty server within the window, this one included */
  count: number;
}

export class Blame {
  private readonly proven = new Map<string, number[]>();
  private readonly named = new Set<string>();
  private lastDeath = -Infinity;
  private readonly out = new Set<string>();

  /** Records one engine death with the servers whose callbacks were running at that moment. */
  death(running: readonly string[], now: number): Verdict {
    const names = [...new Set(running)].filter((n) => !this.out.has(n));
    if (now - this.lastDeath >= DEATH_WINDOW_MS) this.named.clear();
    this.lastDeath = now;
    for (const n of names) this.named.add(n);
    if (names.length !== 1) return { guilty: null, suspects: names, quarantined: null, count: 0 };
    const guilty = names[0];
    const recent = (this.proven.get(guilty) ?? []).filter((t) => now - t < DEATH_WINDOW_MS);
    recent.push(now);
    this.proven.set(guilty, recent);
    const quarantined = recent.length >= QUARANTINE_AFTER ? guilty : null;
    if (quarantined !== null) {
      this.out.add(guilty);
      this.named.delete(guilty);
    }
    return { guilty, suspects: [], quarantined, count: recent.length };
  }

  /** Servers left inactive until webdat restarts. */
  get disabled(): ReadonlySet<string> {
    return this.out;
  }

  /** Servers still on probation at `now`, with the moment each is cleared (ms since the epoch). */
  suspects(now: number): Record<string, number> {
    if (now - this.lastDeath >= DEATH_WINDOW_MS) this.named.clear();
    const until = this.lastDeath + DEATH_WINDOW_MS;
    return Object.fromEntries([...this.named].map((n) => [n, until]));
  }
}
