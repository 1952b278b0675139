import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { CLIENT, type EncodedBatch, NULL_LENGTH, STATEMENTS } from './write-ops.js';

/** What the writer thread reports for a failed write: SQLite's or the file system's code. */
export interface WriteFailure {
  code: string | undefined;
  message: string;
}

/** SQLite's `synchronous` setting of the writer's connection. */
export type Synchronous = 'FULL' | 'NORMAL';

/**
 * The writer thread's code. Plain CommonJS given to the Worker as text, so the same code runs from
 * the TypeScript sources (tests) and from dist/ without a loader. It opens its own connection to
 * the file. Each time it wakes it takes every batch waiting on its port (receiveMessageOnPort), so
 * batches that arrived during the last COMMIT share the next one instead of queueing behind each
 * other, writes them in one transaction and answers `{ upTo }` (every batch up to that id is
 * committed) or `{ upTo, error }`. A batch is one buffer of `[statement][parameters]` records
 * (write-ops.ts); one parameter array is reused for every statement.
 *
 * After a failure the batches of the same generation still on the port are skipped unwritten: the
 * main thread has taken them back (they are written again, folded, in order, in a later
 * generation), so nothing of theirs may land before the failed batch.
 */
const WORKER = `
const { parentPort, workerData, receiveMessageOnPort } = require('node:worker_threads');
const Database = require(workerData.module);
let db, statements, write, openError, failed = false, failedGeneration = -1, closing = false;
try {
  db = new Database(workerData.file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = ' + workerData.synchronous);
  db.pragma('journal_size_limit = 8388608');
  // Checkpoints are the checkpointer thread's job (checkpointer.ts); this connection checkpoints
  // only when the WAL passes 16 MiB, a backstop for when the other cannot finish.
  // (The setting counts pages: 4 KiB ones in a new file, 16 KiB in some older ones.)
  db.pragma('wal_autocheckpoint = ' + Math.ceil(16 * 1024 * 1024 / db.pragma('page_size', { simple: true })));
  statements = workerData.statements.map(([sql]) => db.prepare(sql));
  write = db.transaction((batches) => {
    for (const batch of batches) run(batch.buffer, batch.length);
  });
} catch (error) {
  openError = error;
}
const kinds = workerData.statements.map(([, params]) => params);
const args = [];
function run(buffer, length) {
  const buf = Buffer.from(buffer, 0, length);
  let at = 0, client;
  const text = () => {
    const n = buf.readUInt32LE(at);
    at += 4;
    if (n === workerData.nullLength) return null;
    at += n;
    return buf.toString('utf8', at - n, at);
  };
  while (at < length) {
    const statement = buf[at++];
    if (statement === workerData.client) { client = text(); continue; }
    const kind = kinds[statement];
    if (kind === undefined) throw new Error('unknown statement ' + statement);
    args.length = kind.length;
    for (let i = 0; i < kind.length; i++) {
      switch (kind[i]) {
        case 'c': args[i] = client; break;
        case 'n': args[i] = buf.readDoubleLE(at); at += 8; break;
        case 'N':
          if (buf[at++] === 0) args[i] = null;
          else { args[i] = buf.readDoubleLE(at); at += 8; }
          break;
        case 'b': {
          const n = buf.readUInt32LE(at);
          at += 4;
          if (n === workerData.nullLength) args[i] = null;
          else { args[i] = buf.subarray(at, at + n); at += n; }
          break;
        }
        default: args[i] = text();
      }
    }
    statements[statement].run(args);
  }
}
function fail(upTo, error) {
  parentPort.postMessage({ upTo, error: { code: error.code, message: error.message } });
}
parentPort.on('message', (first) => {
  if (closing) return;
  const batches = [];
  for (let message = first; message !== undefined; ) {
    if (message.close) { closing = true; break; }
    if (message.pragma !== undefined) {
      // Settings of this connection (pragmas such as synchronous are per connection), for tests.
      let value = null;
      try { value = db.pragma(message.pragma, { simple: true }); } catch {}
      parentPort.postMessage({ pragma: message.pragma, value });
    } else
    if (message.generation > failedGeneration) batches.push(message);
    const next = receiveMessageOnPort(parentPort);
    message = next === undefined ? undefined : next.message;
  }
  if (batches.length > 0) {
    const upTo = batches[batches.length - 1].id;
    if (openError !== undefined) {
      failedGeneration = batches[0].generation;
      fail(upTo, openError);
    } else {
      let error;
      try {
        write(batches);
      } catch (reason) {
        error = reason;
        if (db.inTransaction) {
          try { db.exec('ROLLBACK'); } catch {}
        }
      }
      if (error !== undefined) {
        failed = true;
        failedGeneration = batches[0].generation;
        fail(upTo, error);
      } else {
        parentPort.postMessage({ upTo });
        if (failed) {
          failed = false;
          // Give back what the WAL grew to while failing: a disk that was full may be nearly full still.
          try { db.pragma('wal_checkpoint(TRUNCATE)'); } catch {}
        }
      }
    }
  }
  if (closing) {
    if (db !== undefined) db.close();
    parentPort.close();
  }
});
`;

