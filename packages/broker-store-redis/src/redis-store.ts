import type { ConnectionOptions } from 'node:tls';
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
import { Cluster, type ClusterNode, Redis, type RedisOptions } from 'ioredis';
import { RedisStoreError } from './errors.js';
import { loadSession, loadState } from './load.js';
import { encodeRetained, encodeSession, encodeSubscription, PendingRecord } from './records.js';
import { FORMAT_VERSION, StoreKeys, SYS_COUNTERS } from './redis-keys.js';
import { SessionLedger } from './session-ledger.js';
import { maskRedisUrl, parseRedisUrl } from './url.js';
import { type Command, WriteBatch } from './write-batch.js';

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /**
   * `redis[s]://[[username]:password@]host[:port][/db]` (`redis://127.0.0.1:6379`). `rediss://`
   * connects with TLS (see `tls`); the user and password are Redis ACL credentials. With `sentinels`
   * the host is ignored; with `cluster` it is the first node to ask for the cluster's layout.
   */
  url?: string;
  /** Prefix of every key, one per broker sharing a Redis (`mqtt:`). */
  prefix?: string;
  /** Where connection problems are logged (none). */
  logger?: Logger;
  /** Milliseconds `open()` waits for Redis before failing (10 000). */
  connectTimeout?: number;
  /** Milliseconds a commit waits for Redis' answer before it calls back with an error (10 000). */
  commitTimeout?: number;
  /**
   * Bytes of changes one commit may carry (64 MiB). Beyond it the changes are dropped and the commit
   * calls back with `BATCH_TOO_LARGE`: memory stays bounded whatever the broker records.
   */
  maxBatchBytes?: number;
  /**
   * The least milliseconds between two batches sent while most of what the broker records cancels
   * out within a batch (online subscribers acknowledging quickly), so those changes never reach
   * Redis. Commits the broker marks urgent, light loads and changes that do not cancel out go at
   * once whatever this is. 0: never wait. Default: 4.
   */
  commitWindowMs?: number;
  /** Longest delay between reconnection attempts, ms (2 000). */
  reconnectMax?: number;
  /** TLS options for `rediss://` (a `ca` for a private CA, client `cert`/`key`, `servername`…). */
  tls?: ConnectionOptions;
  /** Redis Sentinel: the sentinels to ask for the master of `name`. */
  sentinels?: Array<{ host: string; port: number }>;
  /** Redis Sentinel: the master group name (`mymaster`). */
  name?: string;
  /** Redis Sentinel: the sentinels' own credentials, when they have any. */
  sentinelUsername?: string;
  sentinelPassword?: string;
  /**
   * Redis Cluster: `true` to discover the cluster from the URL's host, or the nodes to start from
   * (`'host:port'` or `{ host, port }`). The database must be 0.
   */
  cluster?: boolean | Array<string | { host: string; port: number }>;
}

/** A commit waiting for Redis: its callback runs after those of every earlier commit. */
interface PendingCommit {
  done: (error: Error | undefined) => void;
  /** The session-level changes it carries: kept to write again if it fails. */
  sessions: SessionLedger;
  settled: boolean;
  error: Error | undefined;
}

/** A batch on its way to Redis: the commits it carries, and the timer that gives up on it. */
interface SentBatch {
  commits: PendingCommit[];
  timer: NodeJS.Timeout;
}

const DEFAULT_URL = 'redis://127.0.0.1:6379';

/**
 * A broker `Store` on Redis (one server, Sentinel or Cluster) through ioredis.
 *
 * ```ts
 * const store = new RedisStore({ url: 'redis://127.0.0.1:6379', prefix: 'mqtt:' });
 * const broker = new Broker({ store });
 * ```
 *
 * The change methods only record Redis commands in a write batch; `commit(done)` sends the batch
 * as one MULTI/EXEC transaction (on a cluster: one per session, all at once) and calls `done` once
 * Redis has answered, in the order the commits were made. One batch is on its way at a time: commits
 * made meanwhile fold into the next (see `#sendNext`). While Redis is unreachable `writable` is
 * false, message changes are not recorded and commits call back with `UNAVAILABLE`: the broker
 * refuses the publishes and their publishers send them again. Session-level changes (session
 * records, subscriptions), which the broker records once and never again, are kept until Redis
 * confirms them and written again at the next commit that reaches Redis (one is made as soon as
 * the connection is ready again).
 */
