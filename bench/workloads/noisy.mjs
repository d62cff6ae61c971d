import fs from 'node:fs';
import path from 'node:path';
import { callbacksPath, startWebdat, writeConfig } from '../lib/contenders.mjs';
import { fmtRate } from '../lib/compare.mjs';
import { httpLoad } from '../lib/http-load.mjs';
import { timedGet } from '../lib/http-probe.mjs';
import { sleep } from '../lib/processes.mjs';
import { median } from '../lib/stats.mjs';

// Workload h: four servers on one engine. "quiet" answers hello world; "loop" loops in every request
// until its time limit stops it; "bomb" allocates in every request until its heap limit disposes the
// isolate (a memory-limit restart); "steady" computes 90 ms in every request, within its limits, on
// the quiet server's own worker thread. Each round measures the quiet server's throughput alone, then
// with each kind of neighbour hammered by its own HTTP load, then with both breaching ones at once.

// Enough to keep each neighbour's queue full: a looping server answers one request per turn and then
// rests (up to 8 time limits), so whatever its hammer leaves queued takes queue × ~0.9 s to drain
// after each measure (16 connections: ~15 s; 32 made workload h alone five minutes long).
const HAMMER_CONNECTIONS = 16;
/** The steady neighbour's load, as in issue 10: 4 clients keep one of its 90 ms calls always queued. */
const STEADY_CONNECTIONS = 4;
const NEIGHBOURS = {
  loop: { callbacks: 'spin.js', limits: { timeoutMs: 100 } },
  // A generous time limit, so that the heap limit is what stops the bomb however loaded the machine.
  bomb: { callbacks: 'memory-bomb.js', limits: { memoryMb: 32, timeoutMs: 2000 } },
  // Placed after the others, on the worker with the fewest servers: the quiet server's (see workers).
  // Its time limit is ten times its call, so a loaded machine never turns it into a breaching one.
  steady: { callbacks: 'steady.js', limits: { timeoutMs: 900 } },
};
/** `goal`: the least share of its throughput alone the quiet server keeps (bench/lib/targets.mjs). */
const CONDITIONS = [
  { name: 'timeout', label: 'neighbour looping into its time limit', noisy: ['loop'], goal: 0.8 },
  { name: 'memory', label: 'neighbour exhausting its memory limit', noisy: ['bomb'], goal: 0.8 },
  { name: 'both', label: 'both neighbours at once', noisy: ['loop', 'bomb'], goal: 0.8 },
  // The worker is shared, so the quiet server waits for the neighbour's calls: it keeps its share.
  { name: 'steady', label: 'neighbour on its worker, 90 ms calls within limits', noisy: ['steady'], goal: 0.4, connections: STEADY_CONNECTIONS },
];
const MEMORY_RESTART = /exceeded the \d+ MB memory limit/g;

/** Counts the engine's memory-limit restarts from the line it logs for each (on stderr). */
function countMemoryRestarts(handle) {
  const counter = { total: 0 };
  let partial = '';
  handle.proc.stderr.on('data', (chunk) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop();
    for (const line of lines) counter.total += (line.match(MEMORY_RESTART) ?? []).length;
  });
  return counter;
}

/** The quiet server must answer every request 200 whatever its neighbours do: flag any that it did not. */
function failed(load) {
  return load.errors || load.non2xx ? `  QUIET SERVER FAILED: ${load.errors} errors, ${load.non2xx} non-2xx` : '';
}

