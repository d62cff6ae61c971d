import { FLOOR_CONTENDERS, WS_FLOOR_CONTENDERS } from '../lib/contenders.mjs';
import { addRatios, compare, startFleet, stopFleet } from '../lib/compare.mjs';
import { checkHello, httpMemberLoad, wsMemberLoad } from '../lib/member-load.mjs';
import { httpToolLine } from '../lib/report.mjs';

// Workloads i and o: where the time of workloads a and d goes. The same hello world (i) and the same
// echo (o) through raw uWS.js, through the fixed parts of the architecture one at a time (trusted
// code, no isolate), and through webdat, side by side in one run. The step from one row to the next
// is what that part costs here.

const FLOORS = {
  i: { title: 'hello world through each fixed part', unit: 'req/s', refs: ['uws'], contenders: FLOOR_CONTENDERS },
  o: { title: 'WebSocket echo through each fixed part', unit: 'msg/s', refs: ['uws', 'ws'], contenders: WS_FLOOR_CONTENDERS },
};

export async function runFloor(ids, ctx) {
  const results = {};
  for (const id of ids) {
    const w = FLOORS[id];
    ctx.log(`${id}. ${w.title}: starting ${w.contenders.map((c) => c.label).join(', ')}`);
    const fleet = await startFleet(w.contenders, ctx.log);
    try {
      if (id === 'i') await checkHello(fleet);
      const tool = id === 'i' ? httpToolLine(ctx.httpTool) : `${ctx.wsClient} WebSocket client`;
      ctx.log(`${id}. ${w.title} (${tool}, ${ctx.seconds} s × ${ctx.runs} runs per contender)`);
      const load = id === 'i' ? httpMemberLoad('/') : wsMemberLoad('echo', 64, ctx.wsClient);
      const contenders = await compare({ fleet, runs: ctx.runs, warmup: load(ctx.warmup), load: load(ctx.seconds), log: ctx.log });
      results[id] = { title: w.title, unit: w.unit, refs: w.refs, contenders: addRatios(contenders, w.refs) };
    } finally {
      await stopFleet(fleet);
    }
  }
  return results;
}
