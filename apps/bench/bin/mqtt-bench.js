#!/usr/bin/env node
// The `mqtt-bench` command. It runs the compiled program in dist/; in a fresh checkout of the
// repository, where `pnpm install` links this file before anything is built, it builds the
// program first (turbo, cached afterwards) instead of failing with ERR_MODULE_NOT_FOUND.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  const root = new URL('../../../', import.meta.url);
  const turbo = new URL('node_modules/.bin/turbo', root);
  if (!existsSync(turbo)) {
    process.stderr.write('mqtt-bench: dist/main.js is missing: build the package first\n');
    process.exit(2);
  }
  process.stderr.write('mqtt-bench: not built yet, building it first\n');
  const built = spawnSync(
    turbo.pathname,
    ['run', 'build', '--filter=@x/bench-app', '--output-logs=errors-only'],
    { cwd: root.pathname, stdio: ['ignore', 2, 2] },
  );
  if (built.status !== 0) {
    process.stderr.write('mqtt-bench: the build failed: run `npx -y pnpm@10 build` to see why\n');
    process.exit(2);
  }
}
await import(main.href);
