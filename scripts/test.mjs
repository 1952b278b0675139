#!/usr/bin/env node
// The root `test` script: every package's tests through turbo (one package at a time on a small
// machine), then the one-line summary "N passed, N failed, N skipped" of scripts/test-summary.mjs,
// printed even when turbo failed. Exits non-zero when either did. Extra arguments go to turbo
// (`npx -y pnpm@10 test --filter=@x/client`). `.ci/run` sets MQTT_X_TEST_SUMMARY=off and prints
// the line itself, last.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
// A report left by an earlier run must not be counted; turbo puts back the cached ones.
for (const group of ['packages', 'apps']) {
  for (const name of readdirSync(join(root, group))) {
    const report = join(root, group, name, 'test-results.json');
    if (existsSync(report)) rmSync(report);
  }
}
const turbo = spawnSync('turbo', ['run', 'test', '--concurrency=1', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
if (turbo.error) process.stderr.write(`test: cannot run turbo: ${turbo.error.message}\n`);
let status = turbo.status ?? 1;
// A run narrowed by extra turbo arguments (`--filter=…`) leaves other packages without a report,
// so only a whole run is summed up.
const whole = process.argv.length === 2;
// biome-ignore lint/suspicious/noUndeclaredEnvVars: read by this script, never by a turbo task
if (whole && process.env.MQTT_X_TEST_SUMMARY !== 'off') {
  const summary = spawnSync(process.execPath, [join(root, 'scripts/test-summary.mjs')], { stdio: 'inherit' });
  if (status === 0) status = summary.status ?? 1;
}
process.exit(status);
