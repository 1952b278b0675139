import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  CommitPacer,
  type Delivery,
  type Logger,
  type Message,
  type SessionSubscription,
  type Store,
  type StoredSession,
  type StoredState,
  type SysInfo,
  silentLogger,
} from '@x/broker';
import Database from 'better-sqlite3';
import { Checkpointer } from './checkpointer.js';
import { classify, SqliteStoreError, type SqliteStoreErrorCode, SqliteStoreErrors } from './errors.js';
import { loadState } from './load.js';
import { FileLock, LockHeldError } from './lock.js';
import { PendingBatch } from './pending.js';
import { checkHeader, checkIds, PAGE_SIZE, SCHEMA } from './schema.js';
import { type EncodedBatch, encodeBatch, probeBatch, SharedBuffers } from './write-ops.js';
import { type Synchronous, type WriteFailure, Writer } from './writer.js';

/** See {@link SqliteStoreOptions.durability}. */
export type SqliteDurability = 'acknowledged' | 'fsync' | 'interval';

/** A batch given to the writer thread and the commits waiting for it. */
interface InFlight {
  batch: PendingBatch;
  encoded: EncodedBatch;
  callbacks: Array<(error: Error | undefined) => void>;
}

export interface SqliteStoreOptions {
  /** Directory of the store's file (created when missing). */
  dataDir: string;
  /** File name inside `dataDir`. Default: 'broker.sqlite' (SQLite adds '-wal' and '-shm' beside it). */
  fileName?: string;
  /**
   * When `commit` calls back, which is when the broker sends the PUBACK/PUBREC that promises it:
   * - 'acknowledged' (default): once the batch is committed to the WAL file in the operating system
   *   (synchronous=NORMAL): it survives `kill -9` and any crash of the broker process; a power cut
   *   or kernel crash can lose the last commits before the next checkpoint's fsync.
   * - 'fsync': once the batch is fsynced (synchronous=FULL: one fsync per commit): it survives a
   *   power cut too. Each commit waits for the disk (milliseconds), so throughput follows its
   *   fsync latency.
   * - 'interval': at once; the batch is written every `intervalMs` (synchronous=NORMAL), like
   *   Mosquitto's autosave: a crash loses at most the last interval.
   */
  durability?: SqliteDurability;
  /** Milliseconds between writes in 'interval' durability. Default: 1000. */
  intervalMs?: number;
  /**
   * In 'acknowledged' and 'fsync' durability, the least milliseconds between two writes while
   * most of what the broker records cancels out within a batch (an online subscriber's messages,
   * saved and acknowledged again within milliseconds), so that those rows are never written. Only
   * acknowledgements that wait for a commit wait longer, by at most this. Light loads and writes
   * that do not cancel out (queues of offline sessions) go at once whatever this is. 0: never wait.
   * Default: 4.
   */
  commitWindowMs?: number;
  /**
   * Bytes of changes held while the disk cannot be written (or between interval writes) before
   * the store reports itself not `writable`, which makes the broker refuse publishes. Changes are
   * never dropped; folding by row keeps the batch within the size of the live state. Default: 64 MiB.
   */
  maxPendingBytes?: number;
  /** Milliseconds between attempts to write again after a failure. Default: 1000. */
  retryMs?: number;
  /** Default: silent. */
  logger?: Logger;
}

/**
 * A `Store` in one SQLite file (WAL mode) through better-sqlite3: the default store of the
 * `mqtt-broker` binary. Change methods fold the change into an in-memory batch; `commit` hands the
 * batch to a writer thread, which writes it in one transaction (so the fsync never blocks the event
 * loop) and `done` follows. See the package README for the durability settings and figures.
 */
export class SqliteStore implements Store {
  readonly name = 'sqlite';
  readonly commitsOnlyRecordedChanges = true;
  /** The database file. */
  readonly file: string;
  readonly #dataDir: string;
  readonly #durability: SqliteDurability;
  readonly #intervalMs: number;
  readonly #maxPendingBytes: number;
  readonly #retryMs: number;
  readonly #logger: Logger;
  readonly #pacer: CommitPacer;
  #writer: Writer | undefined;
  #checkpointer: Checkpointer | undefined;
  /** The batches given to the writer thread, oldest first, with the commits waiting for each. */
  #writing: InFlight[] = [];
  /** The failed batches folded together, while the writer still fails the later ones. */
  #failed: PendingBatch | undefined;
  /** Commits waiting for the next batch to be written. */
  #callbacks: Array<(error: Error | undefined) => void> = [];
  #pending = new PendingBatch();
  /** Shared memory the batches travel in to the writer thread, reused. */
  readonly #buffers = new SharedBuffers();
  /** Sending order of in-flight messages, continued from the file. */
  #order = 0;
  /** The last write failure, until a write succeeds. */
  #failure: SqliteStoreError | undefined;
  #timer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #lock: FileLock;

