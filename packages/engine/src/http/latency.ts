import { performance } from 'node:perf_hooks';

// Request durations, from the request's arrival on the I/O thread to its response written. One
// fixed-bucket histogram per server, counted in place: recording is an index search and two adds,
// no allocation, so it can run on every request. /metrics and the dashboard read these counts.

/** Upper bounds in seconds; with +Inf that makes 10 buckets (Prometheus cost grows with each). */
export const LATENCY_BOUNDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 5] as const;

export class Latency {
  /** per-bucket (not cumulative) counts; the last is +Inf. A plain array: a Float64Array per server
   *  was the costliest part of creating ten thousand servers (an off-heap buffer each) */
  readonly counts: number[] = new Array<number>(LATENCY_BOUNDS.length + 1).fill(0);
  sum = 0;
}

/** The clock requests are stamped with on arrival, in milliseconds. */
export const now = (): number => performance.now();

export function recordLatency(latency: Latency, startMs: number): void {
  const seconds = (performance.now() - startMs) / 1000;
  let i = 0;
  while (i < LATENCY_BOUNDS.length && seconds > LATENCY_BOUNDS[i]) i++;
  latency.counts[i]++;
  latency.sum += seconds;
}
