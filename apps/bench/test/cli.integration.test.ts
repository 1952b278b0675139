import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));

describe('mqtt-bench binary', () => {
  it('prints help naming the program', async () => {
    const { stdout } = await run(process.execPath, [main, '--help']);
    expect(stdout).toContain('mqtt-bench');
  });
});
