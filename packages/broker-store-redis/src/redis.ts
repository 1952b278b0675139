import type {
  Broker,
  ClientInfo as Client,
  Hook,
  Logger,
  Session,
  StoredClient,
  StoredMessage,
  StoredSubscription,
  SysInfo,
} from '@x/broker';
import { type Delivery, isExpired, type Message } from '@x/broker';
import type { ConnectPacket, SubscribePacket, UnsubscribePacket } from '@x/packets';
import { encodeDelivery, type QueueMirror, staleMirror, syncQueue } from './queue-mirror.js';
import { encodeClient, encodeMessage, encodeSubscription } from './records.js';
import { RedisClient } from './redis-client.js';
import { batched, StoreKeys, SYS_COUNTERS, strings } from './redis-keys.js';
import { type LoadedState, loadState } from './redis-load.js';
import type { RedisError, RespArg } from './resp.js';

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /** `redis://[[username]:password@]host[:port][/db]` (`redis://127.0.0.1:6379`). */
  url?: string;
  /** Prefix of every key, so that several brokers can share one Redis (`mqtt:`). */
  prefix?: string;
  /** Where connection problems are logged (the broker's logger). */
  logger?: Logger;
  /** Milliseconds `start()` waits for Redis before failing (10 000). */
  connectTimeout?: number;
  /**
   * Writes awaiting Redis' replies at most (100 000). Beyond it the store writes nothing more until
   * replies come: what changed stays marked (one mark per session, filter, packet id or topic), so
   * memory stays bounded while Redis is slow.
   */
  maxPending?: number;
  /**
   * Milliseconds between two writes of message state: in-flight messages and the persistent
   * sessions' queues (100). A QoS 1/2 flow completed within it is never written; a crash can lose
   * what changed within it (a graceful close loses nothing). Each write compares the queues that
   * changed (marked by `onMessageQueued` and the QoS notifications) with the stored ones.
   */
  syncInterval?: number;
  /** Longest delay between reconnection attempts, ms (5 000). */
  reconnectMax?: number;
}

/**
 * A persistence hook on Redis: sessions, subscriptions, in-flight and queued messages, retained
 * messages, the `$SYS` counters and the wills still owed (a delayed will waiting; after a crash, the
 * wills of the clients that were online) survive a restart of the broker.
 *
 * ```ts
 * const broker = new Broker();
 * const store = new RedisStore(broker, { url: 'redis://127.0.0.1:6379', prefix: 'mqtt:' });
 * broker.addHook(store).addHook(new AllowAllHook());
 * await broker.start(); // loads what was stored
 * // ...
 * await broker.close();
 * await store.close(); // waits for the last writes
 * ```
 *
 * Writes are behind, never on, the message path: notifications only mark what changed (a topic, a
 * client id, a packet id), and once per event-loop turn the store writes the current state of what
 * was marked, pipelined on one connection with no promise per message (in-flight and queued
 * messages every `syncInterval`). Because it writes state rather than replaying events, trouble
 * costs little: while Redis is slow the marks wait (bounded by the broker's own state), and after a
 * reconnection the whole state is written again; the broker carries on meanwhile, and failures
 * are logged.
 *
 * Keys (`prefix` first): `clients` (hash: client id → session), `subs:<id>` (hash: filter →
 * options), `queue:<id>` (list of messages), `inflight:<id>` (hash: packet id → message),
 * `retained` (hash: topic → message), `sys` (hash: counter → value).
 */
export class RedisStore implements Hook {
  readonly id = 'redis-store';
  /** The Redis connection (for inspection; the store owns it). */
  readonly redis: RedisClient;
  readonly #broker: Broker;
  readonly #log: Logger;
  readonly #prefix: string;
  readonly #keys: StoreKeys;
  readonly #syncInterval: number;
  readonly #maxPending: number;

  #loading: Promise<LoadedState> | undefined;
  /** Stored ids and retained topics found at start, checked once against what the broker kept. */
  #storedIds: string[] = [];
  #storedTopics: string[] = [];
  /** Ids that may have something in Redis though this process has not written them. */
  #maybeStored = new Set<string>();

  /** Sessions as last written: a different object under the same id is a new session. */
  readonly #written = new Map<string, Session>();
  readonly #queues = new Map<string, QueueMirror>();
  /** Packet ids in each written session's stored in-flight hash. */
  readonly #storedInflight = new Map<string, Set<number>>();
  /** When each in-flight delivery was first written, to restore them in order. */
  readonly #order = new WeakMap<Delivery, number>();
  #orderCounter = 0;

