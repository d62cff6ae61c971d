import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { callbacksPath, startWebdat, writeConfig } from '../lib/contenders.mjs';
import { cpuSeconds, freePort, rssBytes, sleep } from '../lib/processes.mjs';
import { percentile } from '../lib/stats.mjs';

// Workload l (issue 13): ten thousand servers with `limits.idleSeconds` behind Host routing on one
// port. Measures the time from `webdat serve` to the last readiness line, then a load client cycles
// through 1,000 of them, each of its connections sending its next request when the last was answered:
// once to build each (the first event of each server), then, after every one was released, again for
// a while. A round of 1,000 takes many idle periods, so each request of the second part finds its
// server's isolate released: the callbacks answer their module-level request count, and "1" marks the
// first response of a fresh isolate. Reports the latency of those first responses (client's view,
// keep-alive connections), the engine's CPU per request and its RSS, sampled through the load.

const MiB = 1024 * 1024;
const SERVERS = 10_000;
const CYCLED = 1_000;
const IDLE_SECONDS = 1;
/**
 * Each request builds an isolate and later releases it (about 12 ms of CPU in all, measured): two
 * connections keep both workers building while the figure stays the latency of a first response, not
 * the wait in a queue a faster open-loop client would build on a shared 2-core machine.
 */
const CONNECTIONS = 2;
/** servers t0, t9, t18, …: spread over the 10,000 and, with an odd stride, over both workers (servers are placed on them in turn) */
const STRIDE = 9;

function idleConfig(port) {
  return {
    servers: Array.from({ length: SERVERS }, (_, i) => ({
      name: `t${String(i).padStart(5, '0')}`,
      host: '127.0.0.1',
      port,
      hosts: [`t${String(i).padStart(5, '0')}.test`],
      callbacks: callbacksPath('idle.js'),
      limits: { idleSeconds: IDLE_SECONDS },
    })),
  };
}

function get(agent, port, host) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent, timeout: 30_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, error: res.headers['x-webdat-error'], body, ms: performance.now() - t0 }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET / for ${host}: no answer within 30 s`)));
    req.on('error', reject);
  });
}

/**
 * `connections` keep-alive clients, each sending its next request when the last was answered, until
 * `requests` were sent or `seconds` passed; server k of the cycle is t(k × STRIDE).
 */
async function cycle(port, { seconds = Infinity, requests = Infinity, connections = CONNECTIONS }, pid) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const fresh = [];
  const warm = [];
  const rss = [];
  let errors = 0;
  /** what the errors were: `status x-webdat-error`, or the client's error */
  const kinds = {};
  const failed = (kind) => { errors++; kinds[kind] = (kinds[kind] ?? 0) + 1; };
  let k = 0;
  const sampler = setInterval(() => rss.push(rssBytes(pid)), 250);
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  const client = async () => {
    while (performance.now() < until && k < requests) {
      const host = `t${String((k++ % CYCLED) * STRIDE).padStart(5, '0')}.test`;
      try {
        const r = await get(agent, port, host);
        if (r.status !== 200) failed(`${r.status} ${r.error ?? ''}`.trim());
        else (r.body === '1' ? fresh : warm).push(r.ms);
      } catch (err) {
        failed(err.code ?? err.message);
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, client));
  clearInterval(sampler);
  agent.destroy();
  return { fresh, warm, errors, kinds, rss, seconds: (performance.now() - t0) / 1000 };
}

export async function runIdle(ctx) {
  const seconds = ctx.quick ? 10 : 30;
  ctx.log(`l. ${SERVERS.toLocaleString('en')} servers with idleSeconds ${IDLE_SECONDS} on one port (Host routing); ${CYCLED.toLocaleString('en')} cycled by ${CONNECTIONS} connections for ${seconds} s`);
  const port = await freePort();
  const file = writeConfig(idleConfig(port));
  const w = await startWebdat({ args: ['--config', file], servers: SERVERS, readyMs: 300_000 });
  try {
    const allListenMs = w.readyAt[w.readyAt.length - 1];
    const listeningRss = rssBytes(w.pid);
    ctx.log(`  all ${SERVERS} listening after ${allListenMs.toFixed(0)} ms (first after ${w.readyAt[0].toFixed(0)} ms; ${w.startCpuSeconds.toFixed(2)} s of CPU); engine RSS ${(listeningRss / MiB).toFixed(0)} MiB`);
    // Every one of the 1,000 is built once (its first event ever), then left to be released.
    const first = await cycle(port, { requests: CYCLED, connections: 4 }, w.pid);
    ctx.log(`  first events of the ${CYCLED}: ${first.fresh.length} answered by a new isolate in ${first.seconds.toFixed(1)} s (${first.errors} errors${first.errors ? ` ${JSON.stringify(first.kinds)}` : ''}), p50 ${percentile(first.fresh, 50)?.toFixed(2)} ms, p99 ${percentile(first.fresh, 99)?.toFixed(2)} ms`);
    await sleep(IDLE_SECONDS * 1000 + 2000);
    const cpu0 = cpuSeconds(w.pid);
    const r = await cycle(port, { seconds }, w.pid);
    const cpuMsPerRequest = ((cpuSeconds(w.pid) - cpu0) * 1000) / (r.fresh.length + r.warm.length + r.errors);
    const afterRss = rssBytes(w.pid);
    const summary = {
      servers: SERVERS,
      cycled: CYCLED,
      idleSeconds: IDLE_SECONDS,
      connections: CONNECTIONS,
      requestsPerSecond: (r.fresh.length + r.warm.length) / r.seconds,
      allListenMs,
      firstListenMs: w.readyAt[0],
      /** CPU of every webdat process (supervisor and engine, all threads) until the last readiness line */
      startCpuSeconds: w.startCpuSeconds,
      /** engine CPU (I/O thread, workers, GC) per request during the load, every one a fresh isolate */
      cpuMsPerRequest,
      listeningRssMiB: listeningRss / MiB,
      peakRssMiB: Math.max(listeningRss, afterRss, ...first.rss, ...r.rss) / MiB,
      firstEventP50Ms: percentile(first.fresh, 50),
      firstEventP99Ms: percentile(first.fresh, 99),
      afterRssMiB: afterRss / MiB,
      freshResponses: r.fresh.length,
      warmResponses: r.warm.length,
      errors: r.errors,
      firstEventErrors: first.kinds,
      freshP50Ms: percentile(r.fresh, 50),
      freshP99Ms: percentile(r.fresh, 99),
    };
    ctx.log(`  cycling again, each server released since: ${summary.requestsPerSecond.toFixed(0)} req/s; ${r.fresh.length} first responses of rebuilt isolates (${r.warm.length} found theirs still there, ${r.errors} errors${r.errors ? ` ${JSON.stringify(r.kinds)}` : ''}): p50 ${summary.freshP50Ms?.toFixed(2)} ms, p99 ${summary.freshP99Ms?.toFixed(2)} ms; ${cpuMsPerRequest.toFixed(2)} ms of engine CPU per request; engine RSS peak ${summary.peakRssMiB.toFixed(0)} MiB, ${summary.afterRssMiB.toFixed(0)} MiB after`);
    return { l: { title: `${SERVERS.toLocaleString('en')} servers with idleSeconds behind Host routing, ${CYCLED.toLocaleString('en')} cycled`, summary } };
  } finally {
    await w.stop();
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
}
