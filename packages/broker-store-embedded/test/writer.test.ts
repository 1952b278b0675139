import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SCHEMA } from '../src/schema.js';
import { BatchEncoder, type EncodedBatch, S, SharedBuffers } from '../src/write-ops.js';
import { type WriteFailure, Writer } from '../src/writer.js';

let dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

/** A store file with the schema, ready for the writer thread. */
function storeFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sqlite-writer-'));
  dirs.push(dir);
  const file = join(dir, 'broker.sqlite');
  const db = new Database(file);
  db.exec(SCHEMA);
  db.close();
  return file;
}

/** A batch of retained messages under `topics`; `unknownStatement` ends it with a statement the thread refuses. */
function retained(topics: string[], unknownStatement = false): EncodedBatch {
  const out = new BatchEncoder(new SharedBuffers());
  for (const topic of topics)
    out
      .op(S.retain)
      .text(topic)
      .number(0)
      .bytes(new Uint8Array([0x30, 0]));
  if (unknownStatement) out.op(200);
  return out.finish();
}

function topics(file: string): string[] {
  const db = new Database(file, { readonly: true });
  const rows = db.prepare('SELECT topic FROM retained ORDER BY topic').all() as Array<{ topic: string }>;
  db.close();
  return rows.map((r) => r.topic);
}

describe('Writer', () => {
  it('after a failed transaction, batches already given fail unwritten, in order; later ones are written', async () => {
    const file = storeFile();
    const writer = new Writer(file, 'NORMAL');
    const answers: Array<[string, WriteFailure | undefined]> = [];
    const given = (name: string, batch: EncodedBatch) =>
      new Promise<void>((resolve) =>
        writer.write(batch, (failure) => {
          answers.push([name, failure]);
          resolve();
        }),
      );
    // Given in one turn: the thread may take them in one transaction or one by one; either way
    // nothing given after the bad batch may land before the bad batch is written again.
    await Promise.all([
      given('first', retained(['a'])),
      given('bad', retained(['b'], true)),
      given('after', retained(['c'])),
    ]);
    expect(answers.map(([name]) => name)).toEqual(['first', 'bad', 'after']);
    expect(answers[1]![1]).toBeDefined();
    expect(answers[2]![1]).toBeDefined();
    expect(topics(file)).not.toContain('b');
    expect(topics(file)).not.toContain('c');
    // The caller writes the failed batches again, folded: the writer takes them.
    await given('again', retained(['b', 'c']));
    expect(answers.at(-1)).toEqual(['again', undefined]);
    expect(topics(file)).toEqual(expect.arrayContaining(['b', 'c']));
    await writer.close();
  });

  it('reports the synchronous setting of its own connection', async () => {
    for (const [synchronous, value] of [
      ['FULL', 2],
      ['NORMAL', 1],
    ] as const) {
      const writer = new Writer(storeFile(), synchronous);
      expect(await writer.pragma('synchronous')).toBe(value);
      await writer.close();
    }
  });
});
