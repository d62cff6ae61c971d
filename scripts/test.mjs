#!/usr/bin/env node
// Runs every test file of the workspace with Node's own runner (vitest 5 needs Node 22).
// Node 20's runner takes no globs, so the files are listed here.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const dirs = ['packages/protocol/test', 'packages/sandbox/test', 'packages/engine/test', 'tests'];
const only = process.argv.slice(2);
const files = [];
for (const d of dirs) {
  const abs = path.join(root, d);
  if (!fs.existsSync(abs)) continue;
  for (const f of fs.readdirSync(abs).sort()) {
    if (!f.endsWith('.test.ts')) continue;
    const rel = path.join(d, f);
    if (only.length === 0 || only.some((o) => rel.includes(o))) files.push(rel);
  }
}
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const r = spawnSync(process.execPath, [
  '--no-node-snapshot', '--import', 'tsx', '--test', '--test-reporter=spec',
  `--test-concurrency=${process.env.WEBDAT_TEST_CONCURRENCY ?? 2}`, '--test-timeout=180000', ...files,
], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
