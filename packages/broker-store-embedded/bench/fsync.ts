/**
 * What one durable commit costs on this disk, apart from the broker: the latency of an append +
 * fdatasync, and of a small SQLite WAL transaction with synchronous=FULL (fsync per commit) and
 * synchronous=NORMAL (written to the OS, fsynced at checkpoints). The `fsync` durability cannot
 * commit faster than the first two figures allow; `acknowledged` is bounded by the third.
 *
 *   npx -y pnpm@10 --filter @x/broker-store-embedded exec node --conditions=@x/source --import tsx bench/fsync.ts [-- --dir /path/on/disk --n 200]
 */
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: { dir: { type: 'string', default: tmpdir() }, n: { type: 'string', default: '200' } },
});
const n = Number(args.n);
const dir = mkdtempSync(join(args.dir, 'fsync-bench-'));

function summary(name: string, samples: number[]): void {
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  console.log(
    `${name.padEnd(34)} mean ${mean.toFixed(3)} ms  p50 ${at(0.5).toFixed(3)}  p90 ${at(0.9).toFixed(3)}  p99 ${at(0.99).toFixed(3)}  (${samples.length} samples)`,
  );
}

function time(run: () => void): number {
  const start = process.hrtime.bigint();
  run();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

try {
  const fd = openSync(join(dir, 'append'), 'a');
  const block = Buffer.alloc(4096, 1);
  summary(
    'write 4 KiB + fdatasync',
    Array.from({ length: n }, () =>
      time(() => {
        writeSync(fd, block);
        fdatasyncSync(fd);
      }),
    ),
  );
  closeSync(fd);

  for (const synchronous of ['FULL', 'NORMAL'] as const) {
    const db = new Database(join(dir, `wal-${synchronous}.sqlite`));
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous}`);
    db.exec('CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)');
    const insert = db.prepare('INSERT OR REPLACE INTO t VALUES (?, ?)');
    // 200 rows of 100 bytes: one group commit of the benchmark's window (10 publishers × 20).
    const payload = Buffer.alloc(100, 2);
    let k = 0;
    const commit = db.transaction(() => {
      for (let i = 0; i < 200; i++) insert.run(k++ % 5000, payload);
    });
    summary(
      `SQLite WAL commit (200 rows) ${synchronous}`,
      Array.from({ length: n }, () => time(commit)),
    );
    db.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