  constructor(options: SqliteStoreOptions) {
    this.#dataDir = options.dataDir;
    this.file = join(options.dataDir, options.fileName ?? 'broker.sqlite');
    this.#durability = options.durability ?? 'acknowledged';
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#maxPendingBytes = options.maxPendingBytes ?? 64 * 1024 * 1024;
    this.#retryMs = options.retryMs ?? 1000;
    this.#logger = options.logger ?? silentLogger;
    this.#pacer = new CommitPacer(options.commitWindowMs ?? 4, () => this.#flush());
    this.#lock = new FileLock(`${this.file}.lock`);
  }

  /** SQLite's `synchronous` for the durability: FULL fsyncs every commit, NORMAL only checkpoints. */
  get #synchronous(): Synchronous {
    return this.#durability === 'fsync' ? 'FULL' : 'NORMAL';
  }

  /** False while the last write failed, or while more than `maxPendingBytes` wait to be written. */
  get writable(): boolean {
    return this.#failure === undefined && this.#pending.bytes <= this.#maxPendingBytes;
  }

  /** The error that made the store not writable, if any. */
  get failure(): SqliteStoreError | undefined {
    return this.#failure;
  }

  /**
   * Opens (or creates) the file and returns its state, after deleting what expired meanwhile.
   * Rejects with a `SqliteStoreError`: CORRUPT, NEWER_FORMAT, FOREIGN_FILE, READ_ONLY, DISK_FULL, IO,
   * LOCKED (another live process has it open). A refused file is left exactly as it was.
   */
  async open(): Promise<StoredState> {
    if (this.#writer !== undefined || this.#closed)
      throw this.#error(SqliteStoreErrors.CLOSED, 'open() was already called');
    try {
      mkdirSync(this.#dataDir, { recursive: true });
    } catch (error) {
      const cause = whyNotCreated(this.#dataDir, error);
      throw this.#error(
        classify(cause),
        `cannot create the data directory: ${(cause as Error).message}`,
        cause,
      );
    }
    try {
      this.#lock.acquire();
    } catch (error) {
      if (error instanceof LockHeldError) throw this.#error(SqliteStoreErrors.LOCKED, error.message);
      throw this.#error(classify(error), `cannot lock the store file: ${(error as Error).message}`, error);
    }
    try {
      return this.#openLocked();
    } catch (error) {
      this.#lock.release();
      throw error;
    }
  }

  #openLocked(): StoredState {
    let exists: boolean;
    try {
      exists = checkHeader(this.file);
    } catch (error) {
      if (error instanceof SqliteStoreError) throw error;
      throw this.#error(classify(error), 'cannot read the store file', error);
    }
    let db: Database.Database;
    try {
      db = new Database(this.file);
    } catch (error) {
      throw this.#error(classify(error), 'cannot open the store file', error);
    }
    try {
      const state = this.#prepareFile(db, exists);
      // From here on the writer thread has the file; this connection only checked and loaded it.
      // The thread (a V8 isolate, about 10 MB of RSS) starts with the first write: a broker that
      // stores nothing never starts it, and the first commit waits once for it to open the file.
      this.#writer = new Writer(this.file, this.#synchronous);
      this.#checkpointer = new Checkpointer(this.file);
      this.#logger.info(
        { file: this.file, sessions: state.sessions.length, retained: state.retained.length },
        'store opened',
      );
      return state;
    } finally {
      db.close();
    }
  }

  #prepareFile(db: Database.Database, exists: boolean): StoredState {
    try {
      if (exists) {
        // The header was checked before opening; the pragmas also see a header still in the WAL.
        checkIds(
          this.file,
          db.pragma('application_id', { simple: true }) as number,
          db.pragma('user_version', { simple: true }) as number,
        );
        const check = db.pragma('quick_check', { simple: true });
        if (check !== 'ok') {
          throw this.#error(
            SqliteStoreErrors.CORRUPT,
            `the store file is damaged (quick_check: ${String(check)})`,
          );
        }
      }
      const tables = db.prepare('SELECT count(*) AS n FROM sqlite_master').get() as { n: number };
      // Our schema and ids are written in one transaction: a file without ids is ours only when empty.
      if (tables.n > 0 && db.pragma('application_id', { simple: true }) === 0) {
        checkIds(this.file, -1, 0);
      }
      // The first write to the file: everything above only read it. The page size goes first: it
      // is fixed once the file is in WAL mode.
      if (tables.n === 0) db.pragma(`page_size = ${PAGE_SIZE}`);
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${this.#synchronous}`);
      // A WAL that grew in a burst is cut back to this size at the next checkpoint.
      db.pragma('journal_size_limit = 8388608');
      const now = Date.now();
      let state!: StoredState;
      // Also proves at start that the file can be written (a read-only file fails here, not at the first PUBLISH).
      db.transaction(() => {
        if (tables.n === 0) db.exec(SCHEMA);
        state = loadState(db, now, this.#logger);
        db.prepare("INSERT OR REPLACE INTO meta VALUES ('opened_at', ?)").run(now);
      })();
      const max = db.prepare('SELECT max(sent_order) AS n FROM inflight').get() as { n: number | null };
      this.#order = (max.n ?? 0) + 1;
      return state;
    } catch (error) {
      if (error instanceof SqliteStoreError) throw error;
      const code = classify(error);
      throw this.#error(code, describe(code), error);
    }
  }

  saveSession(session: StoredSession): void {
    this.#pending.saveSession(session);
  }

  deleteSession(clientId: string): void {
    this.#pending.deleteSession(clientId);
  }

  saveSubscription(clientId: string, subscription: SessionSubscription): void {
    this.#pending.saveSubscription(clientId, subscription);
  }

  deleteSubscription(clientId: string, topicFilter: string): void {
    this.#pending.deleteSubscription(clientId, topicFilter);
  }

  queueMessage(clientId: string, seq: number, delivery: Delivery): void {
    this.#pending.queueMessage(clientId, seq, delivery);
  }

  dequeueMessage(clientId: string, seq: number): void {
    this.#pending.dequeueMessage(clientId, seq);
  }

  saveInflight(clientId: string, packetId: number, delivery: Delivery, released: boolean): void {
    this.#pending.saveInflight(clientId, packetId, delivery, released, this.#order++);
  }

  deleteInflight(clientId: string, packetId: number): void {
    this.#pending.deleteInflight(clientId, packetId);
  }

  saveInboundQos2(clientId: string, packetId: number): void {
    this.#pending.saveInboundQos2(clientId, packetId);
  }

  deleteInboundQos2(clientId: string, packetId: number): void {
    this.#pending.deleteInboundQos2(clientId, packetId);
  }

  saveRetained(message: Message): void {
    this.#pending.saveRetained(message);
  }

  deleteRetained(topic: string): void {
    this.#pending.deleteRetained(topic);
  }

  saveSysInfo(info: Readonly<SysInfo>): void {
    this.#pending.saveSysInfo(info);
  }

  commit(done: (error: Error | undefined) => void, urgent = true): void {
    if (this.#writer === undefined) {
      done(
        this.#error(SqliteStoreErrors.CLOSED, this.#closed ? 'the store is closed' : 'the store is not open'),
      );
      return;
    }
    if (this.#durability !== 'interval' || !this.writable) {
      this.#callbacks.push(done);
      if (urgent) this.#pacer.urgent();
      this.#flush();
      return;
    }
    // Interval durability: acknowledged now, written by the timer.
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
    }, this.#intervalMs).unref();
    done(undefined);
  }

  /** @internal The writer connection's `synchronous` pragma (1 NORMAL, 2 FULL), for tests. */
  writerSynchronous(): Promise<unknown> {
    if (this.#writer === undefined) return Promise.reject(new Error('the store is not open'));
    return this.#writer.pragma('synchronous');
  }

  async close(): Promise<void> {
    const writer = this.#writer;
    this.#closed = true;
    if (writer === undefined) return;
    clearTimeout(this.#timer);
    clearTimeout(this.#retryTimer);
    this.#timer = this.#retryTimer = undefined;
    const error = await new Promise<Error | undefined>((resolve) => {
      this.#callbacks.push(resolve);
      this.#flush(true);
    });
    this.#writer = undefined;
    await this.#checkpointer?.close();
    await writer.close();
    this.#lock.release();
    if (error !== undefined) throw error;
  }

  /**
   * Hands the pending batch to the writer thread, unless a write is under way: the batch then goes
   * the moment it ends, with every change of the turns in between folded into it. Handing each
   * turn's batch over at once (the thread takes all waiting batches into one transaction either
   * way) was measured slower: an online subscriber's in-flight row, saved in one turn and deleted
   * by its PUBACK a few turns later, then costs an INSERT and a DELETE instead of nothing
   * (README, "How it writes"). The callbacks waiting now are called when this batch is committed.
   * The pacer may hold the batch back a few milliseconds more; `now` (closing) does not wait.
   */
  #flush(now = false): void {
    const writer = this.#writer;
    if (writer === undefined || this.#writing.length > 0) return;
    if (this.#failure === undefined && !now && !this.#pacer.mayGo()) return;
    const batch = this.#pending;
    const callbacks = this.#callbacks;
    this.#callbacks = [];
    // With nothing to write after a failure, a probe tells whether the disk takes writes again.
    let encoded: EncodedBatch | undefined;
    try {
      encoded = batch.empty ? undefined : encodeBatch(batch, this.#buffers);
    } catch (error) {
      // Only a message the codec refuses even without its properties gets here; the batch stays.
      const failure = this.#recordFailure({
        code: undefined,
        message: `cannot encode the batch: ${(error as Error).message}`,
      });
      for (const callback of callbacks) callback(failure);
      this.#retry();
      return;
    }
    this.#pending = new PendingBatch();
    this.#pacer.handedOver(batch.changes, encoded?.ops ?? 0);
    if (encoded === undefined || encoded.ops === 0) {
      if (encoded !== undefined) this.#buffers.give(encoded.buffer);
      // Every change cancelled out (a message saved and acknowledged within the batch), or there
      // were none: nothing to write, and every earlier batch is written already.
      if (this.#failure === undefined) {
        for (const callback of callbacks) callback(undefined);
        return;
      }
      encoded = probeBatch(this.#buffers);
    }
    const entry = { batch, encoded, callbacks };
    this.#writing.push(entry);
    writer.write(encoded, (failure) => this.#written(entry, failure));
  }

  /** The writer's answer for `entry`: answers come in the order the batches were given. */
  #written(entry: InFlight, failure: WriteFailure | undefined): void {
    this.#writing.shift();
    const { batch, encoded, callbacks } = entry;
    this.#buffers.give(encoded.buffer);
    if (failure === undefined) {
      if (this.#failure !== undefined) {
        this.#logger.warn({ file: this.file }, 'store writes again');
        this.#failure = undefined;
      }
      // The commits that came while this batch was being written go to the writer first, so it
      // works on them while this batch's acknowledgements are sent.
      if (this.#callbacks.length > 0) this.#flush();
      for (const callback of callbacks) callback(undefined);
      this.#checkpointer?.wrote();
      return;
    }
    // Nothing is lost: every write in a batch is an upsert or a delete, so the failed batch is
    // written again, folded with every later one (the writer fails those too, unwritten, right
    // after this one) and with what came after them.
    if (this.#failed === undefined) this.#failed = batch;
    else this.#failed.absorb(batch);
    const error = this.#recordFailure(failure);
    for (const callback of callbacks) callback(error);
    if (this.#writing.length > 0) return;
    // The last batch in flight: fold them all back in front of the pending changes, in order.
    const failed = this.#failed;
    this.#failed = undefined;
    failed.absorb(this.#pending);
    this.#pending = failed;
    const waiting = this.#callbacks;
    this.#callbacks = [];
    for (const callback of waiting) callback(error);
    this.#retry();
  }

  /** Records a failure to write (logged once per kind) and returns the error commits get. */
  #recordFailure(failure: WriteFailure): SqliteStoreError {
    const code = classify(failure);
    const error = this.#error(
      code,
      describe(code),
      Object.assign(new Error(failure.message), { code: failure.code }),
    );
    if (this.#failure?.code !== code) {
      this.#logger.error(
        { file: this.file, code, reason: failure.message },
        'store write failed; publishes are refused until it works again',
      );
    }
    this.#failure = error;
    return error;
  }

  #retry(): void {
    this.#retryTimer ??= setTimeout(() => {
      this.#retryTimer = undefined;
      this.#flush();
    }, this.#retryMs).unref();
  }

  #error(code: SqliteStoreErrorCode, message: string, cause?: unknown): SqliteStoreError {
    return new SqliteStoreError(code, this.file, message, cause === undefined ? undefined : { cause });
  }
}

/** A store in `dataDir` with the default settings (acknowledged durability). */
export function sqliteStore(dataDir: string, options: Omit<SqliteStoreOptions, 'dataDir'> = {}): SqliteStore {
  return new SqliteStore({ ...options, dataDir });
}

/**
 * The real reason a recursive mkdir failed: Node reports ENOENT when a parent cannot be created on
 * a read-only file system, so ask the nearest existing parent whether it can be written.
 */
function whyNotCreated(dir: string, error: unknown): unknown {
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return error;
  for (let parent = dirname(dir); ; parent = dirname(parent)) {
    if (existsSync(parent)) {
      try {
        accessSync(parent, constants.W_OK);
      } catch (reason) {
        return reason;
      }
      return error;
    }
    if (parent === dirname(parent)) return error;
  }
}

function describe(code: SqliteStoreErrorCode): string {
  switch (code) {
    case SqliteStoreErrors.DISK_FULL:
      return 'the disk is full: changes are kept in memory and written when space is freed';
    case SqliteStoreErrors.CORRUPT:
      return 'the store file is damaged';
    case SqliteStoreErrors.READ_ONLY:
      return 'the store file cannot be written (read-only file system or no permission)';
    default:
      return 'the store file cannot be read or written';
  }
}
