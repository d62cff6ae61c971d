import { wsContenders } from '../lib/contenders.mjs';
import { addRatios, compare, startFleet, stopFleet } from '../lib/compare.mjs';
import { wsMemberLoad } from '../lib/member-load.mjs';

// Workloads d and e: each with its own fleet (webdat runs different callbacks for each). The peers
// serve /echo and /broadcast; webdat serves its callbacks on every path.

const WS_REFS = ['uws', 'ws'];

const WS_WORKLOADS = {
  d: { title: 'WebSocket echo, 64-byte messages, 64 connections', mode: 'echo', connections: 64, callbacks: 'echo.js', unit: 'msg/s' },
  e: { title: 'WebSocket broadcast to 1,000 clients', mode: 'broadcast', connections: 1000, callbacks: 'broadcast.js', unit: 'deliveries/s' },
};

export async function runWs(id, ctx) {
  const w = WS_WORKLOADS[id];
  ctx.log(`${id}. ${w.title} (${ctx.wsClient} client in its own process, ${ctx.seconds} s × ${ctx.runs} runs per contender)`);
  const fleet = await startFleet(wsContenders(w.callbacks), ctx.log);
  try {
    const load = wsMemberLoad(w.mode, w.connections, ctx.wsClient);
    const contenders = await compare({ fleet, runs: ctx.runs, warmup: load(ctx.warmup), load: load(ctx.seconds), log: ctx.log });
    return { [id]: { title: w.title, unit: w.unit, refs: WS_REFS, contenders: addRatios(contenders, WS_REFS) } };
  } finally {
    await stopFleet(fleet);
  }
}
