// A quiet server beside the one being fuzzed: it must keep answering, each time within PROBE_MS.

const PROBE_MS = 30_000;

export class Probe {
  readonly url: string;
  readonly expect: string;
  sent = 0;
  answered = 0;
  slowestMs = 0;
  readonly failures: string[] = [];
  private readonly inFlight = new Set<Promise<void>>();

  constructor(url: string, expect: string) {
    this.url = url;
    this.expect = expect;
  }

  /** Starts one probe request without waiting for it. */
  check(): void {
    this.sent++;
    const started = Date.now();
    const p = fetch(this.url, { signal: AbortSignal.timeout(PROBE_MS) }).then(async (r) => {
      const body = await r.text();
      if (r.status !== 200 || body !== this.expect) this.failures.push(`probe answered ${r.status} ${JSON.stringify(body.slice(0, 80))}`);
      else this.answered++;
      this.slowestMs = Math.max(this.slowestMs, Date.now() - started);
    }, (err: Error) => { this.failures.push(`probe failed after ${Date.now() - started} ms: ${err.message}`); });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** Waits for every probe started so far. */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }
}
