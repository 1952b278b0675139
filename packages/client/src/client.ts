import type {
  ConnackPacket,
  DisconnectPacket,
  Packet,
  Properties,
  ProtocolVersion,
  PublishPacket,
  SubscribePacket,
  Subscription,
  UnsubscribePacket,
} from '@x/packets';
import { ReasonCode } from '@x/packets';
import { validateTopicFilter } from '@x/topics';
import { AuthExchange } from './auth.js';
import { toBytes } from './bytes.js';
import { connectPacket, randomClientId } from './connect-packet.js';
import { type Connection, toClientError } from './connection.js';
import { Dialer } from './dialer.js';
import { DrainSignal } from './drain-signal.js';
import { Emitter } from './emitter.js';
import { ClientErrorCode, ConnackError, MqttClientError, protocolViolation, reasonName } from './errors.js';
import type { ClientEvents } from './events.js';
import { type Handshake, handshake } from './handshake.js';
import { Inbox } from './inbox.js';
import type { Message } from './message.js';
import { MessageStream } from './message-stream.js';
import { subscribePacket, unsubscribePacket } from './operations.js';
import type {
  ClientOptions,
  ConnackInfo,
  DisconnectInfo,
  PublishOptions,
  PublishResult,
  SubscribeOptions,
  SubscribeResult,
  UnsubscribeOptions,
  UnsubscribeResult,
} from './options.js';
import { Kind, Outbox, SUCCESS } from './outbox.js';
import { PublishGate } from './publish-gate.js';
import { type RequestOptions, RequestTracker } from './request.js';
import { type ClientSettings, clientSettings } from './settings.js';
import { OutgoingAliases } from './topic-alias.js';
import type { Endpoint, OpenTransport } from './transports/transport.js';

type AckType = 'puback' | 'pubrec' | 'pubrel' | 'pubcomp';
const ACK_TYPES: Record<number, AckType> = { 64: 'puback', 80: 'pubrec', 98: 'pubrel', 112: 'pubcomp' };

const QOS0_DONE: Promise<PublishResult> = Promise.resolve(SUCCESS);

/**
 * An MQTT client. Create one with `connect()`; every method returns a promise that settles: nothing
 * is left pending after `end()` or a final close.
 */
export class Client extends Emitter<ClientEvents> {
  readonly protocolVersion: ProtocolVersion;
  #clientId: string;
  readonly #options: ClientOptions;
  readonly #openTransport: OpenTransport;
  readonly #dialer: Dialer;
  readonly #settings: ClientSettings;

  #connection: Connection | undefined;
  #handshake: Handshake | undefined;
  #state: 'connecting' | 'connected' | 'offline' | 'closed' = 'connecting';
  #connectedAt = 0;
  #everConnected = false;
  #closeWaiters: (() => void)[] = [];
  #lastConnack: ConnackInfo | undefined;
  #shutDown = false;
  /** Per connection: follows the server's CONNACK. */
  readonly #gate = new PublishGate();

  // Session state: survives reconnects.
  readonly #outbox: Outbox;
  readonly #inbox: Inbox;
  #storeClosed: Promise<void> | undefined;

  // Delivery.
  readonly #drained = new DrainSignal();
  readonly #requests: RequestTracker;
  readonly #auth: AuthExchange;

