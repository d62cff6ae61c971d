// One command for every benchmark: `npx -y pnpm@10 bench` (or `node bench/run.mjs [--quick] [a b …]`).
// Starts webdat and its peers on this machine, runs the selected workloads, prints a table of ratios
// and writes bench/results/<date>.json, and latest.json, latest.md and latest.svg when every workload ran.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BENCH } from './lib/contenders.mjs';
import { prepareLoadTool } from './lib/http-load.mjs';
import { ALL, parseOptions } from './lib/options.mjs';
import { installCleanup, placeOnCpus, stopAll } from './lib/processes.mjs';
import { compact, markdown, svg } from './lib/report.mjs';
import { evaluateTargets } from './lib/targets.mjs';
import { runHttp } from './workloads/http.mjs';
import { runWs } from './workloads/ws.mjs';
import { runColdStart } from './workloads/cold-start.mjs';
import { runMemory } from './workloads/memory.mjs';
import { runNoisy } from './workloads/noisy.mjs';
import { runFloor } from './workloads/floor.mjs';
import { runProcesses } from './workloads/processes.mjs';
import { runIdle } from './workloads/idle.mjs';
import { runCapabilities } from './workloads/capabilities.mjs';

let opts;
try {
  opts = parseOptions(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${err.message}\n`);
  process.exit(2);
}
if (opts.help) {
  process.stdout.write(opts.help + '\n');
  process.exit(0);
}
installCleanup();

const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)}s`;
const log = (line) => process.stderr.write(`[${elapsed().padStart(4)}] ${line}\n`);
const ctx = { ...opts, log, httpTool: prepareLoadTool(log) };
const machine = {
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model?.trim() ?? 'unknown CPU',
  node: process.versions.node,
  kernel: os.release(),
};
const settings = { seconds: opts.seconds, runs: opts.runs, warmup: opts.warmup, quick: opts.quick, httpTool: ctx.httpTool, wsClient: opts.wsClient, pin: opts.pin, workloads: opts.workloads };
log(`webdat bench: workloads ${opts.workloads.join(' ')}; ${opts.seconds} s × ${opts.runs} runs; HTTP load by ${settings.httpTool}`);

/** The side-by-side workloads run placed (lib/processes.mjs, placeOnCpus); the others need both cores. */
const placed = (run) => async (ids) => {
  placeOnCpus(opts.pin);
  try { return await run(ids); } finally { placeOnCpus(false); }
};
const PLAN = [
  { ids: ['a', 'b', 'c'], run: placed((ids) => runHttp(ids, ctx)) },
  { ids: ['d'], run: placed(() => runWs('d', ctx)) },
  { ids: ['e'], run: placed(() => runWs('e', ctx)) },
  { ids: ['f'], run: () => runColdStart(ctx) },
  { ids: ['g'], run: () => runMemory(ctx) },
  { ids: ['h'], run: () => runNoisy(ctx) },
  { ids: ['i', 'o'], run: placed((ids) => runFloor(ids, ctx)) },
  { ids: ['j', 'k'], run: (ids) => runProcesses(ids, ctx) },
  { ids: ['l'], run: () => runIdle(ctx) },
  { ids: ['m', 'n'], run: (ids) => runCapabilities(ids, ctx) },
];
const results = {};
// A workload that fails is reported and the others still run: one broken peer must not throw away
// the rest of a quarter-hour run.
const failures = {};
for (const step of PLAN) {
  const ids = step.ids.filter((id) => opts.workloads.includes(id));
  if (ids.length === 0) continue;
  try {
    Object.assign(results, await step.run(ids));
  } catch (err) {
    log(`workload ${ids.join(', ')} failed: ${err.stack ?? err}`);
    for (const id of ids) failures[id] = String(err.message ?? err).split('\n')[0];
  } finally {
    await stopAll();
  }
}

const date = new Date().toISOString();
const report = compact({ version: 1, date, machine, settings, durationSeconds: (performance.now() - started) / 1000, results, failures, targets: evaluateTargets(results) });
const dir = path.join(BENCH, 'results');
fs.mkdirSync(dir, { recursive: true });
const json = JSON.stringify(report, null, 2) + '\n';
const md = markdown(report);
const stamp = date.slice(0, 19).replace(/:/g, '-');
fs.writeFileSync(path.join(dir, `${stamp}.json`), json);
// latest.* is what README shows: a run of some workloads must not replace the others' figures there.
const complete = ALL.every((id) => opts.workloads.includes(id));
if (complete) {
  fs.writeFileSync(path.join(dir, 'latest.json'), json);
  fs.writeFileSync(path.join(dir, 'latest.md'), md + '\n');
  fs.writeFileSync(path.join(dir, 'latest.svg'), svg(report));
} else {
  fs.writeFileSync(path.join(dir, `${stamp}.md`), md + '\n');
}
process.stdout.write('\n' + md + '\n');
if (Object.keys(failures).length) process.exitCode = 1;
if (complete) log(`done in ${elapsed()}; results in bench/results/latest.{json,md,svg}; \`node bench/readme.mjs\` puts them in README.md`);
else log(`done in ${elapsed()}; a run of some workloads: results in bench/results/${stamp}.{json,md} (latest.* and README are left as they were)`);
