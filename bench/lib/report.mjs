import { round } from './stats.mjs';

// Renders a run's results: a markdown report (tables) and a hand-made SVG bar chart of the ratios.

const COMPARISONS = ['a', 'b', 'c', 'd', 'e', 'i', 'o', 'j', 'k'];
const CLIENT_BOUND = 0.9;

function num(x, digits = 2) {
  if (!Number.isFinite(x)) return '–';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function rate(x) {
  if (!Number.isFinite(x)) return '–';
  return x >= 10_000 ? `${num(x / 1000, 1)}k` : num(x, 0);
}

function ratio(x) {
  return Number.isFinite(x) ? `${num(x, 2)}×` : '–';
}

function targetRow(t) {
  const unit = t.unit === '×' ? '×' : ` ${t.unit}`;
  const goal = `${t.op === '>=' ? '≥' : '≤'} ${t.goal}${unit}`;
  const measured = `${num(t.measured, 2)}${unit}`;
  const miss = t.pass ? '' : Number.isFinite(t.gap) ? ` (${t.gap > 0 ? '+' : ''}${num(t.gap * 100, 0)}% vs goal)` : ' (not measured)';
  return `| ${t.workload} | ${t.label} | ${goal} | ${measured} | ${t.pass ? 'PASS' : `**FAIL**${miss}`} |`;
}

/** How the HTTP load was generated, as a command line a reader can repeat. */
export function httpToolLine(tool) {
  return tool === 'wrk' ? 'wrk -t1 -c64' : 'autocannon -c64';
}

export function markdown(report) {
  const { results: w, targets, settings, machine } = report;
  const lines = [];
  lines.push(`Measured ${report.date.slice(0, 10)} on ${machine.cpus} × ${machine.cpuModel}, Node.js ${machine.node}, Linux ${machine.kernel}.`);
  lines.push(`HTTP load: ${httpToolLine(settings.httpTool)}; WebSocket load: ${settings.wsClient} client in its own process. ` +
    `${settings.seconds} s per run, ${settings.runs} runs per contender, interleaved round-robin; medians. ` +
    (settings.pin
      ? 'In a–e, i and o each contender runs on CPU 0 and its load generator on CPU 1 (`--no-pin`: both left to the scheduler): read ratios, not absolute figures.'
      : `Every contender shares the same ${machine.cpus} cores with its load generator (\`--no-pin\`): read ratios, not absolute figures.`));
  lines.push('');
  const ran = COMPARISONS.filter((id) => w[id]);
  if (ran.length) {
    lines.push('| workload | contender | throughput | p99 | server CPU / op | vs raw uWS.js | vs ws |');
    lines.push('|---|---|---:|---:|---:|---:|---:|');
    for (const id of ran) {
      const x = w[id];
      for (const c of x.contenders) {
        const bound = c.median.clientCpu >= CLIENT_BOUND ? ' ¹' : '';
        const name = c.name === 'webdat' ? `**${c.label}**` : c.label;
        const vsWs = id === 'd' || id === 'e' || id === 'o' ? ratio(c.ratio.ws) : '';
        lines.push(`| ${id}. ${x.title} | ${name} | ${rate(c.median.rate)} ${x.unit}${bound} | ${num(c.median.p99Ms)} ms | ${num(c.median.serverCpuUsPerOp, 1)} µs | ${ratio(c.ratio.uws)} | ${vsWs} |`);
      }
    }
    if (ran.some((id) => w[id].contenders.some((c) => c.median.clientCpu >= CLIENT_BOUND))) {
      lines.push('');
      lines.push(`¹ the load client used ≥ ${CLIENT_BOUND * 100}% of a core: this figure is the client's ceiling, not the server's; compare server CPU / op.`);
    }
    lines.push('');
  }
  const capabilities = ['m', 'n'].filter((id) => w[id]);
  if (capabilities.length) {
    lines.push('| workload | contender | throughput | p99 | server CPU / request | throughput vs node | CPU / request vs node |');
    lines.push('|---|---|---:|---:|---:|---:|---:|');
    for (const id of capabilities) {
      const x = w[id];
      for (const c of x.contenders) {
        const name = c.name === 'webdat' ? `**${c.label}**` : c.label;
        lines.push(`| ${id}. ${x.title} | ${name} | ${rate(c.median.rate)} ${x.unit} | ${num(c.median.p99Ms)} ms | ${num(c.median.serverCpuUsPerOp, 1)} µs | ${ratio(c.ratio.node)} | ${ratio(c.cpuRatio.node)} |`);
      }
    }
    lines.push('');
  }
  if (w.f) {
    const s = w.f.summary;
    lines.push(`| f. ${w.f.servers} servers, one config | all listening | first listening | first response p50 / p99 | second response p50 / p99 |`);
    lines.push('|---|---:|---:|---:|---:|');
    lines.push(`| webdat | ${num(s.allListenMs, 0)} ms | ${num(s.firstListenMs, 0)} ms | ${num(s.coldP50Ms)} / ${num(s.coldP99Ms)} ms | ${num(s.warmP50Ms)} / ${num(s.warmP99Ms)} ms |`);
    lines.push('');
  }
  if (w.g) {
    lines.push('| g. idle servers | engine RSS | per server, listening | per server, after one request each |');
    lines.push('|---|---:|---:|---:|');
    lines.push(`| 1 | ${num(w.g.base.servedRss / 2 ** 20, 0)} MiB | | |`);
    for (const p of w.g.points) lines.push(`| ${p.servers} | ${num(p.servedRss / 2 ** 20, 0)} MiB | ${num(p.perServerListeningMiB)} MiB | ${num(p.perServerServedMiB)} MiB |`);
    lines.push('');
  }
  if (w.h) {
    lines.push('| h. noisy neighbour (quiet server, hello world) | throughput | p99 | vs alone | memory-limit restarts |');
    lines.push('|---|---:|---:|---:|---:|');
    lines.push(`| alone | ${rate(w.h.alone.rate)} req/s | ${num(w.h.alone.p99Ms)} ms | | |`);
    for (const c of w.h.conditions) lines.push(`| ${c.label} | ${rate(c.rate)} req/s | ${num(c.p99Ms)} ms | ${ratio(c.ratio)} | ${c.memoryRestarts} |`);
    lines.push('');
  }
  if (w.l) {
    const s = w.l.summary;
    lines.push(`| l. ${num(s.servers, 0)} servers, idleSeconds ${s.idleSeconds}, one port, ${num(s.cycled, 0)} cycled by ${s.connections} connections | all listening (CPU) | engine RSS listening / peak | first event p50 / p99 | first response of a released server p50 / p99 | req/s | engine CPU / request |`);
    lines.push('|---|---:|---:|---:|---:|---:|---:|');
    lines.push(`| webdat | ${num(s.allListenMs, 0)} ms (${num(s.startCpuSeconds)} s) | ${num(s.listeningRssMiB, 0)} / ${num(s.peakRssMiB, 0)} MiB | ${num(s.firstEventP50Ms)} / ${num(s.firstEventP99Ms)} ms | ${num(s.freshP50Ms)} / ${num(s.freshP99Ms)} ms | ${num(s.requestsPerSecond, 0)} | ${num(s.cpuMsPerRequest)} ms |`);
    lines.push('');
  }
  for (const [id, message] of Object.entries(report.failures)) lines.push(`**Workload ${id} failed**: ${message}`, '');
  if (targets.length) {
    lines.push('| | target | goal | measured | |');
    lines.push('|---|---|---:|---:|---|');
    for (const t of targets) lines.push(targetRow(t));
    lines.push('');
  }
  return lines.join('\n');
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A horizontal bar chart: each contender's throughput as a ratio to raw uWS.js, per workload. */
export function svg(report) {
  const w = report.results;
  const groups = COMPARISONS.filter((id) => w[id]).map((id) => ({ id, title: w[id].title, bars: w[id].contenders.map((c) => ({ label: c.label, value: c.ratio.uws, webdat: c.name === 'webdat' })) }));
  if (w.h) groups.push({ id: 'h', title: 'noisy neighbour: quiet webdat server, ratio to alone', bars: w.h.conditions.map((c) => ({ label: c.name, value: c.ratio, webdat: true })) });
  const goals = Object.fromEntries(report.targets.filter((t) => t.chart).map((t) => [t.workload, t.goal]));
  const left = 150;
  const width = 720;
  const plot = width - left - 70;
  const barH = 16;
  const gap = 4;
  const max = Math.max(1.2, ...groups.flatMap((g) => g.bars.map((b) => (Number.isFinite(b.value) ? b.value : 0))));
  const x = (v) => left + (Math.max(0, v) / max) * plot;
  let y = 40;
  const parts = [];
  for (const g of groups) {
    parts.push(`<text x="10" y="${y + 12}" class="group">${esc(`${g.id}. ${g.title}`)}</text>`);
    y += 20;
    const top = y;
    for (const b of g.bars) {
      const v = Number.isFinite(b.value) ? b.value : 0;
      parts.push(`<text x="${left - 8}" y="${y + barH - 4}" text-anchor="end">${esc(b.label)}</text>`);
      parts.push(`<rect x="${left}" y="${y}" width="${(x(v) - left).toFixed(1)}" height="${barH}" class="${b.webdat ? 'webdat' : 'peer'}"/>`);
      parts.push(`<text x="${(x(v) + 4).toFixed(1)}" y="${y + barH - 4}">${Number.isFinite(b.value) ? b.value.toFixed(2) + '×' : 'n/a'}</text>`);
      y += barH + gap;
    }
    if (goals[g.id] !== undefined) {
      const gx = x(goals[g.id]).toFixed(1);
      parts.push(`<line x1="${gx}" x2="${gx}" y1="${top - 2}" y2="${y - gap + 2}" class="goal"/>`);
      // Under the bars, in the gap before the next group: above them it would cross the group's title.
      parts.push(`<text x="${gx}" y="${y - gap + 11}" class="goaltext" text-anchor="middle">goal ${goals[g.id]}×</text>`);
    }
    y += 14;
  }
  const one = x(1).toFixed(1);
  const height = y + 10;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">
<style>text{fill:#222}.group{font-weight:600}.webdat{fill:#d9480f}.peer{fill:#868e96}.goal{stroke:#1971c2;stroke-width:2;stroke-dasharray:4 3}.goaltext{fill:#1971c2;font-size:10px}.one{stroke:#222;stroke-width:1}</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="20" class="group">Throughput as a ratio to raw uWS.js (1.0 = the ceiling) — ${esc(report.date.slice(0, 10))}</text>
<line x1="${one}" x2="${one}" y1="30" y2="${y - 10}" class="one"/>
${parts.join('\n')}
</svg>
`;
}

/** Rounds every number to 3 decimals: the JSON stays readable and diffs between runs stay small. */
export function compact(results) {
  return JSON.parse(JSON.stringify(results, (k, v) => (typeof v === 'number' ? round(v, 3) : v)));
}