  /** @internal Use `connect()`. */
  constructor(url: string | undefined, options: ClientOptions, openTransport: OpenTransport) {
    super();
    this.#options = options;
    this.#openTransport = options.transport ?? openTransport;
    const settings = clientSettings(url, options);
    this.#settings = settings;
    const version = settings.protocolVersion;
    this.protocolVersion = version;
    this.#clientId = options.clientId ?? randomClientId();
    this.#dialer = new Dialer(
      {
        attempt: (endpoint) => this.#attempt(endpoint),
        closed: () => this.#state === 'closed',
        offline: (error, delay) => {
          this.#state = 'offline';
          this.emit('offline', { error, delay });
        },
        reconnecting: (attempt) => this.emit('reconnect', { attempt }),
        redirect: (info) => this.emit('redirect', info),
        report: (error) => this.#report(error),
        shutdown: (error) => this.#shutdown(error),
      },
      settings,
    );
    this.#inbox = new Inbox(
      {
        protocolVersion: version,
        connection: () => this.#connection,
        listeners: () => this.listenersOf('message'),
        intercept: (message) => this.#requests.handle(message),
        protocolError: (connection, error) => this.#protocolError(connection, error),
        report: (error) => this.#report(error),
      },
      settings.inbox,
    );
    this.#outbox = new Outbox(
      {
        protocolVersion: version,
        connection: () => this.#connection,
        report: (error) => this.#report(error),
      },
      settings.queueLimit,
      settings.operationTimeout,
      options.outgoingStore,
    );
    this.#requests = new RequestTracker(this);
    this.#auth = new AuthExchange(
      {
        protocolVersion: version,
        fail: (connection, error, reasonCode) => this.#fatal(connection, error, reasonCode),
      },
      options,
    );
  }

  /** The client identifier in use (the server's Assigned Client Identifier when it gave one). */
  get clientId(): string {
    return this.#clientId;
  }

  /** The URL of the server of the current (or last) connection. */
  get url(): string {
    return this.#dialer.endpoint.href;
  }

  /** True while a connection is up. */
  get connected(): boolean {
    return this.#state === 'connected';
  }

  /** 'connecting' | 'connected' | 'offline' (waiting to reconnect) | 'closed'. */
  get state(): 'connecting' | 'connected' | 'offline' | 'closed' {
    return this.#state;
  }

  /** The CONNACK of the current (or last) connection. */
  get connack(): ConnackInfo | undefined {
    return this.#lastConnack;
  }

  /** QoS 1/2 publishes, subscribes and unsubscribes sent and not yet acknowledged. */
  get inflight(): number {
    return this.#outbox.inflight;
  }

  /**
   * QoS 1/2 PUBLISH packets the server sent beyond the Receive Maximum this client announced and the
   * `receiveMaximumSlack` option let in, over the client's life (0 with the strict default: the first
   * one ends the connection with DISCONNECT 0x93).
   */
  get receiveMaximumOverruns(): number {
    return this.#inbox.overruns;
  }

  /**
   * The most QoS 1/2 PUBLISH packets the server had outstanding beyond the Receive Maximum this client
   * announced at one time, over the client's life: what `receiveMaximumSlack` must cover.
   */
  get receiveMaximumOverrunPeak(): number {
    return this.#inbox.overrunPeak;
  }

  /** Operations waiting for the connection or for the server's Receive Maximum. */
  get queued(): number {
    return this.#outbox.queued;
  }

  /**
   * @internal The first connection: rejects and closes the client when it fails, or, with
   * `retryFirstConnect`, when it is refused for good, ended or out of attempts.
   */
  async start(): Promise<void> {
    const signal = this.#options.signal;
    if (signal?.aborted) {
      await this.end();
      throw closedError();
    }
    const abort = () => void this.end();
    signal?.addEventListener('abort', abort, { once: true });
    if (signal) this.once('close', () => signal.removeEventListener('abort', abort));
    // What an earlier run stored goes out first, with its packet ids, on the first connection.
    await this.#outbox.restore().catch((error: Error) => {
      this.#shutdown(error);
      throw error;
    });
    if (this.#state === 'closed') throw closedError(); // the signal aborted meanwhile
    return this.#dialer.first();
  }

  // ─── Publishing ──────────────────────────────────────────────────────────────────────────────

  /**
   * Publishes a message. Resolves when its QoS flow completes: at once for QoS 0 (unless the
   * connection is congested: then when it drains), on PUBACK for QoS 1, on PUBCOMP for QoS 2, with
   * the v5 reason code. Beyond the server's Receive Maximum it waits its turn; while offline it is
   * queued (bounded by `queueLimit`) and sent after the reconnect.
   * @throws (rejects) MqttClientError: INVALID_ARGUMENT, PACKET_TOO_LARGE, PUBLISH_REJECTED, QUEUE_FULL, CLIENT_CLOSED.
   */
  publish(topic: string, payload: string | Uint8Array, options?: PublishOptions): Promise<PublishResult> {
    const qos = options?.qos ?? 0;
    const retain = options?.retain ?? false;
    const properties = options?.properties;
    try {
      if (this.#state === 'closed') throw closedError();
      this.#gate.check(topic, qos, retain, properties);
    } catch (error) {
      return Promise.reject(toClientError(error));
    }
    const packet: PublishPacket = {
      type: 'publish',
      topic,
      payload: toBytes(payload),
      qos,
      retain,
      dup: false,
      packetId: undefined,
      properties,
    };
    const connection = this.#connection;
    if (qos === 0) {
      if (connection && this.#outbox.idle) {
        try {
          this.#outbox.sendPublish(connection, packet);
        } catch (error) {
          return Promise.reject(toClientError(error));
        }
        return connection.congested ? this.#drained.wait().then(() => SUCCESS) : QOS0_DONE;
      }
      if (this.#options.queueQoSZero === false) {
        return Promise.reject(
          new MqttClientError(
            ClientErrorCode.CONNECTION_CLOSED,
            'offline: QoS 0 publish not queued (queueQoSZero false)',
          ),
        );
      }
    }
    return this.#outbox.submit(Kind.PUBLISH, packet) as Promise<PublishResult>;
  }

  /**
   * Subscribes to one or more topic filters. Resolves with one result per filter, in order:
   * the granted QoS, or a failure reason code (0x80 and up) for a filter the server refused.
   */
  subscribe(
    filters: string | string[] | Subscription[],
    options?: SubscribeOptions,
  ): Promise<SubscribeResult[]> {
    let packet: SubscribePacket;
    try {
      if (this.#state === 'closed') throw closedError();
      packet = subscribePacket(filters, options);
    } catch (error) {
      return Promise.reject(toClientError(error));
    }
    return this.#outbox.submit(Kind.SUBSCRIBE, packet) as Promise<SubscribeResult[]>;
  }

  /** Unsubscribes; resolves with one result per filter (v5 reason codes; 0 in v3/4). */
  unsubscribe(filters: string | string[], options?: UnsubscribeOptions): Promise<UnsubscribeResult[]> {
    let packet: UnsubscribePacket;
    try {
      if (this.#state === 'closed') throw closedError();
      packet = unsubscribePacket(filters, options);
    } catch (error) {
      return Promise.reject(toClientError(error));
    }
    return this.#outbox.submit(Kind.UNSUBSCRIBE, packet) as Promise<UnsubscribeResult[]>;
  }

  /**
   * Incoming messages as an async iterator, optionally only those matching `filter` (matched
   * locally; subscribe separately). Ends when the client closes; `break` detaches it.
   */
  messages(filter?: string, options?: { bufferSize?: number }): AsyncIterableIterator<Message> {
    if (filter !== undefined) validateTopicFilter(filter);
    const stream = new MessageStream(
      filter,
      options?.bufferSize ?? this.#options.iteratorBufferSize ?? 10_000,
      (s) => this.#inbox.streams.delete(s),
    );
    if (this.#state === 'closed') stream.end();
    else this.#inbox.streams.add(stream);
    return stream;
  }

  /**
   * v5 request/response: publishes with a Response Topic and Correlation Data and resolves with the
   * matching response. The client subscribes to its response topic on first use.
   */
  request(topic: string, payload: string | Uint8Array, options?: RequestOptions): Promise<Message> {
    return this.#requests.request(topic, payload, options);
  }

  /** Answers a request message (publishes to its Response Topic with its Correlation Data). */
  respond(request: Message, payload: string | Uint8Array, options?: PublishOptions): Promise<PublishResult> {
    return this.#requests.respond(request, payload, options);
  }

  /** v5: starts a re-authentication (AUTH 0x19); resolves when the server answers AUTH Success. */
  reauthenticate(authenticationData?: Uint8Array): Promise<void> {
    return this.#auth.reauthenticate(this.#connection, authenticationData);
  }

  /**
   * Closes the client: sends DISCONNECT (the session stays on the server for its Session Expiry
   * Interval), closes the connection and rejects whatever is still pending with CLIENT_CLOSED.
   * Await your publishes first if they must complete.
   */
  async end(options?: { reasonCode?: number; properties?: Properties }): Promise<void> {
    if (this.#state === 'closed') return this.#storeClosed;
    const connection = this.#connection;
    const handshake = this.#handshake;
    this.#state = 'closed';
    this.#dialer.stop(closedError());
    if (connection) {
      const closed = new Promise<void>((resolve) => this.#closeWaiters.push(resolve));
      const disconnect: DisconnectPacket = { type: 'disconnect' };
      if (this.protocolVersion === 5) {
        disconnect.reasonCode = options?.reasonCode ?? 0;
        if (options?.properties) disconnect.properties = options.properties;
      }
      connection.end(disconnect);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([closed, new Promise<void>((r) => (timer = setTimeout(r, 2_000)))]);
      clearTimeout(timer);
      connection.destroy();
    }
    handshake?.abort(closedError());
    this.#shutdown(closedError());
    await this.#storeClosed;
  }

  #onDrain(): void {
    this.#drained.release();
    this.#outbox.pump();
  }

  // ─── Connecting ────────────────────────────────────────────────────────────────────────────────

  /** One connection attempt: transport, CONNECT, (AUTH exchange), CONNACK. */
  async #attempt(endpoint: Endpoint): Promise<void> {
    const attempt = handshake({
      endpoint,
      openTransport: this.#openTransport,
      transportOptions: this.#options,
      connection: {
        protocolVersion: this.protocolVersion,
        maxIncomingPacketSize: this.#options.properties?.maximumPacketSize,
        gatherWritesFrom: this.#settings.gatherWritesFrom,
        gatherReads: this.#settings.gatherReads,
      },
      connect: connectPacket(
        this.#options,
        this.protocolVersion,
        this.#clientId,
        this.#everConnected && this.#settings.resumable,
      ),
      timeout: this.#options.connectTimeout ?? 30_000,
      auth: (connection, packet) => this.#auth.onAuth(connection, packet),
      handover: (connection, connack) => {
        this.#connected(connection, connack);
        return {
          packet: (packet) => this.#onPacket(connection, packet),
          protocolError: (error) => this.#protocolError(connection, error),
          drain: () => this.#onDrain(),
          ack: (first, packetId) =>
            this.#onAck(connection, ACK_TYPES[first] as AckType, packetId, 0, undefined),
          awaiting: () => this.#outbox.inflight,
        };
      },
      closed: (connection, error) => {
        this.#connectionLost(connection, error);
        const waiters = this.#closeWaiters;
        this.#closeWaiters = [];
        for (const waiter of waiters) waiter();
      },
    });
    this.#handshake = attempt;
    try {
      await attempt.done;
    } catch (error) {
      if (error instanceof ConnackError) {
        this.#dialer.redirected(error.reasonCode ?? 0, error.properties as Properties | undefined);
      }
      throw error;
    } finally {
      if (this.#handshake === attempt) this.#handshake = undefined;
    }
  }

  /** A CONNACK with Success: the session is ready. */
  #connected(connection: Connection, connack: ConnackPacket): void {
    const props = connack.properties;
    this.#connection = connection;
    this.#state = 'connected';
    this.#connectedAt = Date.now();
    const first = !this.#everConnected;
    this.#everConnected = true;
    if (props?.assignedClientIdentifier) this.#clientId = props.assignedClientIdentifier;
    this.#outbox.sendQuota = props?.receiveMaximum ?? 65_535;
    this.#gate.connected(connack);
    if (props?.maximumPacketSize) connection.maxOutgoingPacketSize = props.maximumPacketSize;
    this.#inbox.newConnection();
    this.#outbox.aliases =
      this.#options.autoAssignTopicAlias && props?.topicAliasMaximum
        ? new OutgoingAliases(props.topicAliasMaximum)
        : undefined;
    this.#lastConnack = {
      sessionPresent: connack.sessionPresent,
      reasonCode: connack.reasonCode,
      properties: props,
    };

    // [MQTT-3.2.2-21] the server's Keep Alive replaces ours
    const keepalive = props?.serverKeepAlive ?? this.#options.keepalive ?? 60;
    const interval = keepalive * 1000;
    const pingTimeout = this.#options.pingTimeout ?? Math.min(30_000, Math.max(1_000, interval / 2));
    connection.startKeepalive(interval, pingTimeout, () =>
      this.#fatal(
        connection,
        new MqttClientError(
          ClientErrorCode.KEEPALIVE_TIMEOUT,
          `no answer to PINGREQ within ${pingTimeout} ms`,
          { reasonCode: ReasonCode.KeepAliveTimeout },
        ),
        ReasonCode.KeepAliveTimeout,
      ),
    );

    if (first) {
      // Messages that came with the CONNACK wait one macrotask, so that a handler attached right
      // after `await connect()` receives them.
      this.#inbox.hold();
    }
    if (!connack.sessionPresent) {
      // [MQTT-3.2.2-5] no session on the server: our session state about it is void
      this.#inbox.sessionLost();
    }
    this.#outbox.resume(connection, connack.sessionPresent, !first && this.#options.resubscribe !== false);
    if (connack.sessionPresent) this.#inbox.sessionResumed();
    this.emit('connect', this.#lastConnack);
  }

  // ─── Incoming packets ──────────────────────────────────────────────────────────────────────────

  #onPacket(connection: Connection, packet: Packet): void {
    // A connection that was replaced says nothing more (the handshake handles the time before CONNACK).
    if (connection !== this.#connection) return;
    switch (packet.type) {
      case 'publish':
        this.#inbox.onPublish(connection, packet);
        return;
      case 'puback':
      case 'pubrec':
      case 'pubrel':
      case 'pubcomp':
        this.#onAck(connection, packet.type, packet.packetId, packet.reasonCode ?? 0, packet.properties);
        return;
      case 'suback':
        // Retained messages often come in the same read: they wait one macrotask, so that a
        // handler attached right after `await subscribe()` receives them.
        this.#inbox.hold();
        this.#outbox.onSuback(packet);
        return;
      case 'unsuback':
        this.#outbox.onUnsuback(packet);
        return;
      case 'pingresp':
        return;
      case 'disconnect':
        this.#onDisconnect(connection, packet);
        return;
      case 'auth':
        this.#auth.onAuth(connection, packet);
        return;
      default:
        // CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ and a second CONNACK never come from a server.
        this.#protocolError(
          connection,
          packet.type === 'connack'
            ? protocolViolation('a second CONNACK', 'MQTT-3.2.0-2')
            : protocolViolation(`a server sent ${packet.type.toUpperCase()}`, undefined),
        );
    }
  }

  /** PUBACK, PUBREC, PUBREL, PUBCOMP: from the decoder or from the connection's fast path. */
  #onAck(
    connection: Connection,
    type: AckType,
    packetId: number,
    reasonCode: number,
    properties: Properties | undefined,
  ): void {
    if (connection !== this.#connection) return;
    switch (type) {
      case 'puback':
      case 'pubrec':
      case 'pubcomp':
        this.#outbox.onAck(connection, type, packetId, reasonCode, properties);
        return;
      case 'pubrel':
        this.#inbox.onPubrel(connection, packetId);
        return;
    }
  }

  #onDisconnect(connection: Connection, packet: DisconnectPacket): void {
    const info: DisconnectInfo = { reasonCode: packet.reasonCode ?? 0, properties: packet.properties };
    this.emit('disconnect', info);
    this.#dialer.redirected(info.reasonCode, packet.properties);
    const error = new MqttClientError(
      ClientErrorCode.SERVER_DISCONNECT,
      `server disconnected: ${reasonName(info.reasonCode)}`,
      { reasonCode: info.reasonCode },
    );
    connection.destroy();
    // 0x8E Session taken over: another client uses our id; reconnecting would fight it for ever.
    this.#connectionLost(connection, error, info.reasonCode === ReasonCode.SessionTakenOver);
  }

  // ─── Failures and closing ──────────────────────────────────────────────────────────────────────

  /** The server broke the protocol: DISCONNECT with the reason (v5), close, report, reconnect. */
  #protocolError(connection: Connection, error: MqttClientError): void {
    this.#fatal(connection, error, error.reasonCode ?? ReasonCode.ProtocolError);
  }

  #fatal(connection: Connection, error: MqttClientError, reasonCode: number): void {
    if (connection.closed) return;
    if (this.protocolVersion === 5) connection.end({ type: 'disconnect', reasonCode });
    connection.destroy();
    this.#report(error);
    if (connection === this.#connection) this.#connectionLost(connection, error);
    else this.#handshake?.abort(error);
  }

  #connectionLost(connection: Connection, error: Error | undefined, final = false): void {
    if (connection !== this.#connection) return;
    connection.destroy();
    this.#connection = undefined;
    this.#auth.connectionLost();
    this.#drained.release();
    if (this.#state === 'closed') return;
    if (!this.#settings.backoff || final) {
      this.#state = 'offline';
      this.emit('offline', { error, delay: undefined });
      this.#shutdown(
        error ??
          new MqttClientError(ClientErrorCode.CONNECTION_CLOSED, 'connection closed and reconnect is off'),
      );
      return;
    }
    this.#state = 'offline';
    this.#outbox.offline();
    this.#dialer.connectionLost(error, this.#connectedAt);
  }

  /** Reports an error no promise carries. */
  #report(error: MqttClientError): void {
    this.emit('error', error);
  }

  /** Closed for good: reject everything pending, end iterators. */
  #shutdown(error: Error): void {
    const first = !this.#shutDown;
    this.#shutDown = true;
    this.#state = 'closed';
    this.#connection?.destroy();
    this.#connection = undefined;
    const reason =
      error instanceof MqttClientError && error.code === ClientErrorCode.CLIENT_CLOSED
        ? error
        : new MqttClientError(ClientErrorCode.CLIENT_CLOSED, `client closed: ${error.message}`, {
            cause: error,
            reasonCode: (error as MqttClientError).reasonCode,
          });
    this.#dialer.stop(reason, error);
    this.#outbox.rejectAll(reason);
    this.#requests.close(reason);
    this.#inbox.close();
    this.#drained.release();
    if (first) {
      this.#storeClosed = this.#outbox.closeStore();
      this.emit('close');
    }
  }
}

function closedError(): MqttClientError {
  return new MqttClientError(ClientErrorCode.CLIENT_CLOSED, 'the client is closed');
}
