import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from '@x/broker';
import { describeStoreContract } from '@x/test-helpers';
import { SqliteStore } from '../src/index.js';

describeStoreContract('MemoryStore', () => {
  const store = new MemoryStore();
  return { store: () => store };
});

for (const durability of ['acknowledged', 'fsync', 'interval'] as const) {
  describeStoreContract(`SqliteStore (${durability})`, () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sqlite-store-'));
    return {
      store: () => new SqliteStore({ dataDir, durability, intervalMs: 50 }),
      cleanup: () => rmSync(dataDir, { recursive: true, force: true }),
    };
  });
}
