import { FULL, SHORT, runFuzz } from './targets.ts';

// `pnpm fuzz`: the full run (FUZZ_FULL=1, which the script sets), or the short one without it.
// FUZZ_SEED picks the seed; exit code 1 if any target found a crash, hang or unclean error.

const full = process.env.FUZZ_FULL === '1';
const seed = Number(process.env.FUZZ_SEED ?? 20261127);
const started = Date.now();
console.log(`webdat fuzz: ${full ? 'full' : 'short'} run, seed ${seed}`);
let failed = false;
try {
  const outcomes = await runFuzz(full ? FULL : SHORT, seed, (o) => {
    console.log(`${o.problems.length === 0 ? 'ok  ' : 'FAIL'} ${o.target}: ${o.inputs.toLocaleString('en-US')} inputs in ${(o.ms / 1000).toFixed(1)} s${o.detail ? ' ' + JSON.stringify(o.detail) : ''}`);
    for (const p of o.problems.slice(0, 20)) console.log(`     ${p}`);
    if (o.problems.length > 0) failed = true;
  });
  console.log(`total: ${outcomes.reduce((n, o) => n + o.inputs, 0).toLocaleString('en-US')} inputs in ${((Date.now() - started) / 1000).toFixed(1)} s; ${failed ? 'FAILED' : 'zero crashes and hangs'}`);
} catch (err) {
  console.log(`FAIL ${(err as Error).message}`);
  failed = true;
}
process.exit(failed ? 1 : 0);
