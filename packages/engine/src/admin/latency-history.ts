import { LATENCY_BOUNDS, type Latency } from '../http/latency.js';

// The dashboard's last five minutes: every SAMPLE_SECONDS the admin listener turns each server's
// histogram counts into one sample (requests per second, p50, p99 over that interval) and keeps the
// last SAMPLES of them. p50/p99 are estimated from the buckets (linear inside the bucket), as
// Prometheus' histogram_quantile() does; a server removed from the engine drops out at the next tick.

export const SAMPLE_SECONDS = 5;
const SAMPLES = 60;

/** [epoch ms, requests/s, p50 ms, p99 ms]; the quantiles are null for an interval without requests. */
export type Sample = [number, number, number | null, number | null];

interface Track {
  last: number[];
  samples: Sample[];
}

export function quantileMs(counts: ArrayLike<number>, total: number, q: number): number | null {
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] === 0) continue;
    if (seen + counts[i] >= rank) {
      if (i === LATENCY_BOUNDS.length) return LATENCY_BOUNDS[i - 1] * 1000;
      const low = i === 0 ? 0 : LATENCY_BOUNDS[i - 1];
      return (low + (LATENCY_BOUNDS[i] - low) * ((rank - seen) / counts[i])) * 1000;
    }
    seen += counts[i];
  }
  return null;
}

export class LatencyHistory {
  private readonly tracks = new Map<string, Track>();

  constructor(private readonly servers: () => Array<{ name: string; latency: Latency }>) {}

  tick(at = Date.now()): void {
    const alive = new Set<string>();
    for (const { name, latency } of this.servers()) {
      alive.add(name);
      const track = this.tracks.get(name);
      if (track === undefined) {
        this.tracks.set(name, { last: latency.counts.slice(), samples: [] });
        continue;
      }
      const delta = latency.counts.map((c, i) => c - track.last[i]);
      const total = delta.reduce((a, b) => a + b, 0);
      track.samples.push([at, total / SAMPLE_SECONDS, quantileMs(delta, total, 0.5), quantileMs(delta, total, 0.99)]);
      if (track.samples.length > SAMPLES) track.samples.shift();
      track.last = latency.counts.slice();
    }
    for (const name of this.tracks.keys()) if (!alive.has(name)) this.tracks.delete(name);
  }

  /** The body of GET /latency. */
  toJSON(): { intervalSeconds: number; servers: Array<{ name: string; samples: Sample[] }> } {
    return {
      intervalSeconds: SAMPLE_SECONDS,
      servers: [...this.tracks].map(([name, t]) => ({ name, samples: t.samples })),
    };
  }
}
