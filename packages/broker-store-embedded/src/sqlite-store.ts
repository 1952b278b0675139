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
import { clientDeleter, loadState } from './load.js';
import { PendingBatch } from './pending.js';
import { encodeMessage, encodeWill } from './publish-bytes.js';
import { checkHeader, checkIds, SCHEMA } from './schema.js';

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

type Statement = Database.Statement<unknown[]>;

/**
 * A `Store` in one SQLite file (WAL mode) through better-sqlite3: the default store of the
 * `mqtt-broker` binary. Change methods fold the change into an in-memory batch; `commit` writes
 * the batch in one transaction. See the package README for the durability settings and figures.
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
  #db: Database.Database | undefined;
  #statements: ReturnType<typeof prepare> | undefined;
  #pending = new PendingBatch();
  /** Sending order of in-flight messages, continued from the file. */
  #order = 0;
  /** The last write failure, until a write succeeds. */
  #failure: SqliteStoreError | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: SqliteStoreOptions) {
    this.#dataDir = options.dataDir;
    this.file = join(options.dataDir, options.fileName ?? 'broker.sqlite');
    this.#durability = options.durability ?? 'acknowledged';
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#maxPendingBytes = options.maxPendingBytes ?? 64 * 1024 * 1024;
    this.#retryMs = options.retryMs ?? 1000;
    this.#logger = options.logger ?? silentLogger;
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
   * Rejects with a `SqliteStoreError`: CORRUPT, NEWER_FORMAT, FOREIGN_FILE, READ_ONLY, DISK_FULL, IO.
   * A refused file is left exactly as it was.
   */
  async open(): Promise<StoredState> {
    if (this.#db !== undefined || this.#closed)
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
    const exists = checkHeader(this.file);
    let db: Database.Database;
    try {
      db = new Database(this.file);
    } catch (error) {
      throw this.#error(classify(error), 'cannot open the store file', error);
    }
    try {
      const state = this.#prepareFile(db, exists);
      this.#db = db;
      this.#statements = prepare(db);
      this.#logger.info(
        { file: this.file, sessions: state.sessions.length, retained: state.retained.length },
        'store opened',
      );
      return state;
    } catch (error) {
      db.close();
      throw error;
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
    if (this.#db === undefined) {
      done(
        this.#error(SqliteStoreErrors.CLOSED, this.#closed ? 'the store is closed' : 'the store is not open'),
      );
      return;
    }
    if (this.#durability === 'acknowledged' || this.#failure !== undefined || !this.writable) {
      done(this.#write());
      return;
    }
    // Interval durability: acknowledged now, written by the timer.
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#write();
    }, this.#intervalMs).unref();
    done(undefined);
  }

  async close(): Promise<void> {
    if (this.#db === undefined) {
      this.#closed = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const error = this.#write(false);
    this.#db.close();
    this.#db = undefined;
    this.#statements = undefined;
    this.#closed = true;
    if (error !== undefined) throw error;
  }

  /**
   * Writes the pending batch in one transaction. On failure the batch stays (every write in it is
   * an upsert or a delete, so writing it again is safe), the store turns not writable, and a timer
   * tries again every `retryMs` until the disk takes it.
   */
  #write(retry = true): SqliteStoreError | undefined {
    const db = this.#db;
    const statements = this.#statements;
    if (db === undefined || statements === undefined) return this.#failure;
    const batch = this.#pending;
    try {
      if (!batch.empty) writeBatch(statements, batch);
      else if (this.#failure !== undefined) statements.probe.run(Date.now()); // proves the disk writes again
    } catch (error) {
      if (db.inTransaction) {
        try {
          db.exec('ROLLBACK');
        } catch {
          // The transaction is gone with the failed COMMIT; nothing to roll back.
        }
      }
      const code = classify(error);
      const failure = this.#error(code, describe(code), error);
      if (this.#failure?.code !== code) {
        this.#logger.error(
          { file: this.file, code, err: error },
          'store write failed; publishes are refused until it works again',
        );
      }
      this.#failure = failure;
      if (retry) this.#retryLater();
      return failure;
    }
    this.#pending = new PendingBatch();
    if (this.#failure !== undefined) {
      this.#logger.warn({ file: this.file }, 'store writes again');
      this.#failure = undefined;
      // Give back what the WAL grew to while failing: a disk that was full may be nearly full still.
      try {
        db.pragma('wal_checkpoint(TRUNCATE)');
      } catch {
        // Not needed for correctness: the next automatic checkpoint does it.
      }
    }
    return undefined;
  }

  #retryLater(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#write() === undefined && !this.#pending.empty) this.#retryLater();
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

function prepare(db: Database.Database) {
  const deliveryColumns = 'flags, expires_at, subscription_ids, publish';
  return {
    db,
    deleteClient: clientDeleter(db),
    upsertSession: db.prepare(
      `INSERT OR REPLACE INTO sessions (client_id, protocol_version, expiry_interval, disconnected_at,
         will, will_delay, pending_will, pending_will_delay, pending_will_due)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    upsertSubscription: db.prepare('INSERT OR REPLACE INTO subscriptions VALUES (?, ?, ?, ?, ?, ?, ?)'),
    deleteSubscription: db.prepare('DELETE FROM subscriptions WHERE client_id = ? AND topic_filter = ?'),
    queue: db.prepare(
      `INSERT OR REPLACE INTO queue (client_id, seq, ${deliveryColumns}) VALUES (?, ?, ?, ?, ?, ?)`,
    ),
    dequeue: db.prepare('DELETE FROM queue WHERE client_id = ? AND seq = ?'),
    replaceInflight: db.prepare(
      `INSERT OR REPLACE INTO inflight (client_id, packet_id, sent_order, ${deliveryColumns}) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    // An update of a live flow (PUBREL) keeps its place in the sending order.
    upsertInflight: db.prepare(
      `INSERT INTO inflight (client_id, packet_id, sent_order, ${deliveryColumns}) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (client_id, packet_id) DO UPDATE SET flags = excluded.flags, expires_at = excluded.expires_at,
         subscription_ids = excluded.subscription_ids, publish = excluded.publish`,
    ),
    deleteInflight: db.prepare('DELETE FROM inflight WHERE client_id = ? AND packet_id = ?'),
    saveInbound: db.prepare('INSERT OR IGNORE INTO inbound_qos2 VALUES (?, ?)'),
    deleteInbound: db.prepare('DELETE FROM inbound_qos2 WHERE client_id = ? AND packet_id = ?'),
    saveRetained: db.prepare('INSERT OR REPLACE INTO retained VALUES (?, ?, ?)'),
    deleteRetained: db.prepare('DELETE FROM retained WHERE topic = ?'),
    saveSysInfo: db.prepare("INSERT OR REPLACE INTO meta VALUES ('sys_info', ?)"),
    probe: db.prepare("INSERT OR REPLACE INTO meta VALUES ('probed_at', ?)") as Statement,
  };
}

function flags(delivery: Delivery, released: boolean): number {
  return delivery.qos | (delivery.retain ? 4 : 0) | (released ? 8 : 0);
}

function ids(delivery: Delivery): string | null {
  const list = delivery.subscriptionIds;
  return list === undefined || list.length === 0 ? null : list.join(',');
}

function writeBatch(s: ReturnType<typeof prepare>, batch: PendingBatch): void {
  s.db.transaction(() => {
    for (const [clientId, client] of batch.clients) {
      if (client.deleted) s.deleteClient(clientId);
      const session = client.session;
      if (session !== undefined) {
        s.upsertSession.run(
          clientId,
          session.protocolVersion,
          session.expiryInterval,
          session.disconnectedAt,
          session.will === undefined ? null : encodeWill(session.will),
          session.will?.properties?.willDelayInterval ?? 0,
          session.pendingWill === undefined ? null : encodeWill(session.pendingWill.will),
          session.pendingWill?.will.properties?.willDelayInterval ?? 0,
          session.pendingWill?.dueAt ?? 0,
        );
      }
      for (const [topicFilter, sub] of client.subscriptions) {
        if (sub === null) s.deleteSubscription.run(clientId, topicFilter);
        else {
          s.upsertSubscription.run(
            clientId,
            topicFilter,
            sub.qos,
            sub.noLocal ? 1 : 0,
            sub.retainAsPublished ? 1 : 0,
            sub.retainHandling,
            sub.subscriptionIdentifier ?? null,
          );
        }
      }
      for (const [seq, delivery] of client.queue) {
        if (delivery === null) s.dequeue.run(clientId, seq);
        else {
          const m = delivery.message;
          s.queue.run(clientId, seq, flags(delivery, false), m.expiresAt, ids(delivery), encodeMessage(m));
        }
      }
      for (const [packetId, flow] of client.inflight) {
        if (flow === null) s.deleteInflight.run(clientId, packetId);
        else {
          const d = flow.delivery;
          (flow.replaces ? s.replaceInflight : s.upsertInflight).run(
            clientId,
            packetId,
            flow.order,
            flags(d, flow.released),
            d.message.expiresAt,
            ids(d),
            encodeMessage(d.message),
          );
        }
      }
      for (const [packetId, present] of client.inboundQos2) {
        (present ? s.saveInbound : s.deleteInbound).run(clientId, packetId);
      }
    }
    for (const [topic, message] of batch.retained) {
      if (message === null) s.deleteRetained.run(topic);
      else s.saveRetained.run(topic, message.expiresAt, encodeMessage(message));
    }
    if (batch.sysInfo !== undefined) s.saveSysInfo.run(JSON.stringify(batch.sysInfo));
  })();
}
