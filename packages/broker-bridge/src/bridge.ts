import type { Broker, Logger } from '@x/broker';
import { type Client, type ClientOptions, connect, type Message } from '@x/client';
import type { Properties, UserProperty } from '@x/packets';
import { LocalLink } from './local-link.js';
import type { ResolvedBridgeOptions } from './options.js';
import { type BridgeHook, type BridgeStatus, RateLimitedLog } from './status.js';
import { mapTopic, routeOf, routesFor, type TopicRoute } from './topic-map.js';

/**
 * The user property a forwarded v5 message carries once per broker it left through a bridge (value:
 * that broker's node id). A broker never routes a message that already names it: that stops loops
 * between brokers bridged to each other (No Local only stops the echo on one link).
 */
export const BRIDGE_VIA = 'x-bridge-via';

/** True when `properties` name `nodeId` in a {@link BRIDGE_VIA} user property. */
export function passedThrough(properties: Properties | undefined, nodeId: string): boolean {
  const pairs = properties?.userProperties;
  if (pairs === undefined) return false;
  for (const [key, value] of pairs) if (key === BRIDGE_VIA && value === nodeId) return true;
  return false;
}

/** What a bridge needs from the `Bridges` that owns it. */
export interface BridgeContext {
  broker: Broker;
  nodeId: string;
  log: Logger;
  hooks: readonly BridgeHook[];
}

/** A promise that never settles: with manual acknowledgement, the message stays unacknowledged. */
const never = new Promise<void>(() => {});

/**
 * One bridge: a persistent session on this broker (an in-process connection) and one on the remote
 * broker, with messages passed between them. Every QoS 1/2 message is acknowledged to the side it
 * came from only once the other side has acknowledged it, so a message is always owned by a session
 * that keeps it (this broker's, the remote's) until the next hop has it.
 */
export class Bridge {
  readonly name: string;
  readonly options: Readonly<ResolvedBridgeOptions>;
  readonly #ctx: BridgeContext;
  readonly #outRoutes: TopicRoute[];
  readonly #inRoutes: TopicRoute[];
  readonly #link: LocalLink;
  readonly #dropLog: RateLimitedLog;
  readonly #status: BridgeStatus;
  #local: Client | undefined;
  #remote: Promise<Client> | undefined;
  /** The remote client once it is connected (for its figures). */
  #remoteClient: Client | undefined;
  readonly #abort = new AbortController();
  #heldBytes = 0;
  #stopping = false;

