// The goals webdat is held to (issues 5 and 12), checked against a run's results. A target whose workload
// was not run is left out; one whose figure could not be measured is a failure. `gap` is how far the
// measure is from the goal, signed so that a negative gap on a ">=" goal and a positive one on a
// "<=" goal are the misses. `chart` marks the goals drawn on the SVG chart, whose bars are ratios to
// raw uWS.js (a–e) or to the quiet server alone (h).

function webdat(w) {
  return w?.contenders?.find((c) => c.name === 'webdat');
}

/** webdat's server CPU per operation over `peer`'s, in the same run (issue 12). */
function cpuRatio(w, peer) {
  const mine = webdat(w)?.median?.serverCpuUsPerOp;
  const theirs = w?.contenders?.find((c) => c.name === peer)?.median?.serverCpuUsPerOp;
  return mine / theirs;
}

export function evaluateTargets(results) {
  const out = [];
  const add = (workload, label, measured, op, goal, { unit = '×', chart = false } = {}) => {
    const pass = op === '>=' ? measured >= goal : measured <= goal;
    out.push({ workload, label, measured, op, goal, unit, chart, pass, gap: measured / goal - 1 });
  };
  const a = webdat(results.a);
  if (a) {
    add('a', 'req/s vs raw uWS.js', a.ratio.uws, '>=', 0.6, { chart: true });
    add('a', 'req/s vs fastify', a.ratio.fastify, '>=', 1.3);
    add('a', 'req/s vs workerd', a.ratio.workerd, '>=', 4);
    add('a', 'p99 latency vs raw uWS.js', a.p99Ratio.uws, '<=', 2);
    add('a', 'server CPU per request vs fastify', cpuRatio(results.a, 'fastify'), '<=', 1);
  }
  if (webdat(results.c)) add('c', 'server CPU per request vs node:http', cpuRatio(results.c, 'node-http'), '<=', 2);
  const d = webdat(results.d);
  if (d) {
    add('d', 'msg/s vs raw uWS.js echo', d.ratio.uws, '>=', 0.5, { chart: true });
    add('d', 'msg/s vs ws', d.ratio.ws, '>=', 1.5);
    add('d', 'server CPU per message vs ws', cpuRatio(results.d, 'ws'), '<=', 1.2);
  }
  if (results.f) add('f', 'cold start, first response p50', results.f.summary.coldP50Ms, '<=', 5, { unit: 'ms' });
  if (results.g) {
    for (const p of results.g.points) add('g', `RSS per idle server at ${p.servers} servers`, p.perServerServedMiB, '<=', 3, { unit: 'MiB' });
  }
  if (results.h) {
    // The chart draws one goal per workload: the breach rows' 0.8× (results before the steady row have no goal).
    for (const c of results.h.conditions) add('h', `quiet server req/s vs alone, ${c.label}`, c.ratio, '>=', c.goal ?? 0.8, { chart: (c.goal ?? 0.8) === 0.8 });
  }
  if (results.l) {
    const s = results.l.summary;
    add('l', `engine RSS, ${s.servers} servers with idleSeconds, ${s.cycled} cycled`, s.peakRssMiB / 1024, '<=', 4, { unit: 'GiB' });
    add('l', 'first response of a released server, p99', s.freshP99Ms, '<=', 50, { unit: 'ms' });
    add('l', `all ${s.servers} servers listening`, s.allListenMs / 1000, '<=', 5, { unit: 's' });
  }
  return out;
}