  // What changed since the last write (bounded by the broker's own state: one entry per id/topic).
  readonly #dirtySessions = new Set<string>();
  readonly #dirtySubs = new Map<string, Set<string>>();
  readonly #dirtyInflight = new Map<string, Set<number>>();
  readonly #dirtyRetained = new Set<string>();
  #dirtySys: Readonly<SysInfo> | undefined;
  /** Sessions whose queue may differ from the stored list. */
  readonly #dirtyQueues = new Set<string>();
  #lastSync = 0;
  #syncTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;

  #scheduled = false;
  #needsResync = false;
  #resyncing = false;
  #started = false;
  #closing: Promise<void> | undefined;
  #errorsLogged = 0;
  #errorsSuppressed = 0;
  #errorWindow = 0;

  constructor(broker: Broker, options: RedisStoreOptions = {}) {
    this.#broker = broker;
    this.#log = options.logger ?? broker.log;
    this.#prefix = options.prefix ?? 'mqtt:';
    this.#keys = new StoreKeys(this.#prefix);
    this.#syncInterval = options.syncInterval ?? 100;
    this.#maxPending = options.maxPending ?? 100_000;
    this.redis = new RedisClient({
      url: options.url,
      connectTimeout: options.connectTimeout,
      maxPending: this.#maxPending,
      reconnectMax: options.reconnectMax,
      onReady: () => this.#ready(),
      onLost: (lost) => this.#lost(lost),
      onError: (error) => this.#error(error),
    });
  }

  /** The key prefix in use. */
  get prefix(): string {
    return this.#prefix;
  }

  // ---- loaders (called once each by `Broker.start`) ----------------------------------------------

