import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
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
import { classify, SqliteStoreError, type SqliteStoreErrorCode, SqliteStoreErrors } from './errors.js';
import { loadState } from './load.js';
import { FileLock, LockHeldError } from './lock.js';
import { PendingBatch } from './pending.js';
import { checkHeader, checkIds, SCHEMA } from './schema.js';
import { batchOps, probeOp, type WriteOp } from './write-ops.js';
import { type WriteFailure, Writer } from './writer.js';

export interface SqliteStoreOptions {
  /** Directory of the store's file (created when missing). */
  dataDir: string;
  /** File name inside `dataDir`. Default: 'broker.sqlite' (SQLite adds '-wal' and '-shm' beside it). */
  fileName?: string;
  /**
   * 'acknowledged' (default): `commit` calls back once the batch is on disk (WAL with
   * synchronous=FULL: fsync per commit), so what the broker acknowledged survives a power cut.
   * 'interval': `commit` calls back at once and the batch is written every `intervalMs`
   * (synchronous=NORMAL), like Mosquitto's autosave: a crash loses at most the last interval.
   */
  durability?: 'acknowledged' | 'interval';
  /** Milliseconds between writes in 'interval' durability. Default: 1000. */
  intervalMs?: number;
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
  /** The database file. */
  readonly file: string;
  readonly #dataDir: string;
  readonly #durability: 'acknowledged' | 'interval';
  readonly #intervalMs: number;
  readonly #maxPendingBytes: number;
  readonly #retryMs: number;
  readonly #logger: Logger;
  #writer: Writer | undefined;
  /** The batch the writer thread has, with the commits waiting for it. */
  #writing: { batch: PendingBatch; callbacks: Array<(error: Error | undefined) => void> } | undefined;
  /** Commits waiting for the next batch to be written. */
  #callbacks: Array<(error: Error | undefined) => void> = [];
  #pending = new PendingBatch();
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
    this.#lock = new FileLock(`${this.file}.lock`);
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
      this.#writer = new Writer(this.file, this.#durability === 'acknowledged' ? 'FULL' : 'NORMAL');
      this.#writer.start();
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
      // The first write to the file: everything above only read it.
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${this.#durability === 'acknowledged' ? 'FULL' : 'NORMAL'}`);
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

  commit(done: (error: Error | undefined) => void): void {
    if (this.#writer === undefined) {
      done(
        this.#error(SqliteStoreErrors.CLOSED, this.#closed ? 'the store is closed' : 'the store is not open'),
      );
      return;
    }
    if (this.#durability === 'acknowledged' || !this.writable) {
      this.#callbacks.push(done);
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

  async close(): Promise<void> {
    const writer = this.#writer;
    this.#closed = true;
    if (writer === undefined) return;
    clearTimeout(this.#timer);
    clearTimeout(this.#retryTimer);
    this.#timer = this.#retryTimer = undefined;
    const error = await new Promise<Error | undefined>((resolve) => {
      this.#callbacks.push(resolve);
      this.#flush();
    });
    this.#writer = undefined;
    await writer.close();
    this.#lock.release();
    if (error !== undefined) throw error;
  }

  /**
   * Hands the pending batch to the writer thread, unless a write is already under way (the batch
   * then goes when it ends). The callbacks waiting now are called when this batch is committed.
   */
  #flush(): void {
    const writer = this.#writer;
    if (writer === undefined || this.#writing !== undefined) return;
    const batch = this.#pending;
    const callbacks = this.#callbacks;
    this.#callbacks = [];
    if (batch.empty && this.#failure === undefined) {
      for (const callback of callbacks) callback(undefined);
      return;
    }
    // With nothing to write after a failure, a probe tells whether the disk takes writes again.
    let ops: WriteOp[];
    try {
      ops = batch.empty ? [probeOp()] : batchOps(batch);
    } catch (error) {
      // Only a message the codec refuses even without its properties gets here; the batch stays.
      this.#pending = new PendingBatch();
      this.#writing = { batch, callbacks };
      this.#written({ code: undefined, message: `cannot encode the batch: ${(error as Error).message}` });
      return;
    }
    this.#pending = new PendingBatch();
    if (ops.length === 0) {
      // Every change cancelled out (a message saved and acknowledged within the batch): nothing
      // to write, and every earlier batch is written already.
      if (this.#failure === undefined) {
        for (const callback of callbacks) callback(undefined);
        return;
      }
      ops.push(probeOp());
    }
    this.#writing = { batch, callbacks };
    writer.write(ops, (failure) => this.#written(failure));
  }

  #written(failure: WriteFailure | undefined): void {
    const { batch, callbacks } = this.#writing!;
    this.#writing = undefined;
    if (failure === undefined) {
      if (this.#failure !== undefined) {
        this.#logger.warn({ file: this.file }, 'store writes again');
        this.#failure = undefined;
      }
      for (const callback of callbacks) callback(undefined);
      // Commits that came while this batch was being written.
      if (this.#callbacks.length > 0) this.#flush();
      return;
    }
    // Nothing is lost: every write in a batch is an upsert or a delete, so the failed batch is
    // written again, folded with what came after it.
    batch.absorb(this.#pending);
    this.#pending = batch;
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
    const waiting = this.#callbacks;
    this.#callbacks = [];
    for (const callback of [...callbacks, ...waiting]) callback(error);
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
