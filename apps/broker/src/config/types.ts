import type { AuthThrottleOptions } from '@x/broker';
import type { Access, AclRule, AuthRule } from '@x/broker-auth';
import type { AuthBackendsConfig } from './auth-backends.js';
import type { BridgeConfig } from './bridges.js';
import type { TraceConfig } from './trace.js';

/** Limits every listener accepts. */
export interface ListenerLimits {
  /** Simultaneous connections on this listener; beyond it new ones are closed at once. Default 10 000. */
  maxConnections?: number;
  /** New connections per second on this listener; beyond it they are closed at once. 0: no limit. Default 0. */
  connectionRate?: number;
  /** Largest MQTT packet read from a client of this listener, in bytes. Default: the broker's. */
  maxPacketSize?: number;
}

export interface TlsFiles {
  /** PEM certificate chain file. */
  cert: string;
  /** PEM private key file. */
  key: string;
  /** PEM CA bundle used to verify client certificates. */
  ca?: string;
  /** Ask clients for a certificate. Default false. */
  requestCert?: boolean;
  /** Refuse clients without a certificate signed by `ca` (when `requestCert`). Default true. */
  rejectUnauthorized?: boolean;
  /** Use the client certificate's subject CN as the MQTT user name. Default false. */
  cnAsUsername?: boolean;
}

export type ListenerConfig =
  | ({ type: 'tcp'; host: string; port: number } & ListenerLimits)
  | ({ type: 'tls'; host: string; port: number } & TlsFiles & ListenerLimits)
  | ({
      type: 'ws';
      host: string;
      port: number;
      path: string;
      trustProxy?: boolean;
      /** Web page origins allowed to connect (browsers send one); default none. */
      allowedOrigins?: string[];
    } & ListenerLimits)
  | ({
      type: 'wss';
      host: string;
      port: number;
      path: string;
      trustProxy?: boolean;
      allowedOrigins?: string[];
    } & TlsFiles &
      ListenerLimits)
  | ({ type: 'unix'; path: string } & ListenerLimits);

export type ListenerType = ListenerConfig['type'];

export interface HttpConfig {
  host: string;
  port: number;
  /** Bearer token for /api/v1/. Without one the management API answers 403. */
  token?: string;
  /** File holding the bearer token (first line). */
  tokenFile?: string;
  /** Serve the web dashboard at `/` (it logs in with the token). Default true. */
  dashboard?: boolean;
}

/** The ledger's settings, plus the other auth sources (Mosquitto files, backends) chained before it. */
export interface AuthConfig extends AuthBackendsConfig {
  /**
   * Let clients in without credentials (no auth rules: everyone; with rules: clients that send no
   * user name and match no rule). Default: true only when every listener is on loopback.
   */
  allowAnonymous?: boolean;
  /**
   * Check read access per delivered message too (a `deny` inside a granted subscription), at a
   * cost per message. Default false: read access is checked when subscribing.
   */
  checkDelivery?: boolean;
  /** A YAML or JSON file with `auth`, `acl` and `aclDefault`, reloaded on SIGHUP. */
  file?: string;
  rules?: AuthRule[];
  acl?: AclRule[];
  aclDefault?: Access;
}

export const LogLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LogLevels)[number];
export const LogFormats = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LogFormats)[number];

/** Options passed to the broker core as they are (see @x/broker `BrokerOptions`). */
export interface CoreConfig {
  maxPacketSize?: number;
  receiveMaximum?: number;
  maxInflight?: number;
  maxQueuedMessages?: number;
  queueQos0Messages?: boolean;
  maxTopicAliasBytes?: number;
  maxTopicLevels?: number;
  maxQueuedBytes?: number;
  maxHeldBytes?: number;
  stalledConsumerTimeout?: number;
  maxRetainedBytes?: number;
  maxSessions?: number;
  neverExpireAfter?: number;
  sysTopicsWritable?: boolean;
  bindClientIdToUsername?: boolean;
  maxOutboundBytes?: number;
  connectTimeout?: number;
  /** Password-guess throttling (see @x/broker `AuthThrottleOptions`); false turns it off. */
  authThrottle?: AuthThrottleOptions | false;
  maxKeepAlive?: number;
  maxSessionExpiry?: number;
  topicAliasMaximum?: number;
  topicAliasesToClients?: boolean;
  maximumQoS?: 0 | 1 | 2;
  retainAvailable?: boolean;
  maxRetained?: number;
  sweepInterval?: number;
  sysInterval?: number;
  maxConnections?: number;
  clientIdPrefix?: string;
  sharedSubscriptionStrategy?: 'round-robin' | 'random';
}

/** When the embedded store lets the broker acknowledge a QoS 1/2 message (see `StorageConfig`). */
export const Durabilities = ['acknowledged', 'fsync', 'interval'] as const;
export type Durability = (typeof Durabilities)[number];

export type StorageConfig =
  /** Sessions and retained messages live as long as the process. */
  | { type: 'memory' }
  /**
   * The default: kept in a SQLite file under `dataDir` (default './data'). `durability`:
   * 'acknowledged' (the default) acknowledges QoS 1/2 once the commit reached the operating system
   * (survives `kill -9` and any crash of the broker); 'fsync' once it is fsynced (survives a power
   * cut too; slower, bound by the disk's fsync latency); 'interval' writes every `intervalMs`, as
   * Mosquitto's autosave. `commitWindowMs` (default 4): the least time between two writes while
   * most changes cancel out within a batch (online subscribers acknowledging quickly); 0 never waits.
   */
  | {
      type: 'embedded';
      dataDir: string;
      durability?: Durability;
      intervalMs?: number;
      commitWindowMs?: number;
    }
  /** Kept in Redis too, so persistent sessions, queued and retained messages survive a restart. */
  | { type: 'redis'; url: string; prefix?: string; commitWindowMs?: number };

/**
 * Cluster mode: this process is one node of a broker spread over several processes, coordinated
 * through Redis at `url`, which is also the store every node shares (the `storage` setting is then
 * not used).
 */
export interface ClusterConfig {
  /** `redis[s]://[[user]:password@]host[:port][/db]`. */
  url: string;
  /** This node's id. Default: generated once and kept in `<dataDir>/cluster-node-id`. */
  nodeId?: string;
  /** Key prefix of the shared store and the cluster. Default 'mqtt:'. */
  prefix?: string;
  /** Milliseconds a node's lease lasts without a heartbeat. Default 3000. */
  leaseMs?: number;
  /**
   * The URL's host is one node of a Redis Cluster (the others are discovered); the shared store
   * and the cluster's own keys then use it as a cluster. Default false.
   */
  redisCluster?: boolean;
}

/** The whole effective configuration of `mqtt-broker`. */
export interface Config {
  listeners: ListenerConfig[];
  http: HttpConfig | false;
  auth: AuthConfig;
  broker: CoreConfig;
  storage: StorageConfig;
  /** Cluster mode (see {@link ClusterConfig}). Default: off. */
  cluster?: ClusterConfig;
  log: { level: LogLevel; format: LogFormat };
  /** Milliseconds a graceful shutdown may take before the process exits anyway. Default 5000. */
  shutdownTimeout: number;
  /** Packet traces started with the broker (see `config/trace.ts`). Default none. */
  trace?: TraceConfig[];
  /** MQTT bridges to other brokers (see `bridges.ts`). Default none. */
  bridges?: BridgeConfig[];
}
