import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PacketErrors, reasonCodeName } from '../src/index.js';

describe('README', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

  it('lists every error code with its reason code and clause', () => {
    for (const [code, entry] of Object.entries(PacketErrors)) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${code}\` |`));
      expect(row, code).toBeDefined();
      expect(row).toContain(`0x${entry.reasonCode.toString(16)}`);
      expect(reasonCodeName(entry.reasonCode)).toBeDefined();
      if (entry.clause !== undefined) expect(row).toContain(`| ${entry.clause} |`);
    }
  });
});
