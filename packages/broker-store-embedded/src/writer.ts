import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { SQL, type WriteOp } from './write-ops.js';

/** What the writer thread reports for a failed write: SQLite's or the file system's code. */
export interface WriteFailure {
  code: string | undefined;
  message: string;
}

/**
 * The writer thread's code. Plain CommonJS given to the Worker as text, so the same code runs from
 * the TypeScript sources (tests) and from dist/ without a loader. It opens its own connection to
 * the file, runs each batch in one transaction (with synchronous=FULL the COMMIT includes the
 * fsync) and answers `{ id }` or `{ id, error }`.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
let db, statements, write, openError, failed = false;
try {
  db = new Database(workerData.file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = ' + workerData.synchronous);
  db.pragma('journal_size_limit = 8388608');
  statements = workerData.sql.map((sql) => db.prepare(sql));
  write = db.transaction((ops) => {
    for (const op of ops) statements[op[0]].run(...op.slice(1));
  });
} catch (error) {
  openError = error;
}
parentPort.on('message', (message) => {
  if (message.close) {
    if (db !== undefined) db.close();
    parentPort.close();
    return;
  }
  if (openError !== undefined) {
    parentPort.postMessage({ id: message.id, error: { code: openError.code, message: openError.message } });
    return;
  }
  try {
    write(message.ops);
  } catch (error) {
    if (db.inTransaction) {
      try { db.exec('ROLLBACK'); } catch {}
    }
    failed = true;
    parentPort.postMessage({ id: message.id, error: { code: error.code, message: error.message } });
    return;
  }
  parentPort.postMessage({ id: message.id });
  if (failed) {
    failed = false;
    // Give back what the WAL grew to while failing: a disk that was full may be nearly full still.
    try { db.pragma('wal_checkpoint(TRUNCATE)'); } catch {}
  }
});
`;

/**
 * Runs the store's writes in a worker thread, so the fsync of a commit (milliseconds on most
 * disks) never blocks the broker's event loop. One connection, one transaction per batch; batches
 * are written in the order they are given.
 */
export class Writer {
  readonly #file: string;
  readonly #synchronous: 'FULL' | 'NORMAL';
  #worker: Worker | undefined;
  #next = 1;
  readonly #waiting = new Map<number, (failure: WriteFailure | undefined) => void>();

  constructor(file: string, synchronous: 'FULL' | 'NORMAL') {
    this.#file = file;
    this.#synchronous = synchronous;
  }

  /** Starts the thread ahead of the first write (it opens the file). */
  start(): void {
    this.#worker ??= this.#start();
  }

  /** Writes `ops` in one transaction and calls `done` once it is committed (or failed). */
  write(ops: WriteOp[], done: (failure: WriteFailure | undefined) => void): void {
    this.#worker ??= this.#start();
    const id = this.#next++;
    this.#waiting.set(id, done);
    // A write in progress keeps the process alive; an idle writer does not.
    this.#worker.ref();
    this.#worker.postMessage({ id, ops });
  }

  /** Closes the connection (checkpointing the WAL) and ends the thread; call when no write is waiting. */
  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker === undefined) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.ref();
    worker.postMessage({ close: true });
    await exited;
  }

  #start(): Worker {
    const worker = new Worker(WORKER, {
      eval: true,
      workerData: {
        module: createRequire(import.meta.url).resolve('better-sqlite3'),
        file: this.#file,
        synchronous: this.#synchronous,
        sql: SQL,
      },
    });
    worker.on('message', (message: { id: number; error?: WriteFailure }) => {
      const done = this.#waiting.get(message.id);
      this.#waiting.delete(message.id);
      if (this.#waiting.size === 0) worker.unref();
      done?.(message.error);
    });
    const lost = (error: Error & { code?: string }) => {
      if (this.#worker !== worker) return;
      // The next write starts a new thread; the batches it had are reported failed, and kept.
      this.#worker = undefined;
      const waiting = [...this.#waiting.values()];
      this.#waiting.clear();
      for (const done of waiting)
        done({ code: error.code, message: `store writer thread: ${error.message}` });
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`exited with code ${code}`)));
    worker.unref();
    return worker;
  }
}