export class RedisStore implements Store {
  readonly name = 'redis';
  readonly commitsOnlyRecordedChanges = true;
  /** The ioredis connection (a `Cluster` on a cluster), for inspection; the store owns it. */
  readonly redis: Redis | Cluster;
  readonly #keys: StoreKeys;
  /** The URL with its credentials masked, for messages. */
  readonly #url: string;
  readonly #log: Logger;
  readonly #cluster: boolean;
  readonly #connectTimeout: number;
  readonly #commitTimeout: number;
  readonly #maxBatchBytes: number;
  #batch: WriteBatch;
  /** Commits not called back yet, oldest first. */
  readonly #commits: PendingCommit[] = [];
  /** Commits whose changes are in `#batch`, not sent yet. */
  #unsent: PendingCommit[] = [];
  /** The batch on its way to Redis, if one is. */
  #sending: SentBatch | undefined;
  readonly #pacer: CommitPacer;
  /** Client ids with a session record in Redis (loaded or saved since): a new one clears old keys. */
  readonly #known = new Set<string>();
  /** When each in-flight delivery was first saved, to restore them in sending order. */
  readonly #order = new WeakMap<Delivery, number>();
  #orderCounter = 0;
  /** Session-level changes since the last commit, recorded whether Redis is reachable or not. */
  #recorded = new SessionLedger();
  /** Session-level changes of commits that failed, written again at the next commit. */
  #unsaved = new SessionLedger();
  /** A change since the last commit was not recorded (Redis was unreachable): that commit fails. */
  #dropped = false;
  #opened = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  #errorWindow = 0;
  #errorsLogged = 0;

