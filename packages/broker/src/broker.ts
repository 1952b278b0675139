import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Packet, Properties, QoS, Will } from '@x/packets';
import { type ShareGroup, type Subscription, SubscriptionTrie, validateTopicName } from '@x/topics';
import { Client, type ClientState } from './client.js';
import { RC } from './codes.js';
import { diagnostics } from './diagnostics.js';
import { dispatch } from './handlers/index.js';
import { type Hook, Hooks, mayDeliver } from './hooks.js';
import { InlineClient } from './inline.js';
import type { ConnectionInfo, Listener } from './listeners/listener.js';
import { consoleLogger, type Logger } from './logger.js';
import { type Message, ownPayload } from './message.js';
import { type BrokerOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { RetainedStore } from './retained.js';
import { Router } from './router.js';
import { NEVER_EXPIRES, Session } from './session.js';
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

/**
 * An embeddable MQTT 5 / 3.1.1 / 3.1 broker.
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
  readonly options: ResolvedOptions;
  readonly log: Logger;
  readonly hooks = new Hooks();
  readonly stats: SysInfo = newSysInfo(BROKER_VERSION);
  /** Every session by client id, online or not. */
  readonly sessions = new Map<string, Session>();
  /** Every subscription, for matching. */
  readonly subscriptions = new SubscriptionTrie<string>();
  /** Retained messages; expired ones are removed by the sweep or when met (`onRetainedExpired`). */
  readonly retained = new RetainedStore((topic) => {
    for (const h of this.hooks.on.onRetainedExpired) h.onRetainedExpired!(topic);
  });
  /** The host application's own client: subscribe with callbacks, publish without ACL. */
  readonly inline: InlineClient;
  /** @internal */
  readonly router: Router;

  readonly #listeners: Listener[] = [];
  /** Every open connection, CONNECTed or not (for the sweep and for close). */
  readonly #connections = new Set<Client>();
  /** Sessions with a pending will or an expiry to watch. */
  readonly #timed = new Set<Session>();
  #toFlush: Client[] = [];
  #flushScheduled = false;
  #sweepTimer: NodeJS.Timeout | undefined;
  #sysTimer: NodeJS.Timeout | undefined;
  #state: BrokerState = 'new';
  #bypassAcl = false;
  #idCounter = 0;
  readonly #idPrefix: string;

  constructor(options: BrokerOptions = {}) {
    this.options = resolveOptions(options);
    this.log = options.logger ?? consoleLogger('warn');
    this.inline = new InlineClient(this);
    this.router = new Router(this);
    this.#idPrefix = `${this.options.clientIdPrefix}${randomBytes(4).toString('hex')}-`;
  }

  /** Adds a hook; hooks run in the order added. */
  addHook(hook: Hook): this {
    this.hooks.add(hook);
    return this;
  }

  /** Adds a listener; it starts listening now when the broker is already started. */
  async addListener(listener: Listener): Promise<void> {
    if (this.#listeners.some((l) => l.id === listener.id)) {
      throw new Error(`a listener with id '${listener.id}' already exists`);
    }
    this.#listeners.push(listener);
    // While starting, start() reaches listeners added to the array in its own loop.
    if (this.#state === 'running') await listener.listen(this.accept);
  }

  get listeners(): readonly Listener[] {
    return this.#listeners;
  }

  /** Where the broker is in its life (readiness probes: ready while `running`). */
  get state(): BrokerState {
    return this.#state;
  }

  /** Loads stored state (storage hooks), starts the listeners and the timers. */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error(`broker cannot start: it is ${this.#state}`);
    this.#state = 'starting';
    try {
      await this.#restore();
    } catch (error) {
      this.#state = 'closed';
      throw error;
    }
    this.stats.started = Date.now();
    try {
      for (const listener of this.#listeners) await listener.listen(this.accept);
    } catch (error) {
      // A listener that cannot listen (port in use…) leaves nothing half-started behind.
      await Promise.all(this.#listeners.map((l) => l.close().catch(() => {})));
      this.#state = 'closed';
      throw error;
    }
    if (this.#state !== 'starting') return; // closed while starting
    this.#state = 'running';
    this.#sweepTimer = setInterval(() => this.#sweep(), this.options.sweepInterval);
    this.#sweepTimer.unref();
    if (this.options.sysInterval > 0) {
      this.#sysTimer = setInterval(() => publishSysTopics(this), this.options.sysInterval);
      this.#sysTimer.unref();
    }
    if (!this.hooks.has('onConnectAuthenticate')) {
      this.log.warn(
        {},
        'no authentication hook installed: every connection will be refused (add AllowAllHook or an auth hook)',
      );
    }
    for (const h of this.hooks.on.onStarted) h.onStarted!();
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
    for (const client of [...this.#connections]) {
      client.disconnect(RC.SERVER_SHUTTING_DOWN, 'server shutting down');
    }
    for (const session of this.#timed) {
      if (session.pendingWill) this.#publishWill(session.clientId, session.pendingWill);
      session.pendingWill = undefined;
    }
    clearInterval(this.#sweepTimer);
    clearInterval(this.#sysTimer);
    this.#flush();
    await listenersClosed;
    this.#state = 'closed';
    for (const h of this.hooks.on.onStopped) h.onStopped!();
  }

  /**
   * Deletes the retained message of `topic`, as a PUBLISH with an empty retained payload would
   * [MQTT-3.3.1-6] (retain hooks and storage see the deletion), without sending anything to
   * subscribers. Returns false when the topic had no retained message (or a hook kept it).
   */
  deleteRetained(topic: string): boolean {
    if (this.retained.get(topic) === undefined) return false;
    this.retainMessage(
      {
        topic,
        payload: Buffer.alloc(0),
        qos: 0,
        retain: true,
        properties: undefined,
        expiresAt: 0,
        origin: '',
        owned: true,
      },
      undefined,
    );
    return this.retained.get(topic) === undefined;
  }

  /** Publishes a message from the host application (no ACL). */
  publish(topic: string, payload: string | Uint8Array, options: PublishOptions = {}): void {
    validateTopicName(topic);
    const properties = options.properties;
    const expiry = properties?.messageExpiryInterval;
    const message: Message = {
      topic,
      payload: typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload),
      qos: options.qos ?? 0,
      retain: options.retain ?? false,
      properties,
      expiresAt: expiry === undefined ? 0 : Date.now() + expiry * 1000,
      origin: '',
      owned: true,
    };
    if (message.retain) this.retainMessage(message, undefined);
    const count = this.router.route(message, undefined);
    for (const h of this.hooks.on.onPublished) h.onPublished!(undefined, message, count);
  }

  /**
   * Handles `packet` as if the connected client `clientId` had sent it, bypassing ACL checks.
   * @throws when no client with that id is connected.
   */
  inject(clientId: string, packet: Packet): void {
    const client = this.sessions.get(clientId)?.client;
    if (client === undefined || client.state !== 'connected')
      throw new Error(`client '${clientId}' is not connected`);
    this.#bypassAcl = true;
    try {
      void dispatch(this, client, packet);
    } finally {
      this.#bypassAcl = false;
    }
  }

  /** The connected client with this id. */
  client(clientId: string): Client | undefined {
    const client = this.sessions.get(clientId)?.client;
    return client?.state === 'connected' ? client : undefined;
  }

  /** Disconnects a client (v5: DISCONNECT with `reasonCode`, default 0x98 Administrative action). */
  kick(clientId: string, reasonCode: number = RC.ADMINISTRATIVE_ACTION): boolean {
    const client = this.client(clientId);
    if (client === undefined) return false;
    client.disconnect(reasonCode, 'disconnected by the server');
    return true;
  }

  /** Open connections, including those that have not completed CONNECT. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Connected clients. */
  get connectedCount(): number {
    let n = 0;
    for (const c of this.#connections) if (c.state === 'connected') n++;
    return n;
  }

  /** Current figures (the `$SYS` values). */
  refreshStats(): SysInfo {
    const stats = this.stats;
    stats.clientsConnected = this.connectedCount;
    stats.clientsTotal = this.sessions.size;
    stats.subscriptions = this.subscriptions.size;
    stats.retained = this.retained.size;
    let inflight = 0;
    for (const session of this.sessions.values()) inflight += session.inflight.size;
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
      stream.destroy();
    }
  };

  #accept(stream: Duplex, info: ConnectionInfo): void {
    // Listeners open during `starting`: their first connections are served.
    if (this.#state !== 'running' && this.#state !== 'starting') {
      stream.destroy();
      return;
    }
    for (const h of this.hooks.on.onAccept) {
      if (h.onAccept!(info) === false) {
        this.log.info(
          { remote: info.remoteAddress, listener: info.listener },
          'connection refused by a hook',
        );
        stream.destroy();
        return;
      }
    }
    if (this.#connections.size >= this.options.maxConnections) {
      this.log.warn({ remote: info.remoteAddress }, 'connection refused: maxConnections reached');
      stream.destroy();
      return;
    }
    this.stats.connectionsTotal++;
    this.#connections.add(new Client(this, stream, info));
  }

  // ---- internal, used by Client, Router and the handlers ------------------------------------------

  /** @internal ACL check, skipped for injected packets: 0 when allowed, else the refusal reason code. */
  aclCheck(client: Client, topic: string, access: 'read' | 'write'): number {
    return this.#bypassAcl ? 0 : this.hooks.acl(client, topic, access);
  }

  /** @internal A fresh client identifier [MQTT-3.1.3-6]. */
  generateClientId(): string {
    let id: string;
    do id = `${this.#idPrefix}${++this.#idCounter}`;
    while (this.sessions.has(id));
    return id;
  }

  /** @internal Batches a client's writes of this tick into one socket write. */
  scheduleFlush(client: Client): void {
    this.#toFlush.push(client);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      process.nextTick(this.#flush);
    }
  }

  #flush = (): void => {
    this.#flushScheduled = false;
    this.tickBytes = 0;
    const clients = this.#toFlush;
    this.#toFlush = [];
    for (const client of clients) client.flush();
  };

  /** @internal Bytes written to clients since the last flush. */
  tickBytes = 0;
  #toResume: Client[] = [];

  /** @internal True when this tick's output exceeds `maxBytesPerTick`: publishers are paused. */
  get overloaded(): boolean {
    return this.tickBytes > this.options.maxBytesPerTick;
  }

  /** @internal Resumes a paused publisher once the event loop has turned (writes handed over). */
  resumeLater(client: Client): void {
    if (this.#toResume.push(client) === 1) {
      setImmediate(() => {
        const clients = this.#toResume;
        this.#toResume = [];
        for (const c of clients) if (c.state !== 'closed') c.resume();
      });
    }
  }

  /** @internal The client's socket drained: send what its session queued. */
  drained(client: Client): void {
    if (client.session && client.state === 'connected') this.router.drain(client.session);
  }

  /** @internal Marks a connected client's clients-maximum figure. */
  connected(): void {
    const n = this.connectedCount;
    if (n > this.stats.clientsMaximum) this.stats.clientsMaximum = n;
  }

  /**
   * @internal A connection closed: detach its session, schedule or publish the will, end or schedule
   * the expiry of the session.
   */
  detach(client: Client, wasState: ClientState, reasonCode: number, error: Error | undefined): void {
    this.#connections.delete(client);
    const session = client.session;
    let sessionEnded = false;
    if (session !== undefined && session.client === client) {
      session.client = undefined;
      const now = Date.now();
      const will = session.will;
      session.will = undefined;
      if (will !== undefined) {
        const delay = will.properties?.willDelayInterval ?? 0;
        if (delay === 0 || session.expiryInterval === 0) this.#publishWill(session.clientId, will);
        else {
          // [MQTT-3.1.3-9] published after the delay or when the session ends, whichever is first
          session.pendingWill = will;
          session.willDueAt = now + Math.min(delay, session.expiryInterval) * 1000;
          this.#timed.add(session);
        }
      }
      if (session.expiryInterval === 0) {
        this.endSession(session);
        sessionEnded = true;
      } else if (session.expiryInterval !== NEVER_EXPIRES) {
        session.expiresAt = now + session.expiryInterval * 1000;
        this.#timed.add(session);
      }
    }
    if (wasState === 'connected') {
      if (diagnostics.clientDisconnect.hasSubscribers)
        diagnostics.clientDisconnect.publish({ client, reasonCode, error });
      for (const h of this.hooks.on.onDisconnect) h.onDisconnect!(client, reasonCode, error, sessionEnded);
    }
  }

  /** @internal Ends a session: subscriptions, queue and in-flight messages go; a pending will is sent. */
  endSession(session: Session): void {
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId);
    this.subscriptions.removeClient(session.clientId);
    this.#timed.delete(session);
    for (const entry of session.inflight.values()) {
      for (const h of this.hooks.on.onQosDropped)
        h.onQosDropped!(session.clientId, entry.packetId, entry.delivery.message);
    }
    session.inflight.clear();
    session.queue.clear();
    if (session.pendingWill !== undefined) {
      const will = session.pendingWill;
      session.pendingWill = undefined;
      this.#publishWill(session.clientId, will);
    }
  }

  /** @internal A session resumed on a new connection: the delayed will is cancelled [MQTT-3.1.3-9]. */
  resumeSession(session: Session): void {
    session.pendingWill = undefined;
    session.willDueAt = 0;
    session.expiresAt = 0;
    this.#timed.delete(session);
  }

  /** @internal Stores or deletes the retained message of a topic. */
  retainMessage(message: Message, client: Client | undefined): void {
    for (const h of this.hooks.on.onRetainMessage) if (h.onRetainMessage!(client, message) === false) return;
    if (message.payload.length === 0) {
      this.retained.delete(message.topic); // [MQTT-3.3.1-6] [MQTT-3.3.1-7]
    } else {
      if (this.retained.size >= this.options.maxRetained && this.retained.get(message.topic) === undefined) {
        this.log.warn({ topic: message.topic }, 'retained message not stored: maxRetained reached');
        return;
      }
      ownPayload(message); // [MQTT-3.3.1-5]
      this.retained.set(message);
    }
    for (const h of this.hooks.on.onRetainPublished) h.onRetainPublished!(client, message);
  }

  /**
   * @internal Picks the member of a share group that gets the message, preferring online ones, among
   * the members the delivery gates (`onAclCheckDelivery`) allow.
   */
  pickShareMember(
    group: ShareGroup<string>,
    message: Message,
    _publisher: string | undefined,
  ): Subscription<string> | undefined {
    const members = group.members;
    const n = members.length;
    if (n === 0) return undefined;
    const hooks = this.hooks;
    const gated = hooks.on.onAclCheckDelivery.length > 0;
    const start =
      this.options.sharedSubscriptionStrategy === 'random' ? Math.floor(Math.random() * n) : group.cursor;
    let offline: Subscription<string> | undefined;
    for (let i = 0; i < n; i++) {
      const index = (start + i) % n;
      const member = members[index]!;
      const session = this.sessions.get(member.clientId);
      if (gated && !mayDeliver(hooks, member.clientId, session?.client, message)) continue;
      if (session?.client?.state === 'connected') {
        group.cursor = index + 1;
        return member;
      }
      offline ??= member;
    }
    group.cursor = start + 1;
    return offline;
  }

  #publishWill(clientId: string, will: Will): void {
    let w: Will | undefined = will;
    for (const h of this.hooks.on.onWill) {
      w = h.onWill!(clientId, w);
      if (w === undefined) return;
    }
    const expiry = w.properties?.messageExpiryInterval;
    const { willDelayInterval: _delay, ...properties } = w.properties ?? {};
    const message: Message = {
      topic: w.topic,
      payload: w.payload,
      qos: w.qos,
      retain: w.retain,
      properties: w.properties ? properties : undefined,
      expiresAt: expiry === undefined ? 0 : Date.now() + expiry * 1000,
      origin: clientId,
      owned: true,
    };
    if (message.retain) this.retainMessage(message, undefined);
    const count = this.router.route(message, undefined);
    this.stats.messagesReceived++;
    for (const h of this.hooks.on.onWillSent) h.onWillSent!(clientId, w);
    for (const h of this.hooks.on.onPublished) h.onPublished!(undefined, message, count);
  }

  /**
   * One periodic pass instead of a timer per client: CONNECT timeouts, keep-alives, wills, session
   * expiry, and retained messages whose Message Expiry Interval has passed.
   */
  #sweep(): void {
    try {
      this.#sweepOnce();
    } catch (error) {
      this.log.error({ error: String(error) }, 'error in the periodic sweep');
    }
  }

  #sweepOnce(): void {
    const now = Date.now();
    this.retained.sweep(now);
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
          client.disconnect(RC.KEEP_ALIVE_TIMEOUT, 'keep alive timeout');
        }
      }
    }
    for (const session of this.#timed) {
      if (session.pendingWill !== undefined && session.willDueAt <= now) {
        const will = session.pendingWill;
        session.pendingWill = undefined;
        this.#publishWill(session.clientId, will);
      }
      if (session.expiresAt !== 0 && session.expiresAt <= now && session.client === undefined) {
        session.expiresAt = 0;
        this.endSession(session);
        for (const h of this.hooks.on.onClientExpired) h.onClientExpired!(session.clientId);
      }
      if (session.pendingWill === undefined && session.expiresAt === 0) this.#timed.delete(session);
    }
  }

  async #restore(): Promise<void> {
    for (const h of this.hooks.on.onStoredRetainedMessages) {
      for (const m of await h.onStoredRetainedMessages!()) {
        this.retained.set({
          topic: m.topic,
          payload: m.payload,
          qos: m.qos,
          retain: true,
          properties: m.properties,
          expiresAt: m.expiresAt ?? 0,
          origin: '',
          owned: true,
        });
      }
    }
    const now = Date.now();
    for (const h of this.hooks.on.onStoredClients) {
      for (const c of await h.onStoredClients!()) {
        const session = new Session(c.clientId, c.protocolVersion);
        session.expiryInterval = c.sessionExpiryInterval;
        if (c.pendingWill !== undefined) {
          // The first sweep publishes it when due, or ends the session (publishing it) when the
          // session expired meanwhile: after loading, so that restored subscribers receive it.
          session.pendingWill = c.pendingWill.will;
          session.willDueAt = c.pendingWill.dueAt;
          this.#timed.add(session);
        }
        if (c.sessionExpiryInterval !== NEVER_EXPIRES) {
          session.expiresAt = c.disconnectedAt + c.sessionExpiryInterval * 1000;
          if (session.expiresAt <= now && session.pendingWill === undefined) continue;
          this.#timed.add(session);
        }
        this.sessions.set(c.clientId, session);
      }
    }
    for (const h of this.hooks.on.onStoredSubscriptions) {
      for (const s of await h.onStoredSubscriptions!()) {
        const session = this.sessions.get(s.clientId);
        if (session === undefined) continue;
        const sub = {
          topicFilter: s.topicFilter,
          qos: s.qos,
          noLocal: s.noLocal ?? false,
          retainAsPublished: s.retainAsPublished ?? false,
          retainHandling: s.retainHandling ?? 0,
          subscriptionIdentifier: s.subscriptionIdentifier,
        };
        this.subscriptions.subscribe(s.clientId, s.topicFilter, sub);
        session.subscriptions.set(s.topicFilter, sub);
      }
    }
    for (const h of this.hooks.on.onStoredQueuedMessages) {
      for (const m of await h.onStoredQueuedMessages!()) {
        const session = this.sessions.get(m.clientId);
        if (session === undefined) continue;
        const message: Message = {
          topic: m.topic,
          payload: m.payload,
          qos: m.qos,
          retain: m.retain,
          properties: m.properties,
          expiresAt: m.expiresAt ?? 0,
          origin: '',
          owned: true,
        };
        session.queue.push({ message, qos: m.qos, retain: m.retain, subscriptionIds: m.subscriptionIds });
      }
    }
    for (const h of this.hooks.on.onStoredInflightMessages) {
      for (const m of await h.onStoredInflightMessages!()) {
        const session = this.sessions.get(m.clientId);
        if (session === undefined || session.inflight.get(m.packetId) !== undefined) continue;
        const message: Message = {
          topic: m.topic,
          payload: m.payload,
          qos: m.qos,
          retain: m.retain,
          properties: m.properties,
          expiresAt: m.expiresAt ?? 0,
          origin: '',
          owned: true,
        };
        session.inflight.add({
          packetId: m.packetId,
          delivery: { message, qos: m.qos, retain: m.retain, subscriptionIds: m.subscriptionIds },
          state: m.pubrel ? 'pubrel' : 'publish',
          resends: 0,
        });
      }
    }
    for (const h of this.hooks.on.onStoredSysInfo) {
      const info = await h.onStoredSysInfo!();
      if (info) Object.assign(this.stats, info, { version: BROKER_VERSION });
    }
  }
}
