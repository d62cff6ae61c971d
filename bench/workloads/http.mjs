import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HTTP_CONTENDERS } from '../lib/contenders.mjs';
import { addRatios, compare, startFleet, stopFleet } from '../lib/compare.mjs';
import { checkHello, httpMemberLoad } from '../lib/member-load.mjs';
import { httpToolLine } from '../lib/report.mjs';
import { BINARY_BYTES, jsonAnswer, jsonBody } from '../lib/payloads.mjs';

// Workloads a–c: one fleet of HTTP contenders serves all three (each serves /, /json and /bin), so
// they start once. Before any load, every contender's answers are checked to be the same bytes.

// Every contender's throughput and p99 are also given as ratios to these (the targets' references).
const HTTP_REFS = ['uws', 'fastify', 'workerd'];

const HTTP_WORKLOADS = {
  a: { title: 'GET hello world', path: '/', post: false },
  b: { title: 'POST 1 KiB JSON, parsed and answered', path: '/json', post: true },
  c: { title: 'GET 64 KiB binary', path: '/bin', post: false },
};

async function verify(member, body) {
  const base = member.server.url;
  const json = await fetch(base + '/json', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const got = await json.json();
  if (JSON.stringify(got) !== JSON.stringify(jsonAnswer(JSON.parse(body)))) throw new Error(`${member.label}: POST /json answered ${JSON.stringify(got)}`);
  const bin = new Uint8Array(await (await fetch(base + '/bin')).arrayBuffer());
  if (bin.length !== BINARY_BYTES || bin[BINARY_BYTES - 1] !== (BINARY_BYTES - 1) % 256) throw new Error(`${member.label}: GET /bin answered ${bin.length} bytes`);
}

export async function runHttp(ids, ctx) {
  const body = jsonBody();
  const bodyFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'webdat-bench-')), 'body.json');
  fs.writeFileSync(bodyFile, body);
  ctx.log(`HTTP workloads ${ids.join(', ')}: starting ${HTTP_CONTENDERS.map((c) => c.label).join(', ')}`);
  const fleet = await startFleet(HTTP_CONTENDERS, ctx.log);
  const out = {};
  try {
    await checkHello(fleet);
    for (const m of fleet) await verify(m, body);
    for (const id of ids) {
      const w = HTTP_WORKLOADS[id];
      ctx.log(`${id}. ${w.title} (${httpToolLine(ctx.httpTool)}, ${ctx.seconds} s × ${ctx.runs} runs per contender)`);
      const load = httpMemberLoad(w.path, w.post ? bodyFile : undefined);
      const warm = load(ctx.warmup);
      const contenders = await compare({ fleet, runs: ctx.runs, warmup: warm, load: load(ctx.seconds), log: ctx.log });
      out[id] = { title: w.title, unit: 'req/s', refs: HTTP_REFS, contenders: addRatios(contenders, HTTP_REFS) };
    }
  } finally {
    await stopFleet(fleet);
    fs.rmSync(path.dirname(bodyFile), { recursive: true, force: true });
  }
  return out;
}
