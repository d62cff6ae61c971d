import fs from 'node:fs';

// Watches the engine process under the supervisor through /proc: which pid it is, its RSS and its
// open file descriptors, so each engine life can be judged on its own.

export interface Sample { t: number; rssKiB: number; fds: number }
export interface Life { pid: number; samples: Sample[] }

function childOf(parent: number): number | null {
  try {
    const kids = fs.readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return kids.at(-1) ?? null;
  } catch {
    return null;
  }
}

function sample(pid: number): Sample | null {
  try {
    const rss = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
    return rss === null ? null : { t: Date.now(), rssKiB: Number(rss[1]), fds };
  } catch {
    return null;
  }
}

export class EngineWatch {
  readonly lives: Life[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(supervisorPid: number, everyMs: number) {
    this.timer = setInterval(() => {
      const pid = childOf(supervisorPid);
      if (pid === null) return;
      const s = sample(pid);
      if (s === null) return;
      let life = this.lives.at(-1);
      if (life === undefined || life.pid !== pid) {
        life = { pid, samples: [] };
        this.lives.push(life);
      }
      life.samples.push(s);
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
export function secondHalfGrowth(life: Life, pick: (s: Sample) => number): { from: number; to: number; growth: number } | null {
  const s = life.samples;
  if (s.length < 20) return null;
  const mid = s[0].t + (s[s.length - 1].t - s[0].t) / 2;
  const half = s.filter((x) => x.t >= mid);
  const fifth = Math.max(2, Math.floor(half.length / 5));
  const from = Math.min(...half.slice(0, fifth).map(pick));
  const to = Math.min(...half.slice(-fifth).map(pick));
  return { from, to, growth: (to - from) / from };
}