  async onStoredClients(): Promise<StoredClient[]> {
    return (await this.#load()).clients;
  }

  async onStoredSubscriptions(): Promise<StoredSubscription[]> {
    return (await this.#load()).subscriptions;
  }

  async onStoredRetainedMessages(): Promise<StoredMessage[]> {
    return (await this.#load()).retained;
  }

  async onStoredQueuedMessages(): Promise<Array<StoredMessage & { clientId: string }>> {
    return (await this.#load()).queued;
  }

  /**
   * Unacknowledged outbound QoS 1/2 messages with their packet ids, re-sent with DUP (or as PUBREL)
   * when their sessions resume.
   */
  async onStoredInflightMessages(): Promise<
    Array<StoredMessage & { clientId: string; packetId: number; pubrel: boolean }>
  > {
    return (await this.#load()).inflight;
  }

  async onStoredSysInfo(): Promise<Partial<SysInfo> | undefined> {
    return (await this.#load()).sys;
  }

  // ---- notifications: mark what changed, write it later -----------------------------------------

  onStarted(): void {
    this.#started = true;
    // The broker now holds the restored state (expired sessions and messages left out, in-flight
    // messages moved into the queues): write it back once, and delete what it dropped.
    for (const id of this.#storedIds) {
      this.#dirtySessions.add(id);
      this.#maybeStored.add(id);
    }
    for (const session of this.#broker.sessions.values()) this.#dirtySessions.add(session.clientId);
    for (const topic of this.#storedTopics) {
      if (this.#broker.retained.get(topic) === undefined) this.#dirtyRetained.add(topic);
    }
    this.#storedIds = [];
    this.#storedTopics = [];
    this.#schedule();
  }

  onSessionEstablished(client: Client, _packet: ConnectPacket): void {
    this.#dirtySessions.add(client.id);
    this.#markQueue(client.id);
  }

  onDisconnect(client: Client): void {
    if (client.id === '') return;
    this.#dirtySessions.add(client.id);
    this.#markQueue(client.id);
  }

  /** A will went out (or a delayed one ended with its session): the record must no longer carry it. */
  onWillSent(clientId: string): void {
    this.#dirtySessions.add(clientId);
    this.#schedule();
  }

  onClientExpired(clientId: string): void {
    this.#dirtySessions.add(clientId);
    this.#schedule();
  }

  onSubscribed(client: Client, packet: SubscribePacket): void {
    // A session not written yet gets its subscriptions with its first write; clean ones never do.
    if (!this.#written.has(client.id)) return;
    const filters = this.#subsOf(client.id);
    for (const s of packet.subscriptions) filters.add(s.topicFilter);
    this.#schedule();
  }

  onUnsubscribed(client: Client, packet: UnsubscribePacket): void {
    if (!this.#written.has(client.id)) return;
    const filters = this.#subsOf(client.id);
    for (const f of packet.topicFilters) filters.add(f);
    this.#schedule();
  }

  onMessageQueued(clientId: string, _delivery: Delivery, requeued: boolean): void {
    if (!this.#queues.has(clientId)) return; // not written yet: its first write carries the queue
    // Put back at the tail (packet ids ran out): the comparison by head and length cannot see it.
    if (requeued) this.#queues.set(clientId, staleMirror());
    this.#markQueue(clientId);
  }

  onPublishDropped(clientId: string): void {
    // A delivery taken from the queue may be dropped (expired, too large) instead of sent.
    if (this.#queues.has(clientId)) this.#markQueue(clientId);
  }

  onQosPublish(clientId: string, packetId: number): void {
    this.#inflightChanged(clientId, packetId);
  }

  onQosPubrec(clientId: string, packetId: number): void {
    // Stored with its PUBREL state, so that a crash after it resumes with PUBREL [MQTT-4.4.0-1].
    this.#inflightChanged(clientId, packetId);
  }

  onQosComplete(clientId: string, packetId: number): void {
    this.#inflightChanged(clientId, packetId);
  }

  onQosDropped(clientId: string, packetId: number): void {
    this.#inflightChanged(clientId, packetId);
  }

  onRetainPublished(_client: Client | undefined, message: Message): void {
    // `$SYS` figures are republished by the running broker; stale ones are not worth restoring.
    if (message.topic.startsWith('$')) return;
    this.#dirtyRetained.add(message.topic);
    this.#schedule();
  }

  onRetainedExpired(topic: string): void {
    this.#dirtyRetained.add(topic);
    this.#schedule();
  }

  onSysInfoTick(info: Readonly<SysInfo>): void {
    this.#dirtySys = info;
    this.#schedule();
  }

  onStopped(): void {
    void this.close();
  }

  // ---- flushing -----------------------------------------------------------------------------------

  /** Writes everything changed so far and resolves once Redis has answered every write. */
  async flush(timeout = 10_000): Promise<void> {
    await this.#drain(Date.now() + timeout);
  }

  /**
   * Writes what is left, waits (at most `timeout` ms) for Redis to answer, and closes the
   * connection. Called by the broker's `onStopped`; await it for a graceful shutdown.
   */
  close(timeout = 5_000): Promise<void> {
    this.#closing ??= (async () => {
      const deadline = Date.now() + timeout;
      await this.#drain(deadline);
      if (this.#started && this.#marked()) {
        this.#log.warn(
          { store: this.id, redisReady: this.redis.ready, sessions: this.#dirtySessions.size },
          'Redis store: closed with changes not written (Redis unreachable or too slow)',
        );
      }
      clearTimeout(this.#syncTimer);
      clearTimeout(this.#retryTimer);
      await this.redis.close(Math.max(0, deadline - Date.now()));
    })();
    return this.#closing;
  }

  #subsOf(clientId: string): Set<string> {
    let filters = this.#dirtySubs.get(clientId);
    if (filters === undefined) {
      filters = new Set();
      this.#dirtySubs.set(clientId, filters);
    }
    return filters;
  }

  #inflightChanged(clientId: string, packetId: number): void {
    // Clean sessions (most of the traffic, usually) cost one lookup here and nothing more.
    if (!this.#written.has(clientId)) return;
    let ids = this.#dirtyInflight.get(clientId);
    if (ids === undefined) {
      ids = new Set();
      this.#dirtyInflight.set(clientId, ids);
    }
    ids.add(packetId);
    // A sent message may have come from the queue, and a completed flow lets the queue drain.
    this.#markQueue(clientId);
  }

  #markQueue(clientId: string): void {
    this.#dirtyQueues.add(clientId);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled || !this.#started || this.#closing !== undefined) return;
    this.#scheduled = true;
    setImmediate(this.#onTick);
  }

  #onTick = (): void => {
    this.#scheduled = false;
    try {
      this.#write(false);
    } catch (error) {
      // A bug here must not take the broker down with it.
      this.#log.error({ store: this.id, error: (error as Error).message }, 'Redis store: write failed');
    }
  };

  /**
   * Turns what was marked into pipelined writes of the current state. Stops while `maxPending`
   * writes await replies, leaving the rest marked for when Redis has caught up (backpressure: the
   * marks are bounded by the broker's own state, so nothing grows while Redis is slow).
   */
  #write(force: boolean): void {
    if (!this.redis.ready || this.#resyncing) return;
    if (this.#needsResync) {
      void this.#resync();
      return;
    }
    if (!this.#writeMarked(force)) this.#retryLater();
  }

  /** Returns false when it stopped for lack of room. */
  #writeMarked(force: boolean): boolean {
    for (const id of this.#dirtySessions) {
      if (!this.#writeSession(id)) return false;
      this.#dirtySessions.delete(id);
    }
    for (const [id, filters] of this.#dirtySubs) {
      if (!this.#writeSubscriptions(id, filters)) return false;
      this.#dirtySubs.delete(id);
    }
    // Message state (in-flight and queued messages) goes at most every `syncInterval`: most QoS 1/2
    // flows complete within it and then cost Redis nothing at all.
    if (this.#dirtyInflight.size > 0 || this.#dirtyQueues.size > 0) {
      const wait = this.#lastSync + this.#syncInterval - Date.now();
      if (force || wait <= 0) {
        this.#lastSync = Date.now();
        // In-flight before queues: a message moving from one to the other is never in neither.
        for (const [id, packetIds] of this.#dirtyInflight) {
          if (!this.#writeInflight(id, packetIds)) return false;
          this.#dirtyInflight.delete(id);
        }
        if (!this.#syncQueues()) return false;
      } else if (this.#syncTimer === undefined) {
        this.#syncTimer = setTimeout(() => {
          this.#syncTimer = undefined;
          this.#schedule();
        }, wait);
        this.#syncTimer.unref();
      }
    }
    for (const topic of this.#dirtyRetained) {
      if (!this.#writeRetained(topic)) return false;
      this.#dirtyRetained.delete(topic);
    }
    if (this.#dirtySys !== undefined) {
      const args: RespArg[] = ['HSET', this.#keys.sys];
      for (const name of SYS_COUNTERS) args.push(name, this.#dirtySys[name]);
      if (!this.redis.send(args)) return false;
      this.#dirtySys = undefined;
    }
    return true;
  }

  /** True when something is marked and not written yet. */
  #marked(): boolean {
    return (
      this.#needsResync ||
      this.#resyncing ||
      this.#dirtySessions.size > 0 ||
      this.#dirtySubs.size > 0 ||
      this.#dirtyInflight.size > 0 ||
      this.#dirtyRetained.size > 0 ||
      this.#dirtyQueues.size > 0 ||
      this.#dirtySys !== undefined
    );
  }

  /** Writes until nothing is marked and Redis has answered, Redis is gone, or the deadline passes. */
  async #drain(deadline: number): Promise<void> {
    while (this.#started && this.redis.ready && Date.now() < deadline) {
      this.#write(true);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.redis.idle(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        }),
      ]);
      clearTimeout(timer);
      if (!this.#marked()) return;
      // A resync may be between its reads and its writes: let it run.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  #retryLater(): void {
    if (this.#retryTimer !== undefined || this.#closing !== undefined) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#onTick();
    }, 20);
    this.#retryTimer.unref();
  }

  /** A session's current state, or undefined when it is not (or no longer) persistent. */
  #persistent(clientId: string): Session | undefined {
    // Transitional: this store reads the broker's sessions until it moves to the Store interface.
    const session = this.#broker.sessions.get(clientId) as Session | undefined;
    return session !== undefined && session.expiryInterval > 0 ? session : undefined;
  }

  /**
   * Writes a session's record. A session not written before under this id (new, or replacing one
   * ended by a clean start) is written whole, replacing what was stored, in one transaction; a gone
   * or non-persistent one is deleted. Returns false, writing nothing, when there is no room.
   */
  #writeSession(clientId: string): boolean {
    const session = this.#persistent(clientId);
    if (session === undefined) {
      // Clean sessions come and go without touching Redis unless something was stored for them.
      if (this.#written.has(clientId) || this.#maybeStored.has(clientId)) {
        const commands = [
          ['HDEL', this.#keys.clients, clientId],
          ['DEL', this.#keys.subs(clientId), this.#keys.queue(clientId), this.#keys.inflight(clientId)],
        ];
        if (!this.redis.sendAll(commands)) return false;
      }
      this.#written.delete(clientId);
      this.#storedInflight.delete(clientId);
      this.#maybeStored.delete(clientId);
      this.#queues.delete(clientId);
      return true;
    }
    const record = this.#clientRecord(session);
    if (this.#written.get(clientId) === session) {
      return this.redis.send(['HSET', this.#keys.clients, clientId, record]);
    }
    const tx: RespArg[][] = [
      ['MULTI'],
      ['DEL', this.#keys.subs(clientId), this.#keys.queue(clientId), this.#keys.inflight(clientId)],
    ];
    tx.push(['HSET', this.#keys.clients, clientId, record]);
    const subs: RespArg[] = [];
    for (const sub of session.subscriptions.values()) subs.push(sub.topicFilter, encodeSubscription(sub));
    batched(tx, 'HSET', this.#keys.subs(clientId), subs);
    const inflight: RespArg[] = [];
    for (const entry of session.inflight.values()) {
      inflight.push(entry.packetId, this.#inflightRecord(entry.delivery, entry.state === 'pubrel'));
    }
    batched(tx, 'HSET', this.#keys.inflight(clientId), inflight);
    const items = [...session.queue];
    batched(tx, 'RPUSH', this.#keys.queue(clientId), items.map(encodeDelivery));
    tx.push(['EXEC']);
    if (!this.redis.sendAll(tx)) return false;
    this.#maybeStored.delete(clientId);
    this.#written.set(clientId, session);
    this.#storedInflight.set(clientId, new Set(Array.from(session.inflight.values(), (e) => e.packetId)));
    this.#queues.set(clientId, { items, head: 0 });
    // Written whole: the finer marks of this session are covered.
    this.#dirtySubs.delete(clientId);
    this.#dirtyInflight.delete(clientId);
    return true;
  }

  #clientRecord(session: Session): string {
    const online = session.client !== undefined;
    const disconnectedAt =
      online || session.expiresAt === 0 ? Date.now() : session.expiresAt - session.expiryInterval * 1000;
    // A crash must not lose a will: the delayed one waiting, or the connection's own while online.
    const will =
      session.pendingWill !== undefined
        ? { will: session.pendingWill, dueAt: session.willDueAt }
        : online && session.will !== undefined
          ? { will: session.will, dueAt: undefined }
          : undefined;
    return encodeClient(session.protocolVersion, session.expiryInterval, disconnectedAt, online, will);
  }

  #writeSubscriptions(clientId: string, filters: Set<string>): boolean {
    const session = this.#persistent(clientId);
    // Not written yet: the session's own write (already marked) carries its subscriptions.
    if (session === undefined || this.#written.get(clientId) !== session) return true;
    const key = this.#keys.subs(clientId);
    for (const filter of filters) {
      const sub = session.subscriptions.get(filter);
      const sent =
        sub === undefined
          ? this.redis.send(['HDEL', key, filter])
          : this.redis.send(['HSET', key, filter, encodeSubscription(sub)]);
      if (!sent) return false;
      filters.delete(filter);
    }
    return true;
  }

  #writeInflight(clientId: string, packetIds: Set<number>): boolean {
    const session = this.#persistent(clientId);
    if (session === undefined || this.#written.get(clientId) !== session) return true;
    const key = this.#keys.inflight(clientId);
    const stored = this.#storedInflight.get(clientId)!;
    for (const packetId of packetIds) {
      const entry = session.inflight.get(packetId);
      if (entry === undefined) {
        // Sent and acknowledged between two writes: Redis never saw it.
        if (stored.has(packetId) && !this.redis.send(['HDEL', key, packetId])) return false;
        stored.delete(packetId);
      } else {
        const record = this.#inflightRecord(entry.delivery, entry.state === 'pubrel');
        if (!this.redis.send(['HSET', key, packetId, record])) return false;
        stored.add(packetId);
      }
      packetIds.delete(packetId);
    }
    return true;
  }

  #inflightRecord(delivery: Delivery, released: boolean): Buffer {
    let order = this.#order.get(delivery);
    if (order === undefined) {
      // Epoch ms scaled, plus a counter: increasing across restarts and within a millisecond.
      order = Date.now() * 1024 + (this.#orderCounter++ % 1024);
      this.#order.set(delivery, order);
    }
    return encodeMessage(
      delivery.message,
      delivery.qos,
      delivery.retain,
      order,
      released,
      delivery.subscriptionIds,
    );
  }

  /** Brings each marked stored queue in line with its session's queue (see `syncQueue`). */
  #syncQueues(): boolean {
    for (const clientId of this.#dirtyQueues) {
      const mirror = this.#queues.get(clientId);
      const session = this.#written.get(clientId);
      // Not written (yet), or replaced: the session's own write carries its queue.
      if (mirror !== undefined && session !== undefined && this.#broker.sessions.get(clientId) === session) {
        const next = syncQueue(this.redis, this.#keys.queue(clientId), session.queue, mirror);
        if (next === false) return false;
        if (next !== mirror) this.#queues.set(clientId, next);
      }
      this.#dirtyQueues.delete(clientId);
    }
    return true;
  }

  #writeRetained(topic: string): boolean {
    const key = this.#keys.retained;
    const message = this.#broker.retained.get(topic);
    if (message === undefined || isExpired(message, Date.now())) return this.redis.send(['HDEL', key, topic]);
    return this.redis.send(['HSET', key, topic, encodeMessage(message, message.qos, true)]);
  }

  // ---- connection events --------------------------------------------------------------------------

  #ready(): void {
    if (!this.#started) return;
    // Reconnected: the server may have restarted without persistence, or lost writes in flight;
    // writing the state again costs one pass and makes either harmless.
    this.#log.info({ store: this.id }, 'Redis connection ready again');
    this.#needsResync = true;
    void this.#resync();
  }

  #lost(lost: number): void {
    // Unanswered writes may or may not have been applied: write the whole state again.
    if (lost > 0) this.#needsResync = true;
  }

  /** Logs errors, at most 10 lines per minute; the rest are counted in the next line. */
  #error(error: RedisError): void {
    const now = Date.now();
    if (now - this.#errorWindow > 60_000) {
      this.#errorWindow = now;
      this.#errorsLogged = 0;
    }
    if (this.#errorsLogged >= 10) {
      this.#errorsSuppressed++;
      return;
    }
    this.#errorsLogged++;
    const suppressed = this.#errorsSuppressed;
    this.#errorsSuppressed = 0;
    this.#log.warn(
      { store: this.id, code: error.code, replyCode: error.replyCode, ...(suppressed ? { suppressed } : {}) },
      `Redis store: ${error.message}`,
    );
  }

  /**
   * Writes the whole state again after writes were lost or refused: every session and retained
   * message the broker holds, and deletions of what Redis holds beyond it.
   */
  async #resync(): Promise<void> {
    if (this.#resyncing) return;
    this.#resyncing = true;
    try {
      const [ids, topics] = await Promise.all([
        this.redis.command(['HKEYS', this.#keys.clients]),
        this.redis.command(['HKEYS', this.#keys.retained]),
      ]);
      this.#needsResync = false;
      this.#written.clear();
      this.#storedInflight.clear();
      this.#queues.clear();
      this.#dirtyQueues.clear();
      this.#dirtySubs.clear();
      this.#dirtyInflight.clear();
      for (const id of strings(ids)) {
        this.#dirtySessions.add(id);
        this.#maybeStored.add(id);
      }
      for (const session of this.#broker.sessions.values()) this.#dirtySessions.add(session.clientId);
      for (const topic of strings(topics)) this.#dirtyRetained.add(topic);
      for (const message of this.#broker.retained.all()) this.#dirtyRetained.add(message.topic);
      this.#log.warn(
        { store: this.id, sessions: this.#dirtySessions.size, retained: this.#dirtyRetained.size },
        'Redis store: writing the whole state again (reconnected, or writes were lost or refused)',
      );
    } catch (error) {
      this.#error(error as RedisError);
      // Still connected (e.g. too many pending replies): try again shortly.
      if (this.redis.ready) this.#retryLater();
      return;
    } finally {
      this.#resyncing = false;
    }
    this.#write(true);
  }

  // ---- loading ------------------------------------------------------------------------------------

  #load(): Promise<LoadedState> {
    this.#loading ??= (async () => {
      await this.redis.connect();
      const slice = Math.max(1, Math.min(1000, Math.floor(this.#maxPending / 3)));
      const state = await loadState(
        this.redis,
        this.#keys,
        (what, name, error) => this.#skip(what, name, error),
        slice,
      );
      this.#storedIds = state.storedIds;
      this.#storedTopics = state.storedTopics;
      this.#log.info(
        {
          store: this.id,
          sessions: state.clients.length,
          subscriptions: state.subscriptions.length,
          queued: state.queued.length,
          inflight: state.inflight.length,
          retained: state.retained.length,
        },
        'Redis store: state loaded',
      );
      return state;
    })();
    return this.#loading;
  }

  #skip(what: string, name: string, error: unknown): void {
    this.#log.warn(
      { store: this.id, error: (error as Error).message },
      `Redis store: stored ${what} ${JSON.stringify(name)} is malformed and was skipped`,
    );
  }
}
