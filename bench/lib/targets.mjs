// The goals webdat is held to (issue 5), checked against a run's results. A target whose workload
// was not run is left out; one whose figure could not be measured is a failure. `gap` is how far the
// measure is from the goal, signed so that a negative gap on a ">=" goal and a positive one on a
// "<=" goal are the misses. `chart` marks the goals drawn on the SVG chart, whose bars are ratios to
// raw uWS.js (a–e) or to the quiet server alone (h).

function webdat(w) {
  return w?.contenders?.find((c) => c.name === 'webdat');
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
  }
  const d = webdat(results.d);
  if (d) {
    add('d', 'msg/s vs raw uWS.js echo', d.ratio.uws, '>=', 0.5, { chart: true });
    add('d', 'msg/s vs ws', d.ratio.ws, '>=', 1.5);
  }
  if (results.f) add('f', 'cold start, first response p50', results.f.summary.coldP50Ms, '<=', 5, { unit: 'ms' });
  if (results.g) {
    for (const p of results.g.points) add('g', `RSS per idle server at ${p.servers} servers`, p.perServerServedMiB, '<=', 3, { unit: 'MiB' });
  }
  if (results.h) {
    // The chart draws one goal per workload: the breach rows' 0.8× (results before the steady row have no goal).
    for (const c of results.h.conditions) add('h', `quiet server req/s vs alone, ${c.label}`, c.ratio, '>=', c.goal ?? 0.8, { chart: (c.goal ?? 0.8) === 0.8 });
  }
  return out;
}
