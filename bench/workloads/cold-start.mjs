import { callbacksPath, startWebdat, writeConfig } from '../lib/contenders.mjs';
import { timedGet } from '../lib/http-probe.mjs';
import { median, percentile } from '../lib/stats.mjs';
import fs from 'node:fs';
import path from 'node:path';

// Workload f: one config with many servers. Measures the time from `webdat serve` to the last
// readiness line, then each server's first response (new connection each, one server after the
// other) against a second response of the same server: the difference is the cold start.

export function manyServersConfig(n, callbacks = 'http.js') {
  return {
    servers: Array.from({ length: n }, (_, i) => ({
      name: `s${String(i).padStart(3, '0')}`,
      host: '127.0.0.1',
      port: 0,
      callbacks: callbacksPath(callbacks),
    })),
  };
}

export async function runColdStart(ctx) {
  const n = ctx.coldServers;
  ctx.log(`f. ${n} servers from one config: time until all listen, first response of each (${ctx.runs} runs)`);
  const runs = [];
  const first = [];
  const second = [];
  for (let r = 0; r < ctx.runs; r++) {
    const file = writeConfig(manyServersConfig(n));
    const w = await startWebdat({ args: ['--config', file], servers: n });
    try {
      const cold = [];
      const warm = [];
      for (const url of w.urls.values()) {
        const a = await timedGet(url + '/');
        if (a.status !== 200) throw new Error(`cold start: ${url} answered ${a.status}`);
        cold.push(a.ms);
      }
      for (const url of w.urls.values()) warm.push((await timedGet(url + '/')).ms);
      first.push(...cold);
      second.push(...warm);
      const run = {
        firstListenMs: w.readyAt[0],
        allListenMs: w.readyAt[w.readyAt.length - 1],
        coldP50Ms: percentile(cold, 50),
        coldP99Ms: percentile(cold, 99),
        warmP50Ms: percentile(warm, 50),
      };
      runs.push(run);
      ctx.log(`  run ${r + 1}/${ctx.runs}: all ${n} listening after ${run.allListenMs.toFixed(0)} ms (first after ${run.firstListenMs.toFixed(0)} ms); first response p50 ${run.coldP50Ms.toFixed(2)} ms, p99 ${run.coldP99Ms.toFixed(2)} ms; second response p50 ${run.warmP50Ms.toFixed(2)} ms`);
    } finally {
      await w.stop();
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  }
  return {
    f: {
      title: `${n} servers from one config: listen time and cold start`,
      servers: n,
      runs,
      summary: {
        allListenMs: median(runs.map((x) => x.allListenMs)),
        firstListenMs: median(runs.map((x) => x.firstListenMs)),
        coldP50Ms: percentile(first, 50),
        coldP99Ms: percentile(first, 99),
        warmP50Ms: percentile(second, 50),
        warmP99Ms: percentile(second, 99),
      },
    },
  };
}
