// Puts bench/results/latest.md and a link to latest.svg into README.md, between the markers
// <!-- bench:start --> and <!-- bench:end --> (added at the end under "Benchmarks" if missing).
// Nothing outside the markers is touched.
import fs from 'node:fs';
import path from 'node:path';
import { BENCH, ROOT } from './lib/contenders.mjs';

const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';
const SECTION_INTRO = `## Benchmarks

\`npx -y pnpm@10 bench\` (about 12 minutes on 2 cores; \`node bench/run.mjs --quick\` about 4) runs webdat
beside raw uWebSockets.js, node:http, fastify, workerd and ws on the same machine and load, then
\`node bench/readme.mjs\` copies the results here. See [bench/](bench/).`;
const readme = path.join(ROOT, 'README.md');
const latest = path.join(BENCH, 'results/latest.md');

if (!fs.existsSync(latest)) {
  process.stderr.write('no bench/results/latest.md yet: run `npx -y pnpm@10 bench` first\n');
  process.exit(1);
}
const block = `${START}\n${fs.readFileSync(latest, 'utf8').trim()}\n\n![Throughput as a ratio to raw uWS.js](bench/results/latest.svg)\n${END}`;
let text = fs.readFileSync(readme, 'utf8');
const a = text.indexOf(START);
const b = text.indexOf(END);
if (a >= 0 && b > a) {
  text = text.slice(0, a) + block + text.slice(b + END.length);
} else {
  text = `${text.trimEnd()}\n\n${SECTION_INTRO}\n\n${block}\n`;
}
fs.writeFileSync(readme, text);
process.stdout.write(`README.md: benchmark section updated from ${path.relative(ROOT, latest)}\n`);
