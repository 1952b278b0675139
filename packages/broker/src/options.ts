import { type AuthThrottleOptions, type ResolvedAuthThrottle, resolveAuthThrottle } from './auth-throttle.js';
import type { Logger } from './logger.js';
import type { Store } from './storage.js';

/** Broker options. Every limit is bounded and has a default documented here. */
export interface BrokerOptions {
  /** Where log lines go. Default: JSON lines on stderr at level `warn`. A pino logger fits. */
  logger?: Logger;
  /**
   * Where persistent sessions, their messages and retained messages are kept across restarts (see
   * `Store`). The broker opens it in `start()`, commits to it once per event-loop turn, sends the
   * acknowledgements that promise durability only after the commit, and closes it in `close()`.
   * Default: none (everything lives in memory only).
   */
  store?: Store;
  /** Largest packet accepted from clients, in bytes (announced in CONNACK to v5 clients). Default 1 MiB. */
  maxPacketSize?: number;
  /** Receive Maximum announced to v5 clients: QoS 1/2 PUBLISHes a client may have unacknowledged. Default 65 535. */
  receiveMaximum?: number;
  /** Outbound in-flight window (QoS 1/2) for v3 clients and v5 clients that announce none. Default 32. */
  maxInflight?: number;
  /**
   * Messages queued per session while offline or while its in-flight window is full. Default 1000.
   * A QoS 1/2 message from a client for an online subscriber whose queue is full is not dropped: it
   * waits in that session's overflow and the publisher's PUBACK/PUBREC is held until the queue has
   * room (see `maxHeldBytes`, `stalledConsumerTimeout`).
   */
  maxQueuedMessages?: number;
  /**
   * Also queue QoS 0 messages for persistent sessions that are offline (within `maxQueuedMessages`),
   * as Mosquitto's `queue_qos0_messages` does. Default false: QoS 0 is only sent to connected
   * clients (section 4.1 allows either).
   */
  queueQos0Messages?: boolean;
  /**
   * Bytes buffered in a client's socket beyond which that client counts as slow: QoS 0 messages to it
   * are dropped and QoS 1/2 messages wait in its session queue. Default 1 MiB.
   */
  maxOutboundBytes?: number;
  /**
   * Output bytes one tick may produce before the broker stops reading from publishers until the
   * writes are out (fan-out backpressure instead of an in-memory queue). Default 16 MiB.
   */
  maxBytesPerTick?: number;
  /**
   * Throttling of password guessing for CONNECTs that carry a user name or password, whatever the
   * auth hooks: concurrent checks capped, waiting CONNECTs bounded (refused 0x89 Server busy beyond),
   * refusals delayed exponentially per address and per user name after repeated failures, failures
   * logged at warn (rate-limited, never the password). `false` turns it off. Default: see
   * `AuthThrottleOptions` (one check per CPU at once, at most 4; 1000 waiting, delays from 250 ms up to 5 s).
   */
  authThrottle?: AuthThrottleOptions | false;
  /** Milliseconds a new connection may take to send CONNECT. Default 10 000. */
  connectTimeout?: number;
  /**
   * Highest Keep Alive the broker accepts, in seconds: a client asking for more (or for 0) is told this
   * value as Server Keep Alive (v5). Default: none (the client's value is used).
   */
  maxKeepAlive?: number;
  /** Highest Session Expiry Interval granted, in seconds. Default 0xFFFFFFFF (never expire). */
  maxSessionExpiry?: number;
  /**
   * Topic Alias Maximum announced to v5 clients (client → server aliases). Default 10, as Mosquitto:
   * every alias costs memory on the broker for the life of the connection.
   */
  topicAliasMaximum?: number;
  /**
   * Bytes of topic names one connection may hold in client → server aliases; a client going past it
   * is disconnected (0x97 Quota exceeded). Default 64 KiB.
   */
  maxTopicAliasBytes?: number;
  /** Most levels in a topic name or filter; more is refused (0x90 / 0x8F). Default 128. */
  maxTopicLevels?: number;
  /** Bytes of payload and topic queued per session (besides `maxQueuedMessages`). Default 16 MiB. */
  maxQueuedBytes?: number;
  /**
   * Bytes of payload and topic one publisher may have waiting in full subscriber queues' overflow,
   * their acknowledgements held. Past it the broker reads no further PUBLISH from that publisher
   * until some are let go (it still reads its acknowledgements and pings). Default 1 MiB.
   */
  maxHeldBytes?: number;
  /**
   * Milliseconds an online subscriber may hold publishers back (messages in its overflow) without
   * progress: no acknowledgement and no socket drain that lets a queued message out. It is then
   * disconnected (v5: DISCONNECT 0x97 Quota exceeded); its overflow goes to its queue if the session
   * persists (within `maxQueuedMessages` / `maxQueuedBytes`, the rest dropped and counted; v5
   * publishers are told 0x97), and the publishers go on. Checked by the sweep (`sweepInterval`).
   * Default 30 000.
   */
  stalledConsumerTimeout?: number;
  /** Bytes of payload and topic in retained messages, over all topics. Default 256 MiB. */
  maxRetainedBytes?: number;
  /** Sessions kept, online or not; a CONNECT that would create one more is refused (0x97). Default 100 000. */
  maxSessions?: number;
  /**
   * Session Expiry Interval, in seconds, given to sessions that ask never to expire (v5 0xFFFFFFFF,
   * v3 clean session 0), like Mosquitto's `persistent_client_expiration`; 0xFFFFFFFF keeps them
   * forever. Default 0xFFFFFFFF.
   */
  neverExpireAfter?: number;
  /**
   * Client publishes to `$SYS/…` topics are refused (0x87) so that nobody can forge the broker's
   * figures, unless this is true (then the ACL decides). Default false.
   */
  sysTopicsWritable?: boolean;
  /**
   * A session belongs to the user name that created it: a connection with another user name (or
   * none) cannot take it over (CONNACK 0x87 / return code 5). Default false.
   */
  bindClientIdToUsername?: boolean;
  /**
   * Use topic aliases towards v5 clients that accept them; once a client's Topic Alias Maximum is
   * reached, the least recently used topic's alias is reassigned. Default false.
   */
  topicAliasesToClients?: boolean;
  /** Highest QoS supported; announced as Maximum QoS in CONNACK when below 2. Default 2. */
  maximumQoS?: 0 | 1 | 2;
  /** Retained messages supported. Default true. */
  retainAvailable?: boolean;
  /** Maximum number of retained messages kept; beyond it new topics are not retained. Default 100 000. */
  maxRetained?: number;
  /** Period of the keep-alive / expiry sweep in milliseconds. Default 1000. */
  sweepInterval?: number;
  /** Period of `$SYS` publications in milliseconds; 0 turns them off. Default 10 000. */
  sysInterval?: number;
  /**
   * With a store: the `$SYS` counters that changed are written on their own at most this often
   * (milliseconds). Any commit in between carries them, and `close()` writes the last ones; a crash
   * loses at most this long of counting. Default 60 000.
   */
  sysSaveInterval?: number;
  /** Maximum simultaneous connections over all listeners. Default 100 000. */
  maxConnections?: number;
  /** Prefix of generated client identifiers. Default 'auto-'. */
  clientIdPrefix?: string;
  /**
   * Response Information for v5 clients that request it (the base of their response topics, e.g.
   * 'responses/'). Default: none (not sent) [MQTT-3.1.2-28].
   */
  responseInformation?: string;
  /** Shared subscription member selection. Default 'round-robin'. */
  sharedSubscriptionStrategy?: 'round-robin' | 'random';
}

