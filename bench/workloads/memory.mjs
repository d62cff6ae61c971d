import fs from 'node:fs';
import path from 'node:path';
import { startWebdat, writeConfig } from '../lib/contenders.mjs';
import { timedGet } from '../lib/http-probe.mjs';
import { rssBytes, sleep } from '../lib/processes.mjs';
import { median } from '../lib/stats.mjs';
import { manyServersConfig } from './cold-start.mjs';

// Workload g: resident memory of the engine process (the supervisor's child, where the isolates
// live) with 1 server and with N servers; (RSS(N) − RSS(1)) ÷ (N − 1) is the cost of one idle server.
// Measured twice per engine: right after every server listens, and after each answered one request
// (an idle server that has served: the state a real one is in). RSS is the median of a few samples.

const MiB = 1024 * 1024;

async function settledRss(pid) {
  await sleep(1000);
  const samples = [];
  for (let i = 0; i < 5; i++) { samples.push(rssBytes(pid)); await sleep(200); }
  return median(samples);
}

async function measure(n) {
  const file = writeConfig(manyServersConfig(n));
  const w = await startWebdat({ args: ['--config', file], servers: n, readyMs: 300_000 });
  try {
    const listening = await settledRss(w.pid);
    for (const url of w.urls.values()) await timedGet(url + '/');
    const served = await settledRss(w.pid);
    return { servers: n, listeningRss: listening, servedRss: served, allListenMs: w.readyAt[w.readyAt.length - 1] };
  } finally {
    await w.stop();
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
}

export async function runMemory(ctx) {
  ctx.log(`g. memory per idle server (engine RSS with 1, ${ctx.memoryServers.join(', ')} servers)`);
  const base = await measure(1);
  ctx.log(`  1 server: engine RSS ${(base.listeningRss / MiB).toFixed(1)} MiB listening, ${(base.servedRss / MiB).toFixed(1)} MiB after one request`);
  const points = [];
  for (const n of ctx.memoryServers) {
    const m = await measure(n);
    const point = {
      ...m,
      perServerListeningMiB: (m.listeningRss - base.listeningRss) / (n - 1) / MiB,
      perServerServedMiB: (m.servedRss - base.servedRss) / (n - 1) / MiB,
    };
    points.push(point);
    ctx.log(`  ${n} servers: engine RSS ${(m.servedRss / MiB).toFixed(0)} MiB; per server ${point.perServerListeningMiB.toFixed(2)} MiB listening, ${point.perServerServedMiB.toFixed(2)} MiB after one request (all listening after ${m.allListenMs.toFixed(0)} ms)`);
  }
  return { g: { title: 'memory per idle server', base, points } };
}