interface Waiting {
  id: number;
  done: (failure: WriteFailure | undefined) => void;
}

/**
 * Runs the store's writes in a worker thread, so the fsync of a commit (milliseconds on most
 * disks) never blocks the broker's event loop. Batches are written in the order they are given;
 * the ones given while a COMMIT runs are written together in the next transaction.
 *
 * `done` is called for every batch, in order. When a transaction fails, its batches and every later
 * batch already given (not written) fail too, at once and in order, so the caller can fold them
 * back together and write them again later without a later change landing before an earlier one.
 */
export class Writer {
  readonly #file: string;
  readonly #synchronous: Synchronous;
  #worker: Worker | undefined;
  #next = 1;
  /** Bumped at each failure: the thread skips the batches of a failed generation. */
  #generation = 0;
  /** Pragma questions waiting for their answer (one at a time in practice). */
  #pragmas: Array<(value: unknown) => void> = [];
  /** Batches given and not yet answered, oldest first. */
  #waiting: Waiting[] = [];

  constructor(file: string, synchronous: Synchronous) {
    this.#file = file;
    this.#synchronous = synchronous;
  }

  /**
   * Writes `batch` in a transaction and calls `done` once it is committed (or failed). The batch's
   * shared buffer must not change until then.
   */
  write(batch: EncodedBatch, done: (failure: WriteFailure | undefined) => void): void {
    this.#worker ??= this.#start();
    const id = this.#next++;
    this.#waiting.push({ id, done });
    // A write in progress keeps the process alive; an idle writer does not.
    this.#worker.ref();
    this.#worker.postMessage({
      id,
      generation: this.#generation,
      buffer: batch.buffer,
      length: batch.length,
    });
  }

  /** The value of a pragma on the thread's connection (`synchronous`: 1 NORMAL, 2 FULL), for tests. */
  pragma(name: string): Promise<unknown> {
    this.#worker ??= this.#start();
    const worker = this.#worker;
    worker.ref();
    return new Promise((resolve) => {
      this.#pragmas.push((value) => {
        if (this.#waiting.length === 0) worker.unref();
        resolve(value);
      });
      worker.postMessage({ pragma: name });
    });
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

  /** Answers every waiting batch up to `upTo` (all of them on a failure), in order. */
  #answer(worker: Worker, upTo: number, failure: WriteFailure | undefined): void {
    let answered: Waiting[];
    if (failure === undefined) {
      let n = 0;
      while (n < this.#waiting.length && this.#waiting[n]!.id <= upTo) n++;
      answered = this.#waiting.slice(0, n);
      this.#waiting = this.#waiting.slice(n);
    } else {
      this.#generation++;
      answered = this.#waiting;
      this.#waiting = [];
    }
    if (this.#waiting.length === 0) worker.unref();
    for (const waiting of answered) waiting.done(failure);
  }

  #start(): Worker {
    const worker = new Worker(WORKER, {
      eval: true,
      workerData: {
        module: createRequire(import.meta.url).resolve('better-sqlite3'),
        file: this.#file,
        synchronous: this.#synchronous,
        statements: STATEMENTS,
        client: CLIENT,
        nullLength: NULL_LENGTH,
      },
    });
    worker.on(
      'message',
      (message: { upTo: number; error?: WriteFailure } | { pragma: string; value: unknown }) => {
        if ('pragma' in message) {
          const asked = this.#pragmas;
          this.#pragmas = [];
          for (const answer of asked) answer(message.value);
        } else this.#answer(worker, message.upTo, message.error);
      },
    );
    const lost = (error: Error & { code?: string }) => {
      if (this.#worker !== worker) return;
      // The next write starts a new thread; the batches it had are reported failed, and kept.
      this.#worker = undefined;
      this.#generation++;
      const waiting = this.#waiting;
      this.#waiting = [];
      for (const { done } of waiting)
        done({ code: error.code, message: `store writer thread: ${error.message}` });
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`exited with code ${code}`)));
    worker.unref();
    return worker;
  }
}