  constructor(options: ResolvedBridgeOptions, ctx: BridgeContext) {
    this.name = options.name;
    this.options = options;
    this.#ctx = ctx;
    this.#outRoutes = routesFor(options.topics, 'out');
    this.#inRoutes = routesFor(options.topics, 'in');
    this.#link = new LocalLink(ctx.broker, options.name);
    this.#dropLog = new RateLimitedLog(ctx.log);
    this.#status = {
      name: options.name,
      url: options.url,
      connected: false,
      since: Date.now(),
      forwardedIn: 0,
      forwardedOut: 0,
      queued: 0,
      queuedBytes: 0,
      dropped: 0,
      loopsStopped: 0,
      receiveMaximumOverruns: 0,
      receiveMaximumOverrunPeak: 0,
      lastError: undefined,
    };
  }

  /** The figures as they are now. */
  status(): BridgeStatus {
    const session = this.#ctx.broker.sessions.get(this.options.localClientId);
    this.#status.queued = session === undefined ? 0 : session.inflightCount + session.queuedCount;
    this.#status.queuedBytes = this.#heldBytes;
    this.#status.receiveMaximumOverruns = this.#remoteClient?.receiveMaximumOverruns ?? 0;
    this.#status.receiveMaximumOverrunPeak = this.#remoteClient?.receiveMaximumOverrunPeak ?? 0;
    return { ...this.#status };
  }

  /** Connects to this broker (which must be running), then starts connecting to the remote. */
  async start(): Promise<void> {
    const o = this.options;
    const local = await connect('mqtt://bridge.local', {
      transport: this.#link.open,
      clientId: o.localClientId,
      protocolVersion: 5,
      clean: false,
      sessionExpiryInterval: 0xffffffff,
      keepalive: 0,
      manualAck: true,
      properties: { receiveMaximum: o.inflight },
      reconnect: { initialDelay: 100, maxDelay: 2000 },
      operationTimeout: Number.POSITIVE_INFINITY,
      queueQoSZero: false,
    });
    this.#local = local;
    // Attached in the turn `connect` resolved in: the session's backlog, sent with the CONNACK, is
    // held for this listener.
    local.on('message', (message) => this.#forwardOut(message));
    local.on('error', (error) =>
      this.#ctx.log.warn({ bridge: this.name, error: error.message }, 'bridge: local link error'),
    );
    await this.#subscribeLocal(local);

    // Retried with backoff until it succeeds; outgoing messages wait for it, unacknowledged.
    this.#remote = connect(o.url, { ...this.#remoteOptions(o.protocol === '5'), signal: this.#abort.signal });
    this.#remote.then(
      (remote) => this.#remoteUp(remote),
      (error: Error) => {
        if (this.#stopping) return;
        // Only a refusal that retrying cannot change (bad credentials, not authorized) ends up here.
        this.#status.lastError = error.message;
        this.#ctx.log.error(
          { bridge: this.name, url: o.url, error: error.message },
          'bridge: the remote refused the connection; not retrying (messages stay queued here)',
        );
      },
    );
  }

  #remoteUp(remote: Client): void {
    const v5 = this.options.protocol === '5';
    this.#remoteClient = remote;
    remote.on('message', (message) => this.#forwardIn(message));
    remote.on('connect', (connack) => this.#connected(connack.sessionPresent));
    remote.on('offline', ({ error }) => this.#disconnected(error));
    remote.on('error', (error) => {
      this.#status.lastError = error.message;
    });
    this.#connected(remote.connack?.sessionPresent ?? false);
    for (const route of this.#inRoutes) {
      // A persistent session keeps it across reconnects (re-sent by the client if the session is lost).
      remote
        .subscribe(route.from, {
          qos: route.qos,
          ...(v5 ? { nl: true, rap: true, rh: 1, properties: { subscriptionIdentifier: route.id } } : {}),
        })
        .then(
          ([result]) => {
            if (result !== undefined && result.reasonCode >= 0x80) {
              this.#ctx.log.error(
                { bridge: this.name, filter: route.from, reasonCode: result.reasonCode },
                'bridge: the remote refused a subscription',
              );
            }
          },
          (error: Error) => {
            if (!this.#stopping)
              this.#ctx.log.error(
                { bridge: this.name, filter: route.from, error: error.message },
                'bridge: remote subscription failed',
              );
          },
        );
    }
  }

  /**
   * Stops both links without acknowledging what is still in flight: messages from this broker stay in
   * the bridge's session here, messages from the remote in its session there, to be forwarded on the
   * next start.
   */
  async close(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    const wasConnected = this.#status.connected;
    this.#abort.abort(); // a connection attempt still retrying gives up
    const remote = await this.#remote?.catch(() => undefined);
    await Promise.all([this.#local?.end().catch(() => {}), remote?.end().catch(() => {})]);
    if (wasConnected) this.#disconnected(undefined);
  }

  /** Counts a message this broker dropped from the bridge's session (full queue, slow link). */
  droppedLocally(topic: string, reason: string): void {
    this.#drop('out', topic, reason, undefined);
  }

  /** Counts a message that came back to this broker and was not routed again. */
  loopStopped(): void {
    this.#status.loopsStopped++;
  }

  #remoteOptions(v5: boolean): ClientOptions {
    const o = this.options;
    const options: ClientOptions = {
      clientId: o.clientId,
      protocolVersion: v5 ? 5 : 4,
      clean: false,
      keepalive: o.keepalive,
      manualAck: true,
      reconnect: { initialDelay: o.reconnect.initialDelay, maxDelay: o.reconnect.maxDelay },
      retryFirstConnect: true,
      operationTimeout: Number.POSITIVE_INFINITY,
      queueQoSZero: false,
      // Mosquitto restarted from its store re-sends QoS 2 flows that had completed: keep them exactly once.
      qos2ReplayGuard: 4096,
      rejectUnauthorized: o.rejectUnauthorized,
    };
    if (v5) {
      options.sessionExpiryInterval = o.sessionExpiryInterval;
      options.properties = { receiveMaximum: o.inflight };
      // Mosquitto 2.0.x sends PUBLISH packets past it under bursts (up to 100 past 100 measured):
      // taken and counted rather than a reconnect that re-sends the whole window each time.
      options.receiveMaximumSlack = o.receiveMaximumSlack;
    }
    if (o.username !== undefined) options.username = o.username;
    if (o.password !== undefined) options.password = o.password;
    if (o.ca !== undefined) options.ca = o.ca;
    if (o.cert !== undefined) options.cert = o.cert;
    if (o.key !== undefined) options.key = o.key;
    if (o.servername !== undefined) options.servername = o.servername;
    return options;
  }

  /** Subscribes the out routes here, and drops subscriptions a previous configuration left behind. */
  async #subscribeLocal(local: Client): Promise<void> {
    const wanted = new Set(this.#outRoutes.map((r) => r.from));
    const session = this.#ctx.broker.sessions.get(this.options.localClientId);
    const stale = [...(session?.subscriptions.keys() ?? [])].filter((f) => !wanted.has(f));
    if (stale.length > 0) await local.unsubscribe(stale);
    await Promise.all(
      this.#outRoutes.map((route) =>
        // No Local: what the bridge publishes here (from the remote) is not sent back out.
        local.subscribe(route.from, {
          qos: route.qos,
          nl: true,
          rap: true,
          // Retained messages only for a new subscription, not again on every start.
          rh: 1,
          properties: { subscriptionIdentifier: route.id },
        }),
      ),
    );
  }

  #connected(sessionPresent: boolean): void {
    this.#status.connected = true;
    this.#status.since = Date.now();
    this.#status.lastError = undefined;
    this.#ctx.log.info({ bridge: this.name, url: this.options.url, sessionPresent }, 'bridge connected');
    const status = this.status();
    for (const h of this.#ctx.hooks) h.onBridgeConnected?.(status, sessionPresent);
  }

  #disconnected(error: Error | undefined): void {
    if (!this.#status.connected) {
      if (error) this.#status.lastError = error.message;
      return;
    }
    this.#status.connected = false;
    this.#status.since = Date.now();
    if (error) this.#status.lastError = error.message;
    const fields = { bridge: this.name, url: this.options.url, error: error?.message };
    if (this.#stopping) this.#ctx.log.info(fields, 'bridge stopped');
    else this.#ctx.log.warn(fields, 'bridge disconnected');
    const status = this.status();
    for (const h of this.#ctx.hooks) h.onBridgeDisconnected?.(status, error);
  }

  #drop(direction: 'in' | 'out', topic: string, reason: string, error: Error | undefined): void {
    this.#status.dropped++;
    this.#dropLog.warn(
      { bridge: this.name, direction, topic, reason, error: error?.message },
      'bridge: message dropped',
    );
    if (this.#ctx.hooks.length === 0) return;
    const status = this.status();
    for (const h of this.#ctx.hooks) h.onBridgeDropped?.(status, direction, topic, reason);
  }

  #forwarded(direction: 'in' | 'out', topic: string, qos: number): void {
    if (direction === 'in') this.#status.forwardedIn++;
    else this.#status.forwardedOut++;
    if (this.#ctx.hooks.length === 0) return;
    const status = this.status();
    for (const h of this.#ctx.hooks) h.onBridgeForwarded?.(status, direction, topic, qos);
  }

  /**
   * A message from this broker to the remote. The returned promise settles once the remote has it
   * (PUBACK / PUBCOMP): only then does the client acknowledge it to this broker (manual ack).
   */
  async #forwardOut(message: Message): Promise<void> {
    const route = routeOf(this.#outRoutes, message.topic, message.properties?.subscriptionIdentifiers);
    if (route === undefined) return; // a second copy for an overlapping subscription
    if (passedThrough(message.properties, this.#ctx.nodeId)) {
      this.#status.loopsStopped++;
      return;
    }
    const topic = mapTopic(route, message.topic);
    if (message.qos === 0 && !this.#status.connected) {
      // QoS 0 is not queued for a link that is down (at most once; nothing was promised).
      this.#drop('out', topic, 'qos0-while-offline', undefined);
      return;
    }
    const size = message.payload.length + message.topic.length;
    this.#heldBytes += size;
    // Backpressure: this broker keeps further messages in the bridge's session (bounded there).
    if (this.#heldBytes > this.options.queueBytes && !this.#link.paused) this.#link.pause();
    let remote: Client;
    try {
      if (this.#remote === undefined) throw new Error('the remote link is not started');
      remote = await this.#remote;
    } catch {
      // Closing, or refused for good: the message stays in the bridge's session here.
      this.#release(size);
      return never;
    }
    try {
      await remote.publish(topic, message.payload, {
        qos: message.qos,
        retain: message.retain,
        ...(this.options.protocol === '5' ? { properties: this.#outProperties(message.properties) } : {}),
      });
      this.#forwarded('out', topic, message.qos);
    } catch (error) {
      if (this.#stopping) return never;
      this.#drop(
        'out',
        topic,
        message.qos === 0 ? 'qos0-while-offline' : 'refused-by-remote',
        error as Error,
      );
    } finally {
      this.#release(size);
    }
  }

  #release(size: number): void {
    this.#heldBytes -= size;
    if (this.#link.paused && this.#heldBytes <= this.options.queueBytes / 2) this.#link.resume();
  }

  /**
   * A message from the remote to this broker, acknowledged to the remote once this broker has
   * accepted it (its PUBACK / PUBCOMP, sent after its store committed the message when it has one).
   */
  async #forwardIn(message: Message): Promise<void> {
    const route = routeOf(this.#inRoutes, message.topic, message.properties?.subscriptionIdentifiers);
    if (route === undefined) return;
    if (passedThrough(message.properties, this.#ctx.nodeId)) {
      this.#status.loopsStopped++;
      return;
    }
    const topic = mapTopic(route, message.topic);
    try {
      const local = this.#local;
      if (local === undefined) throw new Error('the local link is not started');
      await local.publish(topic, message.payload, {
        qos: message.qos,
        retain: message.retain,
        ...(message.properties ? { properties: hopless(message.properties) } : {}),
      });
      this.#forwarded('in', topic, message.qos);
    } catch (error) {
      if (this.#stopping) return never;
      this.#drop('in', topic, 'refused-here', error as Error);
    }
  }

  /** v5 properties for the remote: this hop's removed, this broker added to the path. */
  #outProperties(properties: Properties | undefined): Properties {
    const via: UserProperty = [BRIDGE_VIA, this.#ctx.nodeId];
    const rest = properties ? hopless(properties) : {};
    return { ...rest, userProperties: [...(rest.userProperties ?? []), via] };
  }
}

/** Subscription Identifiers and Topic Alias belong to one hop [MQTT-3.3.4-6] [MQTT-3.3.2-7]. */
function hopless(properties: Properties): Properties {
  const { subscriptionIdentifiers: _s, topicAlias: _a, ...rest } = properties;
  return rest;
}
