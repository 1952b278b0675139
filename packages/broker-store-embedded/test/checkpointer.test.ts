import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { Checkpointer } from '../src/checkpointer.js';

let dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

/** A WAL-mode file whose own connection never checkpoints, so only the checkpointer moves pages into it. */
function walFile(): { file: string; db: Database.Database } {
  const dir = mkdtempSync(join(tmpdir(), 'sqlite-checkpointer-'));
  dirs.push(dir);
  const file = join(dir, 'broker.sqlite');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('wal_autocheckpoint = 0');
  db.exec('CREATE TABLE t (v BLOB)');
  return { file, db };
}

function insert(db: Database.Database): void {
  const add = db.prepare('INSERT INTO t VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < 50; i++) add.run(Buffer.alloc(1000, i));
  })();
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('Checkpointer', () => {
  it('copies committed pages into the file, ends its thread when idle and starts it again for the next commit', async () => {
    const { file, db } = walFile();
    const checkpointer = new Checkpointer(file, 10, 200);
    try {
      expect(checkpointer.started).toBe(false);
      const before = statSync(file).size;
      insert(db);
      checkpointer.wrote();
      await until(() => statSync(file).size > before, 'the first checkpoint reaches the file');
      await until(() => !checkpointer.started, 'the idle thread ends');

      const after = statSync(file).size;
      insert(db);
      checkpointer.wrote();
      // Only a checkpoint moves pages into the file: a new thread ran it.
      await until(() => statSync(file).size > after, 'a checkpoint after the thread ended reaches the file');
    } finally {
      await checkpointer.close();
      db.close();
    }
    expect(checkpointer.started).toBe(false);
  });
});
