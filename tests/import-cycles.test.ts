import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseCircular, parseDependencyTree } from 'dpdm';
import { ROOT } from './helpers/webdat.ts';

// Files of a package import each other in one direction only: a cycle hides which part depends on
// which, and ES modules in a cycle can see each other's bindings before they are initialised.
// Type-only imports count too, since they tie the files' designs together just the same.

test('no import cycle between the source files of any package', async () => {
  const entries: string[] = [];
  for (const pkg of fs.readdirSync(path.join(ROOT, 'packages'))) {
    const src = path.join(ROOT, 'packages', pkg, 'src');
    if (!fs.existsSync(src)) continue;
    for (const f of fs.readdirSync(src, { recursive: true }) as string[]) if (f.endsWith('.ts')) entries.push(path.join(src, f));
  }
  assert.ok(entries.length >= 100, `found only ${entries.length} source files`);
  const tree = await parseDependencyTree(entries, {
    context: ROOT, extensions: ['.ts'], transform: false, skipDynamicImports: false,
    tsconfig: path.join(ROOT, 'tsconfig.base.json'), exclude: /node_modules|[\\/]dist[\\/]/,
  });
  const resolved = Object.values(tree).flatMap((deps) => deps ?? []).filter((d) => d.id !== null && d.id.includes('/src/'));
  assert.ok(resolved.length >= 200, `resolved only ${resolved.length} imports: the .js specifiers no longer map to .ts files`);
  const cycles = parseCircular(tree).map((c) => c.map((f) => path.relative(ROOT, f)).join(' → '));
  assert.deepEqual(cycles, []);
});
