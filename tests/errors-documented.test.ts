import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './helpers/webdat.ts';

// Every stable code in the source must be explained in docs/errors.md, and the doc must not list
// codes that no longer exist (fastify keeps the same promise for its FST_ERR_* table).

function codesIn(dir: string): Set<string> {
  const found = new Set<string>();
  for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) {
    if (!f.endsWith('.ts')) continue;
    for (const m of fs.readFileSync(path.join(dir, f), 'utf8').matchAll(/WEBDAT_ERR_[A-Z_]*[A-Z]\b/g)) found.add(m[0]);
  }
  return found;
}

test('every WEBDAT_ERR_* code in the source is documented and none in the doc is stale', () => {
  const source = new Set<string>();
  for (const pkg of ['protocol', 'sandbox', 'engine']) for (const c of codesIn(path.join(ROOT, 'packages', pkg, 'src'))) source.add(c);
  const doc = new Set(fs.readFileSync(path.join(ROOT, 'docs/errors.md'), 'utf8').match(/WEBDAT_ERR_[A-Z_]*[A-Z]\b/g));
  assert.ok(source.size >= 10, `found only ${source.size} codes in the source`);
  assert.deepEqual([...source].filter((c) => !doc.has(c)).sort(), [], 'codes missing from docs/errors.md');
  assert.deepEqual([...doc].filter((c) => !source.has(c)).sort(), [], 'stale codes in docs/errors.md');
});
