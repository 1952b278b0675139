import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * The checkpointer thread's code (plain CommonJS, like the writer's). Its own connection copies
 * committed WAL frames into the database file when asked (PASSIVE: it never blocks the writer).
 */
const CHECKPOINTER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
let db;
try {
  db = new Database(workerData.file);
} catch {}
parentPort.on('message', (message) => {
  if (message.close) {
    if (db !== undefined) db.close();
    parentPort.close();
    return;
  }
  let frames = -1;
  // A failed checkpoint (disk full) leaves the frames in the WAL; the writer's own checkpoint is the backstop.
  try { frames = db.pragma('wal_checkpoint(PASSIVE)')[0].log; } catch {}
  parentPort.postMessage({ frames });
});
`;

/**
 * Moves checkpoints off the commit path. A checkpoint copies the WAL into the database file and
 * fsyncs both (milliseconds, tens on a slow disk); run by the writer after a commit, as SQLite does
 * by default, it held up every acknowledgement waiting for the next commit (on this machine, 100-row
 * commits of queue rows had a p99 of 9.7 ms with it and 2.4 ms without). Here a second connection on its own thread checkpoints at
 * most every `everyMs` while commits come; the writer's connection checkpoints only when the WAL
 * outgrows its backstop (a checkpoint racing constant commits cannot always finish the WAL, and
 * only a finished one lets the WAL start over).
 *
 * The thread is a V8 isolate of its own (about 7 MB of RSS here), so it starts with the first commit
 * and ends once no commit has come for `idleMs`: a broker that has gone quiet gives it back, and the
 * next commit starts it again (tens of milliseconds on its own thread, while the checkpoint it is for
 * waits `everyMs` anyway; commits never wait for it).
 */
export class Checkpointer {
  readonly #file: string;
  readonly #everyMs: number;
  readonly #idleMs: number;
  #worker: Worker | undefined;
  #timer: NodeJS.Timeout | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  /** When the last checkpoint was asked for. */
  #lastAt = 0;
  /** A thread ended for being idle, until it has closed its connection. */
  #retiring: Promise<void> | undefined;
  #running = false;
  #closed = false;

  /**
   * @param everyMs - at most one checkpoint this often while commits come. Default 100.
   * @param idleMs - the thread ends after this long without a checkpoint. Default 30 000.
   */
  constructor(file: string, everyMs = 100, idleMs = 30_000) {
    this.#file = file;
    this.#everyMs = everyMs;
    this.#idleMs = idleMs;
  }

  /** Whether the thread is up (for tests). */
  get started(): boolean {
    return this.#worker !== undefined;
  }

  /** A commit was written: a checkpoint follows within `everyMs`. */
  wrote(): void {
    if (this.#timer !== undefined || this.#running || this.#closed) return;
    this.#timer = setTimeout(this.#checkpoint, this.#everyMs).unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#idleTimer);
    this.#timer = undefined;
    this.#idleTimer = undefined;
    const worker = this.#worker;
    this.#worker = undefined;
    await Promise.all([this.#retiring, worker && stop(worker)]);
  }

  readonly #checkpoint = (): void => {
    this.#timer = undefined;
    if (this.#closed) return;
    this.#running = true;
    this.#lastAt = Date.now();
    this.#worker ??= this.#start();
    this.#worker.ref();
    this.#worker.postMessage({ checkpoint: true });
    this.#idleTimer ??= setTimeout(this.#retireIfIdle, this.#idleMs).unref();
  };

  /** Ends the thread when no checkpoint was asked for in `idleMs`, else looks again when that will be so. */
  readonly #retireIfIdle = (): void => {
    this.#idleTimer = undefined;
    const worker = this.#worker;
    if (this.#closed || worker === undefined) return;
    const quietFor = Date.now() - this.#lastAt;
    if (this.#running || this.#timer !== undefined || quietFor < this.#idleMs) {
      this.#idleTimer = setTimeout(this.#retireIfIdle, Math.max(this.#idleMs - quietFor, 1)).unref();
      return;
    }
    this.#worker = undefined;
    const retiring = stop(worker).finally(() => {
      if (this.#retiring === retiring) this.#retiring = undefined;
    });
    this.#retiring = retiring;
  };

  #start(): Worker {
    const worker = new Worker(CHECKPOINTER, {
      eval: true,
      workerData: { module: createRequire(import.meta.url).resolve('better-sqlite3'), file: this.#file },
    });
    worker.on('message', () => {
      this.#running = false;
      worker.unref();
    });
    const lost = () => {
      if (this.#worker !== worker) return;
      // The next checkpoint starts a new thread.
      this.#worker = undefined;
      this.#running = false;
    };
    worker.on('error', lost);
    worker.on('exit', lost);
    worker.unref();
    return worker;
  }
}

/** Asks a thread to close its connection and end; resolves when it has. */
function stop(worker: Worker): Promise<void> {
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.postMessage({ close: true });
  return exited;
}