  constructor(options: RedisStoreOptions = {}) {
    const url = options.url ?? DEFAULT_URL;
    const address = parseRedisUrl(url);
    this.#url = maskRedisUrl(url);
    this.#keys = new StoreKeys(options.prefix ?? 'mqtt:');
    this.#log = options.logger ?? silentLogger;
    this.#connectTimeout = options.connectTimeout ?? 10_000;
    this.#commitTimeout = options.commitTimeout ?? 10_000;
    this.#maxBatchBytes = options.maxBatchBytes ?? 64 * 1024 * 1024;
    this.#pacer = new CommitPacer(options.commitWindowMs ?? 4, () => this.#sendNext());
    this.#batch = new WriteBatch(this.#maxBatchBytes);
    const reconnectMax = options.reconnectMax ?? 2_000;
    const connection: RedisOptions = {
      ...(address.username !== undefined ? { username: address.username } : {}),
      ...(address.password !== undefined ? { password: address.password } : {}),
      ...(address.tls ? { tls: { ...options.tls } } : {}),
      connectTimeout: Math.min(this.#connectTimeout, 10_000),
      // Nothing waits for a connection and nothing is sent twice: a command issued while Redis is
      // unreachable fails at once, and one whose answer was lost fails rather than being re-sent
      // after a reconnection (the broker decides what to write again).
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      lazyConnect: true,
    };
    const retry = (attempt: number) => Math.min(50 * 2 ** Math.min(attempt, 10), reconnectMax);
    if (options.cluster !== undefined && options.cluster !== false) {
      if (address.db !== 0) throw new RedisStoreError('BAD_OPTION', 'a Redis Cluster has database 0 only');
      const nodes: ClusterNode[] =
        options.cluster === true
          ? [{ host: address.host, port: address.port }]
          : options.cluster.map((n) => (typeof n === 'string' ? n : { host: n.host, port: n.port }));
      this.#cluster = true;
      this.redis = new Cluster(nodes, {
        redisOptions: connection,
        enableOfflineQueue: false,
        lazyConnect: true,
        clusterRetryStrategy: retry,
      });
    } else {
      this.#cluster = false;
      const sentinel =
        options.sentinels !== undefined
          ? {
              sentinels: options.sentinels,
              name: options.name ?? 'mymaster',
              ...(options.sentinelUsername !== undefined
                ? { sentinelUsername: options.sentinelUsername }
                : {}),
              ...(options.sentinelPassword !== undefined
                ? { sentinelPassword: options.sentinelPassword }
                : {}),
              ...(address.tls ? { enableTLSForSentinelMode: true } : {}),
              sentinelRetryStrategy: retry,
            }
          : { host: address.host, port: address.port };
      this.redis = new Redis({ ...connection, ...sentinel, db: address.db, retryStrategy: retry });
    }
    this.redis.on('error', (error: Error) => this.#warn('Redis connection error', error));
    this.redis.on('close', () => this.#connectionLost());
    this.redis.on('ready', () => {
      if (this.#opened) void this.#reconnected();
    });
  }

  /** False while Redis is not connected (or the store is closed): commits then fail at once. */
  get writable(): boolean {
    return this.#opened && !this.#closed && this.redis.status === 'ready';
  }

  /** The key prefix in use. */
  get prefix(): string {
    return this.#keys.prefix;
  }

  // ---- open ----------------------------------------------------------------------------------------

  async open(): Promise<StoredState> {
    if (this.#opened || this.#closed) throw new RedisStoreError('CLOSED', 'RedisStore.open() is called once');
    await this.#connect();
    try {
      await this.#checkFormat();
      const purge = new WriteBatch(Number.POSITIVE_INFINITY);
      const state = await loadState(this.redis, this.#keys, purge, this.#log, this.#order);
      if (!purge.empty) await this.#send(purge);
      for (const session of state.sessions) this.#known.add(session.clientId);
      this.#opened = true;
      this.#log.info(
        {
          store: this.name,
          url: this.#url,
          sessions: state.sessions.length,
          queued: count(state.sessions, (s) => s.queue.length),
          inflight: count(state.sessions, (s) => s.inflight.length),
          retained: state.retained.length,
        },
        'Redis store: state loaded',
      );
      return state;
    } catch (error) {
      this.redis.disconnect();
      throw error;
    }
  }

  /**
   * Reads one session as `open()` reads each, for a cluster node that takes it over from another
   * node sharing this store; from now on this store writes to that session's keys as its own.
   * Undefined when Redis holds no live session under that id.
   */
  async loadSession(clientId: string): Promise<StoredState['sessions'][number] | undefined> {
    const purge = new WriteBatch(Number.POSITIVE_INFINITY);
    const session = await loadSession(this.redis, this.#keys, clientId, purge, this.#log, this.#order);
    if (!purge.empty) await this.#send(purge);
    if (session !== undefined) this.#known.add(clientId);
    return session;
  }

  /**
   * Forgets that this store wrote a session (another node sharing the store took it over): a later
   * session under that id here starts from what Redis holds then.
   */
  releaseSession(clientId: string): void {
    this.#known.delete(clientId);
    this.#recorded.forget(clientId);
    this.#unsaved.forget(clientId);
  }

  /** Waits for a ready connection (retrying within `connectTimeout`). */
  async #connect(): Promise<void> {
    let last: Error | undefined;
    const onError = (error: Error) => {
      last = error;
    };
    this.redis.on('error', onError);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.redis.off('ready', onReady);
          this.redis.disconnect();
          const why = last ? `: ${last.message}` : '';
          reject(
            new RedisStoreError(
              'CONNECT_FAILED',
              `Redis at ${this.#url} not ready within ${this.#connectTimeout} ms${why}`,
              last,
            ),
          );
        }, this.#connectTimeout);
        const onReady = () => {
          clearTimeout(timer);
          resolve();
        };
        this.redis.once('ready', onReady);
        this.redis.connect().catch(() => {
          // Failed attempts are retried by ioredis until the timer above gives up.
        });
      });
    } finally {
      this.redis.off('error', onError);
    }
  }

  /** Stores the layout version in an empty store; refuses a layout this code does not know. */
  async #checkFormat(): Promise<void> {
    const stored = await this.redis.get(this.#keys.format);
    if (stored === null) {
      // One key at a time: on a cluster they live in different slots.
      const old =
        (await this.redis.exists(this.#keys.clients)) + (await this.redis.exists(this.#keys.retained));
      if (old > 0) {
        throw new RedisStoreError(
          'UNKNOWN_FORMAT',
          `Redis at ${this.#url} holds keys under "${this.#keys.prefix}" without a format version (an older RedisStore): ` +
            'delete them or use another prefix',
        );
      }
      await this.redis.set(this.#keys.format, String(FORMAT_VERSION));
      return;
    }
    const version = Number(stored);
    if (!Number.isInteger(version) || version > FORMAT_VERSION) {
      throw new RedisStoreError(
        'UNKNOWN_FORMAT',
        `Redis at ${this.#url} holds format ${JSON.stringify(stored)} under "${this.#keys.format}"; ` +
          `this RedisStore reads format ${FORMAT_VERSION} and older: upgrade the broker`,
      );
    }
  }

  // ---- changes: recorded in the write batch ---------------------------------------------------------

  /** The batch to record into, or undefined while Redis is unreachable (the commit fails anyway). */
  #into(): WriteBatch | undefined {
    if (this.redis.status === 'ready' && !this.#closed) return this.#batch;
    this.#dropped = true;
    return undefined;
  }

  saveSession(session: StoredSession): void {
    const id = session.clientId;
    const fresh = !this.#known.has(id);
    if (fresh) {
      this.#recorded.clear(id);
      this.#known.add(id);
    }
    this.#recorded.saveSession(session);
    const batch = this.#into();
    if (batch === undefined) return;
    // A session new to Redis starts from nothing, whatever an earlier one under this id left.
    if (fresh) for (const key of this.#keys.sessionKeys(id)) batch.del(id, key);
    batch.hset('clients', this.#keys.clients, id, encodeSession(session));
  }

  deleteSession(clientId: string): void {
    this.#recorded.clear(clientId);
    this.#known.delete(clientId);
    const batch = this.#into();
    if (batch === undefined) return;
    for (const key of this.#keys.sessionKeys(clientId)) batch.del(clientId, key);
    batch.hdel('clients', this.#keys.clients, clientId);
  }

  saveSubscription(clientId: string, subscription: SessionSubscription): void {
    this.#recorded.saveSubscription(clientId, subscription);
    this.#into()?.hset(
      clientId,
      this.#keys.subs(clientId),
      subscription.topicFilter,
      encodeSubscription(subscription),
    );
  }

  deleteSubscription(clientId: string, topicFilter: string): void {
    this.#recorded.deleteSubscription(clientId, topicFilter);
    this.#into()?.hdel(clientId, this.#keys.subs(clientId), topicFilter);
  }

  queueMessage(clientId: string, seq: number, delivery: Delivery): void {
    const batch = this.#into();
    if (batch === undefined) return;
    const record = new PendingRecord(
      delivery.message,
      delivery.qos,
      delivery.retain,
      seq,
      false,
      delivery.subscriptionIds,
    );
    batch.hset(clientId, this.#keys.queue(clientId), seq, record);
  }

  dequeueMessage(clientId: string, seq: number): void {
    this.#into()?.hdel(clientId, this.#keys.queue(clientId), seq);
  }

  saveInflight(clientId: string, packetId: number, delivery: Delivery, released: boolean): void {
    const batch = this.#into();
    if (batch === undefined) return;
    let order = this.#order.get(delivery);
    if (order === undefined) {
      // Epoch ms scaled, plus a counter: increasing across restarts and within a millisecond.
      order = Date.now() * 1024 + (this.#orderCounter++ % 1024);
      this.#order.set(delivery, order);
    }
    const record = new PendingRecord(
      delivery.message,
      delivery.qos,
      delivery.retain,
      order,
      released,
      delivery.subscriptionIds,
    );
    batch.hset(clientId, this.#keys.inflight(clientId), packetId, record);
  }

  deleteInflight(clientId: string, packetId: number): void {
    this.#into()?.hdel(clientId, this.#keys.inflight(clientId), packetId);
  }

  saveInboundQos2(clientId: string, packetId: number): void {
    this.#into()?.sadd(clientId, this.#keys.qos2in(clientId), packetId);
  }

  deleteInboundQos2(clientId: string, packetId: number): void {
    this.#into()?.srem(clientId, this.#keys.qos2in(clientId), packetId);
  }

  saveRetained(message: Message): void {
    // The running broker republishes `$SYS`; stale figures are not worth restoring.
    if (message.topic.startsWith('$SYS')) return;
    this.#into()?.hset('retained', this.#keys.retained, message.topic, encodeRetained(message));
  }

  deleteRetained(topic: string): void {
    this.#into()?.hdel('retained', this.#keys.retained, topic);
  }

  saveSysInfo(info: Readonly<SysInfo>): void {
    const batch = this.#into();
    if (batch === undefined) return;
    // Folded like every hash field: only the latest counters are sent.
    for (const name of SYS_COUNTERS) batch.hset('sys', this.#keys.sys, name, info[name]);
  }

  // ---- commit ----------------------------------------------------------------------------------------

  commit(done: (error: Error | undefined) => void, urgent = true): void {
    const entry: PendingCommit = {
      done,
      sessions: this.#recorded.take(),
      settled: false,
      error: undefined,
    };
    this.#commits.push(entry);
    this.#unsent.push(entry);
    if (urgent) this.#pacer.urgent();
    this.#sendNext();
  }

  /**
   * Sends what the commits not sent yet recorded, as one batch, unless a batch is on its way: the
   * commits made meanwhile then go together, folded, when Redis has answered it (so a message saved
   * and acknowledged within that time costs one HDEL and no record). The pacer may hold the batch a
   * few milliseconds more while most changes cancel out, unless a commit is urgent.
   */
  #sendNext(): void {
    if (this.#sending !== undefined || this.#unsent.length === 0) return;
    const ready = !this.#dropped && !this.#closed && this.redis.status === 'ready';
    if (ready && !this.#pacer.mayGo()) return;
    const entries = this.#unsent;
    this.#unsent = [];
    let batch = this.#batch;
    this.#batch = new WriteBatch(this.#maxBatchBytes);
    this.#dropped = false;
    const first = entries[0]!;
    if (!this.#unsaved.empty && ready) {
      // Session changes of failed commits go first, these commits' changes folded over them.
      const retry = this.#unsaved.take();
      const folded = new WriteBatch(this.#maxBatchBytes);
      retry.writeTo(folded, this.#keys);
      folded.absorb(batch);
      batch = folded;
      retry.append(first.sessions);
      first.sessions = retry;
    }
    const settleAll = (error: Error | undefined) => {
      for (const entry of entries) this.#settle(entry, error);
    };
    if (batch.overflow) {
      settleAll(
        new RedisStoreError(
          'BATCH_TOO_LARGE',
          `changes over ${this.#maxBatchBytes} bytes (maxBatchBytes) in one commit: not written`,
        ),
      );
      return;
    }
    if (!ready) {
      // Changes made meanwhile were not recorded: they are not durable.
      settleAll(this.#unavailable());
      return;
    }
    this.#pacer.handedOver(batch.changes, batch.rows());
    if (batch.empty) {
      settleAll(undefined);
      return;
    }
    // The batch is over when Redis answers, when it does not in time, or when the connection goes
    // (`#connectionLost`): whichever comes first ends it, and the next one may go.
    const finish = (error: Error | undefined) => {
      if (this.#sending !== sending) return;
      clearTimeout(sending.timer);
      this.#sending = undefined;
      settleAll(error);
      this.#sendNext();
    };
    const sending: SentBatch = {
      commits: entries,
      timer: setTimeout(
        () =>
          finish(
            new RedisStoreError(
              'WRITE_FAILED',
              `Redis did not answer a commit within ${this.#commitTimeout} ms`,
            ),
          ),
        this.#commitTimeout,
      ),
    };
    this.#sending = sending;
    this.#send(batch).then(
      () => finish(undefined),
      (error: Error) => finish(error),
    );
  }

  /**
   * Sends a batch as one MULTI/EXEC, or on a cluster as one per group (a session's keys share a
   * slot; the shared hashes have one each), and resolves once every transaction was answered.
   */
  async #send(batch: WriteBatch): Promise<void> {
    if (!this.#cluster) {
      checkExec(await this.redis.multi(batch.commands()).exec());
      return;
    }
    const groups = [...batch.byGroup().values()];
    const results = await Promise.allSettled(groups.map((commands) => this.#exec(commands)));
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  }

  async #exec(commands: Command[]): Promise<void> {
    checkExec(await this.redis.multi(commands).exec());
  }

  /** Marks a commit done; calls back every commit at the head of the line that is done. */
  #settle(entry: PendingCommit, error: Error | undefined): void {
    if (entry.settled) return;
    entry.settled = true;
    entry.error =
      error === undefined || error instanceof RedisStoreError
        ? error
        : new RedisStoreError('WRITE_FAILED', `Redis refused or lost a commit: ${error.message}`, error);
    if (entry.error !== undefined) this.#warn('Redis store: commit failed', entry.error);
    while (this.#commits.length > 0 && this.#commits[0]!.settled) {
      const head = this.#commits.shift()!;
      // In commit order, so what is kept for later stays in the order it was recorded.
      if (head.error !== undefined) this.#unsaved.append(head.sessions);
      else this.#unsaved.supersede(head.sessions);
      head.done(head.error);
    }
  }

  #unavailable(): RedisStoreError {
    if (this.#closed) return new RedisStoreError('CLOSED', 'the Redis store is closed');
    const status =
      this.redis.status === 'ready' ? 'was not connected when changes were made' : `is ${this.redis.status}`;
    return new RedisStoreError('UNAVAILABLE', `Redis at ${this.#url} ${status}: changes not written`);
  }

  // ---- connection events ---------------------------------------------------------------------------

  /** A connection closed: commits awaiting answers fail now rather than at the next reconnection. */
  #connectionLost(): void {
    if (this.#cluster && this.redis.status === 'ready') return;
    const sending = this.#sending;
    this.#sending = undefined;
    clearTimeout(sending?.timer);
    for (const entry of sending?.commits ?? []) {
      this.#settle(
        entry,
        new RedisStoreError('WRITE_FAILED', 'the Redis connection closed before the commit was answered'),
      );
    }
    // What was recorded since the last batch went will not be sent either: its commits fail now.
    if (!this.#batch.empty) {
      this.#batch = new WriteBatch(this.#maxBatchBytes);
      this.#dropped = true;
    }
    this.#sendNext();
  }

  async #reconnected(): Promise<void> {
    this.#log.info({ store: this.name, url: this.#url }, 'Redis store: connection ready again');
    try {
      // A Redis restarted without its data has lost every session: say so loudly.
      if ((await this.redis.exists(this.#keys.format)) === 0) {
        this.#log.error(
          { store: this.name, url: this.#url, key: this.#keys.format },
          'Redis store: the format key is gone: Redis lost the stored state (restarted without persistence?)',
        );
        await this.redis.set(this.#keys.format, String(FORMAT_VERSION));
      }
    } catch (error) {
      this.#warn('Redis store: check after reconnection failed', error as Error);
    }
    // Session changes that failed are written now, not whenever the broker next changes something.
    if (!this.#unsaved.empty && this.writable) {
      this.commit((error) => {
        if (error === undefined)
          this.#log.info({ store: this.name }, 'Redis store: unsaved session changes written');
      });
    }
  }

  /** Logs at most 10 lines a minute. */
  #warn(message: string, error: Error): void {
    const now = Date.now();
    if (now - this.#errorWindow > 60_000) {
      this.#errorWindow = now;
      this.#errorsLogged = 0;
    }
    if (this.#errorsLogged++ >= 10) return;
    this.#log.warn(
      { store: this.name, url: this.#url, error: error.message, code: (error as { code?: unknown }).code },
      message,
    );
  }

  // ---- close -----------------------------------------------------------------------------------------

  /** Commits what is pending, waits for every commit to be answered, and closes the connection. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#opened && this.redis.status === 'ready') {
        const error = await new Promise<Error | undefined>((resolve) => this.commit(resolve));
        if (error !== undefined) this.#warn('Redis store: last commit failed at close', error);
      }
      this.#closed = true;
      try {
        if (this.redis.status === 'ready') await this.redis.quit();
        else this.redis.disconnect();
      } catch {
        this.redis.disconnect();
      }
    })();
    return this.#closing;
  }
}

/** Throws the first error of an EXEC reply (a refused command, or a transaction Redis discarded). */
function checkExec(replies: Array<[Error | null, unknown]> | null): void {
  if (replies === null) throw new RedisStoreError('WRITE_FAILED', 'Redis discarded the transaction');
  for (const [error] of replies) {
    if (error) throw new RedisStoreError('WRITE_FAILED', `Redis refused a write: ${error.message}`, error);
  }
}

function count(
  sessions: StoredState['sessions'],
  of: (s: StoredState['sessions'][number]) => number,
): number {
  let n = 0;
  for (const s of sessions) n += of(s);
  return n;
}
