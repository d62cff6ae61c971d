import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { callbacksPath, nodePeer, startWebdat, writeConfig } from '../lib/contenders.mjs';
import { addRatios, compare, startFleet, stopFleet } from '../lib/compare.mjs';
import { httpMemberLoad } from '../lib/member-load.mjs';
import { httpToolLine } from '../lib/report.mjs';
import { HELLO } from '../lib/payloads.mjs';

// Workloads m and n: what a capability costs beside the same logic in plain Node. m reads and writes
// one stored key per request (webServer.storage vs lmdb called directly, opened the same way); n makes
// one outbound fetch per request to a local upstream (webdat's fetch vs undici's). The ratios are to
// the node:http peer: throughput, and server CPU per request (the engine process, every thread; the
// upstream's CPU counts for neither).

// Generous limits: what is measured is the capability's cost, not a 100 ms default turning a busy
// machine's slow fsync or upstream into 503s; 64 connections need 64 fetch slots.
const LIMITS = { timeoutMs: 10_000, maxFetches: 128 };

const WORKLOADS = {
  m: { title: 'one stored key read and written per request', peer: 'node:http + lmdb', callbacks: 'storage.js' },
  n: { title: 'one outbound fetch per request to a local upstream', peer: 'node:http + undici', callbacks: 'fetch.js' },
};

function webdatWith(callbacks, { egress, dataDir }) {
  const file = writeConfig({
    dataDir,
    servers: [{ name: 'bench', host: '127.0.0.1', port: 0, callbacks: callbacksPath(callbacks), limits: LIMITS, ...(egress ? { egress } : {}) }],
  });
  return async () => {
    const w = await startWebdat({ args: ['--config', file] });
    return { ...w, stop: async () => { await w.stop(); fs.rmSync(path.dirname(file), { recursive: true, force: true }); } };
  };
}

/** Every contender of l counts from where it stands: two answers in a row must be n and n + 1. */
async function verifyCounter(m) {
  const a = Number(await (await fetch(m.server.url + '/')).text());
  const b = Number(await (await fetch(m.server.url + '/')).text());
  if (!(Number.isInteger(a) && b === a + 1)) throw new Error(`${m.label}: two requests answered ${a} then ${b}`);
}

async function verifyFetch(m, target) {
  const r = await fetch(m.server.url + target);
  const text = await r.text();
  if (r.status !== 200 || text !== HELLO) throw new Error(`${m.label}: answered ${r.status} ${JSON.stringify(text.slice(0, 200))}`);
}

export async function runCapabilities(ids, ctx) {
  const out = {};
  for (const id of ids) {
    const w = WORKLOADS[id];
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'webdat-bench-'));
    // raw uWS.js answers m's fetches: the fastest upstream this machine has, the same for both
    const upstream = id === 'n' ? await nodePeer('upstream', 'uws.mjs') : null;
    const target = upstream === null ? '/' : `/?upstream=${encodeURIComponent(upstream.url + '/')}`;
    const contenders = id === 'm'
      ? [
          { name: 'webdat', label: 'webdat', start: webdatWith(w.callbacks, { dataDir: path.join(scratch, 'webdat') }) },
          { name: 'node', label: w.peer, start: () => nodePeer('node-lmdb', 'node-lmdb.mjs', path.join(scratch, 'node-lmdb')) },
        ]
      : [
          { name: 'webdat', label: 'webdat', start: webdatWith(w.callbacks, { egress: { allow: [new URL(upstream.url).host] }, dataDir: path.join(scratch, 'webdat') }) },
          { name: 'node', label: w.peer, start: () => nodePeer('node-fetch', 'node-fetch.mjs', upstream.url + '/') },
        ];
    ctx.log(`${id}. ${w.title} (${httpToolLine(ctx.httpTool)}, ${ctx.seconds} s × ${ctx.runs} runs per contender)${upstream ? `; upstream raw uWS.js at ${upstream.url}` : ''}`);
    try {
      const fleet = await startFleet(contenders, ctx.log);
      try {
        for (const m of fleet) await (id === 'm' ? verifyCounter(m) : verifyFetch(m, target));
        const load = httpMemberLoad(target);
        const ran = addRatios(await compare({ fleet, runs: ctx.runs, warmup: load(ctx.warmup), load: load(ctx.seconds), log: ctx.log }), ['node']);
        const ref = ran.find((c) => c.name === 'node');
        for (const c of ran) c.cpuRatio = { node: c.median.serverCpuUsPerOp / ref.median.serverCpuUsPerOp };
        out[id] = { title: w.title, unit: 'req/s', refs: ['node'], contenders: ran };
      } finally {
        await stopFleet(fleet);
      }
    } finally {
      await upstream?.stop();
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  }
  return out;
}
