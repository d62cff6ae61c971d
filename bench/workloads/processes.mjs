import { callbacksPath, startWebdat } from '../lib/contenders.mjs';
import { addRatios, compare, startFleet, stopFleet } from '../lib/compare.mjs';
import { checkHello, httpMemberLoad, wsMemberLoad } from '../lib/member-load.mjs';
import { httpToolLine } from '../lib/report.mjs';

// Workloads j and k: webdat with `--processes 1` and `--processes 2` (SPEC §12) under the same load,
// side by side. The server CPU per operation sums every engine process. On a machine whose cores the
// load generator shares, a second process shows its cost (IPC for broadcasts, two event loops) more
// than its gain; on a machine with idle cores it is how webdat grows past one I/O thread.

const WORKLOADS = {
  j: { title: 'GET hello world, 1 and 2 engine processes', callbacks: 'http.js', unit: 'req/s' },
  k: { title: 'WebSocket broadcast to 1,000 clients, 1 and 2 engine processes', callbacks: 'broadcast.js', unit: 'deliveries/s' },
};

const contenders = (callbacks) => [1, 2].map((n) => ({
  name: `p${n}`,
  label: `webdat ×${n}`,
  start: () => startWebdat({ name: `webdat-p${n}`, args: ['--callbacks', callbacksPath(callbacks), '--port', '0', '--host', '127.0.0.1', '--processes', String(n)] }),
}));

export async function runProcesses(ids, ctx) {
  const out = {};
  for (const id of ids) {
    const w = WORKLOADS[id];
    const how = id === 'j' ? httpToolLine(ctx.httpTool) : `${ctx.wsClient} client in its own process`;
    ctx.log(`${id}. ${w.title} (${how}, ${ctx.seconds} s × ${ctx.runs} runs per contender)`);
    const fleet = await startFleet(contenders(w.callbacks), ctx.log);
    try {
      if (id === 'j') await checkHello(fleet);
      const load = id === 'j' ? httpMemberLoad('/') : wsMemberLoad('broadcast', 1000, ctx.wsClient);
      const ran = await compare({ fleet, runs: ctx.runs, warmup: load(ctx.warmup), load: load(ctx.seconds), log: ctx.log });
      out[id] = { title: w.title, unit: w.unit, refs: ['p1'], contenders: addRatios(ran, ['p1']) };
    } finally {
      await stopFleet(fleet);
    }
  }
  return out;
}
