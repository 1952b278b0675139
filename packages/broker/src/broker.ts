import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { type Packet, type Properties, type QoS, ReasonCode } from '@x/packets';
import { SubscriptionTrie, validateTopicName } from '@x/topics';
import { AuthThrottle } from './auth-throttle.js';
import { Client } from './client.js';
import type { ClientInfo, ClientState } from './client-info.js';
import { type BrokerContext, wireContext } from './context.js';
import { diagnostics } from './diagnostics.js';
import { BrokerError } from './errors.js';
import { dispatch } from './handlers/index.js';
import { type Hook, Hooks } from './hooks.js';
import { InlineClient, InlineSubscriptions } from './inline.js';
import type { ConnectionInfo, Listener } from './listeners/listener.js';
import { consoleLogger, type Logger } from './logger.js';
import type { Message } from './message.js';
import { type BrokerOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { WriteScheduler } from './output.js';
import { Persistence } from './persistence.js';
import { createMessage } from './pipeline.js';
import { RefusalLog } from './refusal-log.js';
import { RetainedStore } from './retained.js';
import type { SessionRegistry, SessionsView } from './sessions.js';
import type { Store, StoredState } from './storage.js';
import { newSysInfo, publishSysTopics, type SysInfo } from './system.js';

export const BROKER_VERSION = '0.0.0';

/**
 * Where a broker is in its life: `new` until `start()`, `starting` while stored state loads and the
 * listeners open, `running`, `closing` from `close()` until every listener has closed, `closed`.
 */
export type BrokerState = 'new' | 'starting' | 'running' | 'closing' | 'closed';

/** Options of `Broker.publish`. */
export interface PublishOptions {
  /** Default 0. */
  qos?: QoS;
  /** Default false. */
  retain?: boolean;
  /** v5 properties (message expiry, content type, response topic, user properties, …). */
  properties?: Properties;
}

/** What the host application sees of the retained messages. */
export interface RetainedView {
  readonly size: number;
  get(topic: string): Message | undefined;
  /** The retained messages whose topic matches a filter (expired ones are removed on the way). */
  match(topicFilter: string, now: number): Message[];
  /** Every retained message except those of `$` topics. */
  all(): Message[];
}

/**
 * An embeddable MQTT 5 / 3.1.1 / 3.1 broker: the facade the host application uses. Its parts
 * (connections, handlers, router, session registry) work on a narrow {@link BrokerContext}, never
 * on this class.
 *
 * ```ts
 * const broker = new Broker();
 * broker.addHook(new AllowAllHook());
 * broker.addListener(new TcpListener({ port: 1883 }));
 * await broker.start();
 * broker.publish('hello', 'world');
 * await broker.close();
 * ```
 */
export class Broker {
  /** The options in force (defaults filled in). */
  readonly options: Readonly<ResolvedOptions>;
  readonly log: Logger;
  /** The host application's own client: subscribe with callbacks, publish without ACL. */
  readonly inline: InlineClient;

  readonly #ctx: BrokerContext;
  readonly #hooks = new Hooks();
  readonly #stats: SysInfo = newSysInfo(BROKER_VERSION);
  readonly #sessions: SessionRegistry;
  readonly #subscriptions = new SubscriptionTrie<string>();
  readonly #retained: RetainedStore;
  readonly #persistence: Persistence;
  readonly #listeners: Listener[] = [];
  /** Every open connection, CONNECTed or not (for the sweep and for close). */
  readonly #connections = new Set<Client>();
  #connectedCount = 0;
  #sweepTimer: NodeJS.Timeout | undefined;
  #sysTimer: NodeJS.Timeout | undefined;
  readonly #refusals: RefusalLog;
  #state: BrokerState = 'new';

  constructor(options: BrokerOptions = {}) {
    const resolved = resolveOptions(options);
    this.options = resolved;
    this.log = options.logger ?? consoleLogger('warn');
    this.#refusals = new RefusalLog(this.log);
    const hooks = this.#hooks;
    const persistence = new Persistence(options.store, true, this.log, this.#stats, resolved.sysSaveInterval);
    this.#persistence = persistence;
    this.#retained = new RetainedStore((topic) => {
      persistence.retainedDeleted(topic);
      for (const h of hooks.on.onRetainedExpired) h.onRetainedExpired!(topic);
    });
    const inline = new InlineSubscriptions();
    const ctx = wireContext(
      {
        options: resolved,
        log: this.log,
        hooks,
        stats: this.#stats,
        subscriptions: this.#subscriptions,
        retained: this.#retained,
        output: new WriteScheduler(resolved.maxBytesPerTick),
        persistence,
        inline,
        authThrottle: resolved.authThrottle ? new AuthThrottle(resolved.authThrottle, this.log) : undefined,
        clientConnected: () => {
          if (++this.#connectedCount > this.#stats.clientsMaximum)
            this.#stats.clientsMaximum = this.#connectedCount;
        },
        connectionClosed: (
          client: Client,
          wasState: ClientState,
          reasonCode: number,
          error: Error | undefined,
        ) => this.#connectionClosed(client, wasState, reasonCode, error),
      },
      `${resolved.clientIdPrefix}${randomBytes(4).toString('hex')}-`,
    );
    this.#ctx = ctx;
    this.#sessions = ctx.sessions;
    this.inline = new InlineClient(
      { retained: this.#retained, publish: (topic, payload, o) => this.publish(topic, payload, o) },
      inline,
    );
  }

  /** Adds a hook; hooks run in the order added. */
  addHook(hook: Hook): this {
    this.#hooks.add(hook);
    return this;
  }

  /**
   * Takes out a hook added before; false when it was not there. A hook may remove itself while one
   * of its methods runs: the current event still finishes with the hooks it started with.
   */
  removeHook(hook: Hook): boolean {
    return this.#hooks.remove(hook);
  }

  /** True when some added hook implements `event` (e.g. to check that authentication is set up). */
  hasHook(event: keyof Hook): boolean {
    return event !== 'id' && this.#hooks.has(event);
  }

  /** Adds a listener; it starts listening now when the broker is already started. */
  async addListener(listener: Listener): Promise<void> {
    if (this.#listeners.some((l) => l.id === listener.id)) {
      throw new BrokerError('LISTENER_EXISTS', `'${listener.id}'`);
    }
    this.#listeners.push(listener);
    // While starting, start() reaches listeners added to the array in its own loop.
    if (this.#state === 'running') await listener.listen(this.accept, this.#refused);
  }

  get listeners(): readonly Listener[] {
    return this.#listeners;
  }

  /** Where the broker is in its life. */
  get state(): BrokerState {
    return this.#state;
  }

  /**
   * Ready for traffic (readiness probes): running, and its store (if any) can write — while it
   * cannot, QoS 1/2 publishes are refused rather than acknowledged and lost.
   */
  get ready(): boolean {
    // The store's own `writable` says when it recovers; a failed commit alone does not keep the
    // broker unready (with no traffic there would be no next commit to clear it).
    return this.#state === 'running' && this.#persistence.writable;
  }

  /** The store given in the options, if any. */
  get store(): Store | undefined {
    return this.#persistence.store;
  }

  /** Every session, online or not (read-only). */
  get sessions(): SessionsView {
    return this.#sessions;
  }

  /** The retained messages (read-only; delete with `deleteRetained`). */
  get retained(): RetainedView {
    return this.#retained;
  }

  /** Distinct (client, filter) subscriptions. */
  get subscriptionCount(): number {
    return this.#subscriptions.size;
  }

  /** Loads stored state (storage hooks), starts the listeners and the timers. */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new BrokerError('NOT_STARTABLE', `it is ${this.#state}`);
    this.#state = 'starting';
    try {
      const store = this.#persistence.store;
      if (store !== undefined) this.#restoreStore(await store.open());
    } catch (error) {
      this.#state = 'closed';
      throw error;
    }
    this.#stats.started = Date.now();
    // The store has these figures (loaded, or none yet for a new store): until they change, the
    // $SYS rounds commit nothing.
    if (this.#persistence.store !== undefined) this.#persistence.sysInfoStored(this.refreshStats());
    try {
      for (const listener of this.#listeners) await listener.listen(this.accept, this.#refused);
    } catch (error) {
      // A listener that cannot listen (port in use…) leaves nothing half-started behind.
      await Promise.all(this.#listeners.map((l) => l.close().catch(() => {})));
      // Nor an open store: its connections (Redis) would keep the process alive after the error.
      await this.#persistence.store?.close().catch(() => {});
      this.#state = 'closed';
      throw error;
    }
    if (this.#state !== 'starting') return; // closed while starting
    this.#state = 'running';
    this.#sweepTimer = setInterval(() => this.#sweep(), this.options.sweepInterval);
    this.#sweepTimer.unref();
    if (this.options.sysInterval > 0) {
      this.#sysTimer = setInterval(() => {
        const info = this.refreshStats();
        publishSysTopics(info, (t, p, o) => this.publish(t, p, o), this.#hooks);
        this.#persistence.sysInfo(info);
      }, this.options.sysInterval);
      this.#sysTimer.unref();
    }
    if (!this.#hooks.has('onConnectAuthenticate')) {
      this.log.warn(
        {},
        'no authentication hook installed: every connection will be refused (add AllowAllHook or an auth hook)',
      );
    }
    for (const h of this.#hooks.on.onStarted) h.onStarted!();
  }

  /**
   * Stops gracefully: listeners stop accepting, v5 clients get DISCONNECT 0x8B (Server shutting
   * down), wills of closed connections are published, then the timers stop.
   */
  async close(): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    this.#state = 'closing';
    // Stop accepting first; a listener's close completes only once its connections are gone.
    const listenersClosed = Promise.all(this.#listeners.map((l) => l.close()));
    // Wills first, while every subscriber is still connected to receive them.
    this.#sessions.publishConnectedWills();
    for (const client of [...this.#connections]) {
      client.disconnect(ReasonCode.ServerShuttingDown, 'server shutting down');
    }
    this.#sessions.publishPendingWills();
    clearInterval(this.#sweepTimer);
    clearInterval(this.#sysTimer);
    this.#refusals.close();
    this.#ctx.output.flush();
    await listenersClosed;
    const store = this.#persistence.store;
    if (store !== undefined) {
      this.#persistence.sysInfo(this.refreshStats());
      await this.#persistence.flush();
      await store.close();
    }
    this.#state = 'closed';
    for (const h of this.#hooks.on.onStopped) h.onStopped!();
  }

  /**
   * Deletes the retained message of `topic`, as a PUBLISH with an empty retained payload would
   * [MQTT-3.3.1-6] (retain hooks and storage see the deletion), without sending anything to
   * subscribers. Returns false when the topic had no retained message (or a hook kept it).
   */
  deleteRetained(topic: string): boolean {
    if (this.#retained.get(topic) === undefined) return false;
    this.#ctx.pipeline.retain(
      createMessage(topic, Buffer.alloc(0), 0, true, undefined, '', true, 0),
      undefined,
    );
    return this.#retained.get(topic) === undefined;
  }

  /** Publishes a message from the host application (no ACL). */
  publish(topic: string, payload: string | Uint8Array, options: PublishOptions = {}): void {
    validateTopicName(topic);
    const message = createMessage(
      topic,
      Buffer.from(payload),
      options.qos ?? 0,
      options.retain ?? false,
      options.properties,
      '',
      true,
      Date.now(),
    );
    this.#ctx.pipeline.publish(message, undefined);
  }

  /**
   * Handles `packet` as if the connected client `clientId` had sent it, bypassing ACL checks.
   * @throws {BrokerError} CLIENT_NOT_CONNECTED when no client with that id is connected.
   */
  inject(clientId: string, packet: Packet): void {
    const client = this.#sessions.connected(clientId);
    if (client === undefined) throw new BrokerError('CLIENT_NOT_CONNECTED', `'${clientId}'`);
    void dispatch(this.#ctx, client, packet, true);
  }

  /** The connected client with this id. */
  client(clientId: string): ClientInfo | undefined {
    return this.#sessions.connected(clientId);
  }

  /** Disconnects a client (v5: DISCONNECT with `reasonCode`, default 0x98 Administrative action). */
  kick(clientId: string, reasonCode: number = ReasonCode.AdministrativeAction): boolean {
    const client = this.#sessions.connected(clientId);
    if (client === undefined) return false;
    client.disconnect(reasonCode, 'disconnected by the server');
    return true;
  }

  /**
   * Ends a session as its expiry would: an online client is disconnected first (v5: DISCONNECT
   * 0x98 Administrative action), then its subscriptions, queued and in-flight messages go and a will
   * it still owes is published. Returns false when there is no such session.
   */
  endSession(clientId: string): boolean {
    this.kick(clientId);
    const session = this.#sessions.get(clientId);
    if (session === undefined) return false;
    this.#sessions.end(session);
    return true;
  }

  // ---- cluster seams: a plugin that spreads one broker over several processes ----------------------

  /**
   * Routes a message another node accepted to this broker's own subscribers: no retain step and no
   * `onPublished` (the accepting node ran both), so a cluster never forwards it again. The message's
   * `origin` keeps No Local working [MQTT-3.8.3-3]. Returns the deliveries made.
   */
  routeRemote(message: Message): number {
    return this.#ctx.router.route(message, undefined);
  }

  /**
   * Replaces (empty payload: deletes) a retained message in memory only: another node stored the
   * change in the shared store. No retain hooks run.
   */
  applyRetained(message: Message): void {
    if (message.payload.length === 0) this.#retained.delete(message.topic);
    else this.#retained.set({ ...message, retain: true });
  }

  /**
   * Adds a session read from the shared store that another node held, offline, with its
   * subscriptions, queued and in-flight messages, as a restart would. A session that was online
   * there (its node died) owes its will, published by the sweep. Returns false when this broker has
   * a session with that id already (nothing changes) or the stored one had expired.
   */
  adoptSession(stored: StoredState['sessions'][number]): boolean {
    if (this.#persistence.store === undefined || this.#sessions.has(stored.clientId)) return false;
    const now = Date.now();
    if (!this.#restoreSession(stored, now)) return false;
    // A will already due goes out now, before a reconnecting client could cancel it.
    this.#sessions.sweep(now);
    return true;
  }

  /**
   * Gives a session up to another node: its connection, if any, is closed as a takeover closes it
   * (v5 DISCONNECT 0x8E Session taken over; its will as after any disconnection), what changed is
   * committed to the store, and the session leaves this broker's memory without being ended (the
   * store keeps it for the node that takes it). Returns false when there was no such session.
   */
  async releaseSession(clientId: string): Promise<boolean> {
    const session = this.#sessions.get(clientId);
    if (session === undefined) return false;
    session.client?.disconnect(ReasonCode.SessionTakenOver, 'session taken over');
    // A session with expiry 0 ended as its connection closed; a persistent one is offline now.
    const left = this.#sessions.get(clientId);
    if (left !== undefined && left.client === undefined) this.#sessions.forget(left);
    await this.#persistence.flush();
    return true;
  }

  /** Open connections, including those that have not completed CONNECT. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Connected clients. */
  get connectedCount(): number {
    return this.#connectedCount;
  }

  /** The `$SYS` figures as they are now. */
  get stats(): Readonly<SysInfo> {
    return this.#stats;
  }

  /** Current figures (the `$SYS` values), with the derived ones brought up to date. */
  refreshStats(): Readonly<SysInfo> {
    const stats = this.#stats;
    stats.clientsConnected = this.#connectedCount;
    stats.clientsTotal = this.#sessions.size;
    stats.subscriptions = this.#subscriptions.size;
    stats.retained = this.#retained.size;
    let inflight = 0;
    for (const session of this.#sessions.values()) inflight += session.inflight.size;
    stats.inflight = inflight;
    return stats;
  }

  /** Accepts a connection from any listener (or any duplex stream the host app has). */
  readonly accept = (stream: Duplex, info: ConnectionInfo): void => {
    try {
      this.#accept(stream, info);
    } catch (error) {
      this.log.error(
        { remote: info.remoteAddress, error: String(error) },
        'error while accepting a connection',
      );
      // A Client that took the stream listens for 'close' last in its constructor: none did.
      refuse(stream, info);
    }
  };

  /** A connection closed at once for a limit (the broker's or a listener's): counted, and logged sparingly. */
  readonly #refused = (info: ConnectionInfo, reason: string): void => {
    this.#stats.connectionsRefused++;
    this.#refusals.note(info, reason);
  };

  #accept(stream: Duplex, info: ConnectionInfo): void {
    // Listeners open during `starting`: their first connections are served.
    if (this.#state !== 'running' && this.#state !== 'starting') {
      refuse(stream, info);
      return;
    }
    for (const h of this.#hooks.on.onAccept) {
      if (h.onAccept!(info) === false) {
        this.log.info(
          { remote: info.remoteAddress, listener: info.listener },
          'connection refused by a hook',
        );
        refuse(stream, info);
        return;
      }
    }
    if (this.#connections.size >= this.options.maxConnections) {
      this.#refused(info, `the broker's maxConnections (${this.options.maxConnections}) reached`);
      refuse(stream, info);
      return;
    }
    this.#stats.connectionsTotal++;
    this.#connections.add(new Client(this.#ctx, stream, info));
  }

  /** A connection closed: its session goes back to the registry, hooks hear of it. */
  #connectionClosed(
    client: Client,
    wasState: ClientState,
    reasonCode: number,
    error: Error | undefined,
  ): void {
    this.#connections.delete(client);
    const session = client.session;
    if (session !== undefined && session.client === client) {
      this.#ctx.router.detached(session, session.expiryInterval > 0);
    }
    const sessionEnded = this.#sessions.detach(client);
    if (wasState === 'connected') {
      this.#connectedCount--;
      if (diagnostics.clientDisconnect.hasSubscribers)
        diagnostics.clientDisconnect.publish({ client, reasonCode, error });
      for (const h of this.#hooks.on.onDisconnect) h.onDisconnect!(client, reasonCode, error, sessionEnded);
    }
  }

  /**
   * One periodic pass instead of a timer per client: CONNECT timeouts, keep-alives, wills, session
   * expiry, and retained messages whose Message Expiry Interval has passed.
   */
  #sweep(): void {
    try {
      const now = Date.now();
      this.#retained.sweep(now);
      this.#sweepConnections(now);
      this.#ctx.router.sweepStalled(now);
      this.#sessions.sweep(now);
    } catch (error) {
      this.log.error({ error: String(error) }, 'error in the periodic sweep');
    }
  }

  #sweepConnections(now: number): void {
    for (const client of this.#connections) {
      if (client.state === 'new' || client.state === 'authenticating') {
        if (now - client.connectedAt > this.options.connectTimeout) {
          this.log.info({ remote: client.remoteAddress }, 'no CONNECT in time: connection closed');
          client.close(new Error('CONNECT timeout'));
        }
      } else if (client.state === 'connected' && client.keepalive > 0) {
        // [MQTT-3.1.2-22] one and a half times the Keep Alive without a packet
        if (now - client.lastSeen > client.keepalive * 1500) {
          this.log.info(
            { clientId: client.id, keepalive: client.keepalive },
            'keep-alive timeout: connection closed',
          );
          client.disconnect(ReasonCode.KeepAliveTimeout, 'keep alive timeout');
        }
      }
    }
  }

  /**
   * Rebuilds the state a store kept. Sessions that were online when the broker stopped come back
   * offline, their expiry counting from now, and owe their connection's will as if it had just
   * dropped (published by the first sweep, or after its delay). Expired sessions and messages go.
   */
  #restoreStore(state: StoredState): void {
    const now = Date.now();
    const store = this.#persistence.store!;
    for (const m of state.retained) {
      if (m.expiresAt !== 0 && m.expiresAt <= now) store.deleteRetained(m.topic);
      else this.#retained.set(m);
    }
    for (const s of state.sessions) this.#restoreSession(s, now);
    if (state.sysInfo) Object.assign(this.#stats, state.sysInfo, { version: BROKER_VERSION });
  }

  /** Rebuilds one stored session (see `#restoreStore`); false when it had expired and was deleted. */
  #restoreSession(s: StoredState['sessions'][number], now: number): boolean {
    const store = this.#persistence.store!;
    const wasOnline = s.disconnectedAt === 0;
    let pendingWill = s.pendingWill;
    if (wasOnline && s.will !== undefined && pendingWill === undefined) {
      const delay = Math.min(s.will.properties?.willDelayInterval ?? 0, s.expiryInterval);
      pendingWill = { will: s.will, dueAt: now + delay * 1000 };
    }
    const session = this.#sessions.restore(
      s.clientId,
      s.protocolVersion,
      s.expiryInterval,
      wasOnline ? now : s.disconnectedAt,
      pendingWill,
      now,
    );
    if (session === undefined) {
      store.deleteSession(s.clientId);
      return false;
    }
    session.stored = true;
    for (const sub of s.subscriptions) {
      this.#subscriptions.subscribe(s.clientId, sub.topicFilter, sub);
      session.subscriptions.set(sub.topicFilter, sub);
    }
    for (const delivery of s.queue) {
      if (delivery.seq !== undefined && delivery.seq >= session.nextSeq) session.nextSeq = delivery.seq + 1;
      session.queue.push(delivery);
      session.queuedBytes += delivery.message.payload.length + delivery.message.topic.length;
    }
    for (const entry of s.inflight) {
      session.inflight.add({
        packetId: entry.packetId,
        delivery: entry.delivery,
        state: entry.released ? 'pubrel' : 'publish',
        resends: 0,
      });
    }
    for (const packetId of s.inboundQos2) session.inboundQos2.add(packetId);
    if (wasOnline) this.#persistence.sessionChanged(session);
    return true;
  }
}

/** Closes a connection the broker does not take; its listener stops counting it. */
function refuse(stream: Duplex, info: ConnectionInfo): void {
  stream.destroy();
  info.onClose?.();
}