export async function runNoisy(ctx) {
  ctx.log(`h. noisy neighbour: the quiet server's hello world alone vs. while a neighbour on the same engine (on a worker thread of its own) loops into its time limit, exhausts its memory limit, or both, each hammered over ${HAMMER_CONNECTIONS} connections, and while a neighbour on its worker thread computes 90 ms per request over ${STEADY_CONNECTIONS}`);
  const file = writeConfig({
    servers: [
      { name: 'quiet', host: '127.0.0.1', port: 0, callbacks: callbacksPath('http.js') },
      ...Object.entries(NEIGHBOURS).map(([name, n]) => ({ name, host: '127.0.0.1', port: 0, callbacks: callbacksPath(n.callbacks), limits: n.limits })),
    ],
    // One worker thread per breaching server, as the engine's default gives with a core per server:
    // what those rows measure is what servers cannot help sharing (the I/O thread, the process, the
    // cores). The steady neighbour, placed last, shares the quiet server's worker thread: its row
    // measures how the worker is shared.
    workers: Object.keys(NEIGHBOURS).length,
  });
  const w = await startWebdat({ args: ['--config', file], servers: 1 + Object.keys(NEIGHBOURS).length });
  const restarts = countMemoryRestarts(w.handle);
  const quiet = w.urls.get('quiet') + '/';
  const alone = [];
  const noisy = Object.fromEntries(CONDITIONS.map((c) => [c.name, { runs: [], hammers: [], memoryRestarts: 0 }]));
  try {
    await httpLoad({ url: quiet, seconds: ctx.warmup });
    for (let r = 0; r < ctx.runs; r++) {
      const a = await httpLoad({ url: quiet, seconds: ctx.seconds });
      alone.push(a);
      ctx.log(`  run ${r + 1}/${ctx.runs} alone          ${fmtRate(a.rate)}  p99 ${a.p99Ms.toFixed(2)} ms${failed(a)}`);
      // The conditions' order rotates each round, as contenders do elsewhere, to spread drift.
      for (const c of CONDITIONS.map((_, i) => CONDITIONS[(i + r) % CONDITIONS.length])) {
        const restarts0 = restarts.total;
        // The hammers start first and outlast the measure, so the quiet server is measured only
        // while its neighbours misbehave.
        const hammers = c.noisy.map((n) => httpLoad({ url: w.urls.get(n) + '/', seconds: ctx.seconds + 2, connections: c.connections ?? HAMMER_CONNECTIONS, timeoutS: 30 }));
        await sleep(1000);
        const b = await httpLoad({ url: quiet, seconds: ctx.seconds });
        const hs = await Promise.all(hammers);
        // Whatever the hammers left queued must be answered before the next run: a request queued
        // behind a runaway loop is answered only when its turn comes.
        const drain = await Promise.all(c.noisy.map((n) => timedGet(w.urls.get(n) + '/', 120_000)));
        // And the after-effects (collecting the bombs' heaps, flushing the engine's log) must not
        // land on the next measure.
        await sleep(1000);
        const m = noisy[c.name];
        m.runs.push(b);
        m.hammers.push(...hs);
        m.memoryRestarts += restarts.total - restarts0;
        const answered = hs.reduce((s, h) => s + h.requests, 0);
        const non2xx = hs.reduce((s, h) => s + h.non2xx, 0);
        ctx.log(`  run ${r + 1}/${ctx.runs} ${c.name.padEnd(14)} ${fmtRate(b.rate)}  p99 ${b.p99Ms.toFixed(2)} ms${failed(b)}  (${(b.rate / a.rate).toFixed(2)}× alone; neighbours answered ${answered} requests, ${non2xx} non-2xx; ${restarts.total - restarts0} memory-limit restarts; drained in ${Math.max(...drain.map((d) => d.ms)).toFixed(0)} ms)`);
      }
    }
  } finally {
    await w.stop();
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
  const aloneRate = median(alone.map((x) => x.rate));
  return {
    h: {
      title: 'noisy neighbour: quiet server with a misbehaving neighbour vs. alone',
      alone: { rate: aloneRate, p99Ms: median(alone.map((x) => x.p99Ms)), runs: alone },
      conditions: CONDITIONS.map((c) => {
        const m = noisy[c.name];
        const rate = median(m.runs.map((x) => x.rate));
        return { name: c.name, label: c.label, goal: c.goal, rate, p99Ms: median(m.runs.map((x) => x.p99Ms)), ratio: rate / aloneRate, memoryRestarts: m.memoryRestarts, runs: m.runs, hammers: m.hammers };
      }),
    },
  };
}