export type ResolvedOptions = Required<
  Omit<BrokerOptions, 'logger' | 'store' | 'maxKeepAlive' | 'responseInformation' | 'authThrottle'>
> & {
  authThrottle: ResolvedAuthThrottle | false;
  maxKeepAlive: number | undefined;
  responseInformation: string | undefined;
};

export function resolveOptions(options: BrokerOptions): ResolvedOptions {
  return {
    maxPacketSize: options.maxPacketSize ?? 1024 * 1024,
    receiveMaximum: options.receiveMaximum ?? 65_535,
    maxInflight: options.maxInflight ?? 32,
    maxQueuedMessages: options.maxQueuedMessages ?? 1000,
    queueQos0Messages: options.queueQos0Messages ?? false,
    maxOutboundBytes: options.maxOutboundBytes ?? 1024 * 1024,
    maxBytesPerTick: options.maxBytesPerTick ?? 16 * 1024 * 1024,
    authThrottle: resolveAuthThrottle(options.authThrottle),
    connectTimeout: options.connectTimeout ?? 10_000,
    maxKeepAlive: options.maxKeepAlive,
    maxSessionExpiry: options.maxSessionExpiry ?? 0xffffffff,
    topicAliasMaximum: options.topicAliasMaximum ?? 10,
    maxTopicAliasBytes: options.maxTopicAliasBytes ?? 64 * 1024,
    maxTopicLevels: options.maxTopicLevels ?? 128,
    maxQueuedBytes: options.maxQueuedBytes ?? 16 * 1024 * 1024,
    maxHeldBytes: options.maxHeldBytes ?? 1024 * 1024,
    stalledConsumerTimeout: options.stalledConsumerTimeout ?? 30_000,
    maxRetainedBytes: options.maxRetainedBytes ?? 256 * 1024 * 1024,
    maxSessions: options.maxSessions ?? 100_000,
    neverExpireAfter: options.neverExpireAfter ?? 0xffffffff,
    sysTopicsWritable: options.sysTopicsWritable ?? false,
    bindClientIdToUsername: options.bindClientIdToUsername ?? false,
    topicAliasesToClients: options.topicAliasesToClients ?? false,
    maximumQoS: options.maximumQoS ?? 2,
    retainAvailable: options.retainAvailable ?? true,
    maxRetained: options.maxRetained ?? 100_000,
    sweepInterval: options.sweepInterval ?? 1000,
    sysInterval: options.sysInterval ?? 10_000,
    sysSaveInterval: options.sysSaveInterval ?? 60_000,
    maxConnections: options.maxConnections ?? 100_000,
    clientIdPrefix: options.clientIdPrefix ?? 'auto-',
    sharedSubscriptionStrategy: options.sharedSubscriptionStrategy ?? 'round-robin',
    responseInformation: options.responseInformation,
  };
}
