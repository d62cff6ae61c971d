import { cpuSeconds } from './processes.mjs';
import { median } from './stats.mjs';

// Side-by-side runs: every contender gets the same load, contenders are interleaved round-robin
// (the starting contender rotates each round, so drift in the machine's load — other engineers share
// these cores — spreads over everyone instead of landing on whoever ran last), and medians are kept.

/** Starts contenders one after another (starting is not measured); stops those started on failure. */
export async function startFleet(contenders, log) {
  const fleet = [];
  try {
    for (const c of contenders) {
      const server = await c.start();
      log(`  started ${c.label} (${server.url}, pid ${server.pid})`);
      fleet.push({ ...c, server });
    }
  } catch (err) {
    await stopFleet(fleet);
    throw err;
  }
  return fleet;
}

export async function stopFleet(fleet) {
  await Promise.all(fleet.map((f) => f.server.stop()));
}

/**
 * `load(member)` runs one bounded load against one contender and returns at least
 * { rate, p50Ms, p99Ms, ops, errors }. Adds the server's CPU time per operation (µs), which stays
 * comparable when the load generator, not the server, is what saturates.
 */
export async function compare({ fleet, runs, warmup, load, log }) {
  for (const member of fleet) await warmup(member);
  const byName = new Map(fleet.map((m) => [m.name, []]));
  for (let r = 0; r < runs; r++) {
    const order = fleet.map((_, i) => fleet[(i + r) % fleet.length]);
    for (const member of order) {
      const cpu0 = serverCpu(member.server);
      const result = await load(member);
      const cpu = serverCpu(member.server) - cpu0;
      result.serverCpuUsPerOp = result.ops > 0 ? (cpu * 1e6) / result.ops : NaN;
      byName.get(member.name).push(result);
      log(`  run ${r + 1}/${runs} ${member.label.padEnd(12)} ${fmtRate(result.rate)}  p99 ${result.p99Ms.toFixed(2)} ms  cpu ${result.serverCpuUsPerOp.toFixed(1)} µs/op${result.errors ? `  errors ${result.errors}` : ''}${result.non2xx ? `  non-2xx ${result.non2xx}` : ''}`);
    }
  }
  return fleet.map((m) => {
    const rs = byName.get(m.name);
    return {
      name: m.name,
      label: m.label,
      runs: rs,
      median: {
        rate: median(rs.map((x) => x.rate)),
        p50Ms: median(rs.map((x) => x.p50Ms)),
        p99Ms: median(rs.map((x) => x.p99Ms)),
        serverCpuUsPerOp: median(rs.map((x) => x.serverCpuUsPerOp)),
        clientCpu: median(rs.map((x) => x.clientCpu ?? NaN)),
        errors: rs.reduce((s, x) => s + (x.errors ?? 0) + (x.non2xx ?? 0), 0),
      },
    };
  });
}

/** CPU seconds of the server: of all its engine processes when it has several. */
function serverCpu(server) {
  return (server.pids?.() ?? [server.pid]).reduce((sum, pid) => sum + cpuSeconds(pid), 0);
}

/** Adds `ratio[ref]` (rate ÷ the reference's rate) and `p99Ratio[ref]` to every contender. */
export function addRatios(contenders, refs) {
  for (const c of contenders) {
    c.ratio = {};
    c.p99Ratio = {};
    for (const ref of refs) {
      const r = contenders.find((x) => x.name === ref);
      if (!r) continue;
      c.ratio[ref] = c.median.rate / r.median.rate;
      c.p99Ratio[ref] = c.median.p99Ms / r.median.p99Ms;
    }
  }
  return contenders;
}

export function fmtRate(x) {
  if (!Number.isFinite(x)) return String(x).padStart(9);
  return (x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(1)).padStart(9) + '/s';
}
