import fs from 'node:fs';

// Watches the engine processes under the supervisor through /proc: which pids they are, their RSS and
// their open file descriptors, so each engine life can be judged on its own.

/** RSS and its parts (anonymous, file-backed, shared memory) as /proc/PID/status reports them */
export interface Sample {
  t: number; rssKiB: number; anonKiB: number; fileKiB: number; shmemKiB: number; threads: number; fds: number;
  /** each server's isolate heap (bytes) as the engine reported it at this sample (one engine process only) */
  isolates?: Record<string, number>;
}
/**
 * What the engine says of its memory on the admin API's /metrics: the I/O thread's V8 heap and
 * external memory, and each server's isolate heap (bytes), to tell which part of RSS moves.
 */
export interface MemoryMetrics { t: number; rssBytes: number; heapUsed: number; heapTotal: number; external: number; isolates: Record<string, number> }
export interface Life { pid: number; samples: Sample[] }

function childrenOf(parent: number): number[] {
  try {
    return fs.readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function sample(pid: number): Sample | null {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
    const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
    const rssKiB = field('VmRSS');
    if (Number.isNaN(rssKiB)) return null;
    return { t: Date.now(), rssKiB, anonKiB: field('RssAnon'), fileKiB: field('RssFile'), shmemKiB: field('RssShmem'), threads: field('Threads'), fds };
  } catch {
    return null;
  }
}

async function scrape(url: string): Promise<MemoryMetrics | null> {
  try {
    const text = await (await fetch(url, { signal: AbortSignal.timeout(2000) })).text();
    const one = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
    const isolates: Record<string, number> = {};
    for (const m of text.matchAll(/^webdat_isolate_heap_bytes\{server="([^"]+)"\} (\S+)/gm)) isolates[m[1]] = Number(m[2]);
    return {
      t: Date.now(), rssBytes: one('process_resident_memory_bytes'), heapUsed: one('nodejs_heap_size_used_bytes'),
      heapTotal: one('nodejs_heap_size_total_bytes'), external: one('nodejs_external_memory_bytes'), isolates,
    };
  } catch {
    return null;
  }
}

export class EngineWatch {
  /** one per engine process that ran, in the order they were first seen */
  readonly lives: Life[] = [];
  /** the admin API's figures (the first engine process's, where the admin listener lives) */
  readonly metrics: MemoryMetrics[] = [];
  /**
   * Per sample, RSS and descriptors summed over the engine processes then alive: with several, the
   * clients of a dead process reconnect to the others, so only the sum says whether either leaks.
   */
  readonly totals: Array<{ t: number; rssKiB: number; fds: number; processes: number }> = [];
  private readonly timer: NodeJS.Timeout;

  /**
   * `metricsUrl`, when given, is scraped with every sample; with one engine process its isolate heaps
   * are attached to that process's sample (with several, /metrics sums them over the processes).
   */
  constructor(supervisorPid: number, everyMs: number, metricsUrl?: string) {
    const byPid = new Map<number, Life>();
    this.timer = setInterval(() => {
      const taken: Sample[] = [];
      for (const pid of childrenOf(supervisorPid)) {
        const s = sample(pid);
        if (s === null) continue;
        let life = byPid.get(pid);
        if (life === undefined) {
          life = { pid, samples: [] };
          byPid.set(pid, life);
          this.lives.push(life);
        }
        life.samples.push(s);
        taken.push(s);
      }
      if (taken.length > 0) this.totals.push({ t: taken[0].t, rssKiB: taken.reduce((n, x) => n + x.rssKiB, 0), fds: taken.reduce((n, x) => n + x.fds, 0), processes: taken.length });
      if (metricsUrl === undefined) return;
      void scrape(metricsUrl).then((m) => {
        if (m === null) return;
        this.metrics.push(m);
        if (taken.length === 1) taken[0].isolates = m.isolates;
      });
    }, everyMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/**
 * Growth over the second half of a life: the lowest value of its last fifth against the lowest of its
 * first fifth. A leak raises the floor; the fourth server's memory breaches and worker replacements
 * only raise peaks that fall back (the engine's RSS swung ±20% around a flat floor with medians).
 */
export function secondHalfGrowth<S extends { t: number }>(life: { samples: S[] }, pick: (s: S) => number): { from: number; to: number; growth: number } | null {
  const s = life.samples;
  if (s.length < 20) return null;
  const mid = s[0].t + (s[s.length - 1].t - s[0].t) / 2;
  const half = s.filter((x) => x.t >= mid);
  const fifth = Math.max(2, Math.floor(half.length / 5));
  const from = Math.min(...half.slice(0, fifth).map(pick));
  const to = Math.min(...half.slice(-fifth).map(pick));
  return { from, to, growth: (to - from) / from };
}
