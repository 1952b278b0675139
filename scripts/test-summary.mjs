#!/usr/bin/env node
// Adds up the vitest JSON reports of every package (test-results.json) into one plain line:
// "N passed, N failed, N skipped". Exits non-zero when any test failed, when a package that has
// tests wrote no report, or when no test ran at all.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
let passed = 0;
let failed = 0;
let skipped = 0;
let missing = 0;
for (const group of ['packages', 'apps']) {
  for (const name of readdirSync(join(root, group))) {
    const dir = join(root, group, name);
    if (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'test'))) continue;
    const report = join(dir, 'test-results.json');
    if (!existsSync(report)) {
      console.error(`no test report from ${group}/${name}`);
      missing++;
      continue;
    }
    const r = JSON.parse(readFileSync(report, 'utf8'));
    passed += r.numPassedTests;
    failed += r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0);
    skipped += r.numPendingTests + (r.numTodoTests ?? 0);
    if (!r.success && r.numFailedTests === 0) failed += 1; // a file that failed to load counts
  }
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || missing > 0 || passed === 0 ? 1 : 0);
