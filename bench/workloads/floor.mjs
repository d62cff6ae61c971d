import { FLOOR_CONTENDERS } from '../lib/contenders.mjs';
import { addRatios, compare, startFleet, stopFleet } from '../lib/compare.mjs';
import { httpLoad } from '../lib/http-load.mjs';
import { httpToolLine } from '../lib/report.mjs';
import { HELLO } from '../lib/payloads.mjs';

// Workload i: where the time of workload a goes. The same hello world through raw uWS.js, through the
// fixed parts of the architecture one at a time (trusted code, no isolate), and through webdat, side
// by side in one run. The step from one row to the next is what that part costs here.

const TITLE = 'hello world through each fixed part';

export async function runFloor(ctx) {
  ctx.log(`i. ${TITLE}: starting ${FLOOR_CONTENDERS.map((c) => c.label).join(', ')}`);
  const fleet = await startFleet(FLOOR_CONTENDERS, ctx.log);
  try {
    for (const m of fleet) {
      const text = await (await fetch(m.server.url + '/')).text();
      if (text !== HELLO) throw new Error(`${m.label}: GET / answered ${JSON.stringify(text.slice(0, 80))}`);
    }
    ctx.log(`i. ${TITLE} (${httpToolLine(ctx.httpTool)}, ${ctx.seconds} s × ${ctx.runs} runs per contender)`);
    const load = (seconds) => async (m) => {
      const r = await httpLoad({ url: m.server.url + '/', seconds, connections: 64 });
      return { ...r, ops: r.requests };
    };
    const contenders = await compare({ fleet, runs: ctx.runs, warmup: load(ctx.warmup), load: load(ctx.seconds), log: ctx.log });
    return { i: { title: TITLE, unit: 'req/s', refs: ['uws'], contenders: addRatios(contenders, ['uws']) } };
  } finally {
    await stopFleet(fleet);
  }
}
