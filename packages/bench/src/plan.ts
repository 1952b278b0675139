import type { QoS } from '@x/packets';
import type { ScenarioName } from './result.js';
import type { TlsOptions } from './transports.js';

/** Options every scenario shares. Defaults are filled in by `resolveOptions` in options.ts. */
export interface CommonOptions {
  /** Broker address (`tcp://`, `mqtt://`, `tls://`, `mqtts://`, `ws://`, `wss://`, `:1883`). */
  broker: string;
  /**
   * Publishers connect to these addresses in turn (publisher i to entry i mod length) instead of
   * `broker`: a workload spread over the nodes of a cluster. Empty: `broker`.
   */
  publisherBrokers: string[];
  /** Subscribers (and stress subscribers) likewise. Empty: `broker`. */
  subscriberBrokers: string[];
  /**
   * Source addresses the client sockets bind to, in turn (empty: the system's choice). Each has its
   * own ephemeral ports; about 10 000 connections per address keep bind() quick.
   */
  sourceAddresses: string[];
  tls: TlsOptions;
  /** 4 = MQTT 3.1.1 (default), 5 = MQTT 5.0. */
  protocolVersion: 4 | 5;
  publisherQos: QoS;
  subscriberQos: QoS;
  /** Payload bytes per message, at least 28 (the bench header). */
  payloadSize: number;
  /** Clean Session / Clean Start (default true); false keeps sessions. */
  clean: boolean;
  /** v5 Session Expiry Interval in seconds when `clean` is false (default 3600). */
  sessionExpiry: number;
  username?: string;
  password?: string;
  /** Keep Alive in seconds (default 30). */
  keepalive: number;
  retain: boolean;
  /** Per connect / subscribe / publish wait, mqtt-stresser's `-timeout` (default 5000 ms). */
  timeoutMs: number;
  /** The whole run stops and reports after this many milliseconds (default 60 000). */
  globalTimeoutMs: number;
  /** Connections started per ramp-up batch (default 100). */
  rampUpSize: number;
  /** Pause between ramp-up batches (default 0; 500 ms for `stress`, as mqtt-stresser). */
  rampUpDelayMs: number;
  /** Connection attempts per second, 0 = as fast as possible. */
  connectRate: number;
  /** Our cap on QoS 1/2 publishes in flight per publisher (default 100). */
  maxInflight: number;
  /** Worker threads the clients are spread over (default 1: the main thread). */
  workers: number;
  /** Topic prefix (default `mqtt-bench/<run id>`). */
  topicBase: string;
  /** Client id prefix (default `mqtt-bench-<host>-<run id>`). */
  clientIdPrefix: string;
  /** Random per run; stamped into payloads so stray messages of other runs are told apart. */
  runTag: number;
}

/** `stress`: the mqtt-stresser workload. */
export interface StressOptions {
  /** mqtt-stresser workers; each has a subscriber and a publisher connection (default 10). */
  numClients: number;
  /** Messages per worker (default 10). */
  numMessages: number;
  /** Pause after every publish, mqtt-stresser's `-pause-between-messages` (default 0). */
  pauseBetweenMessagesMs: number;
  /** Messages the subscriber reads without acknowledging while its worker publishes (paho: 100). */
  holdLimit: number;
  /** Prints what mqtt-stresser's labels say instead of reproducing its two printing bugs. */
  fixReport: boolean;
}

/** `pub`, `sub` and `latency`: separate publisher and subscriber fleets. */
export interface FleetOptions {
  publishers: number;
  subscribers: number;
  /** Publisher i publishes to `<topicBase>/<i mod topics>` (default 1). */
  topics: number;
  /** Subscriber j subscribes to `<topicBase>/+` instead of `<topicBase>/<j mod topics>`. */
  wildcard: boolean;
  /** Messages per publisher; 0 = until `durationMs` ends. */
  numMessages: number;
  /** Publishing time when `numMessages` is 0. */
  durationMs: number;
  /** Total target rate in messages per second over all publishers (open loop); 0 = closed loop. */
  rate: number;
  /**
   * Messages scheduled in the first `warmupMs` of publishing are delivered and accounted for, but
   * their latency is not recorded: both ends compile their hot paths and size their heaps then
   * (default 1000 ms for `latency` without `numMessages`, 0 otherwise). With `durationMs`, publishing
   * lasts this much longer; with `numMessages`, the warm-up's messages are part of the count.
   */
  warmupMs: number;
  /** After publishing, wait at most this long for outstanding deliveries (default 5000 ms). */
  drainTimeoutMs: number;
}

/** `conn`: connection storm. */
export interface ConnOptions {
  clients: number;
  /** Keep the connections open this long once all are up (default 0). */
  holdMs: number;
  /** Each connection subscribes to a topic of its own once connected (default false). */
  subscribe: boolean;
}

/** Everything an agent needs to run its share of a scenario. */
export interface AgentPlan {
  scenario: ScenarioName;
  common: CommonOptions;
  stress?: StressOptions;
  fleet?: FleetOptions;
  conn?: ConnOptions;
  /** This agent's index and the number of agents: client i belongs to agent i mod count. */
  agentIndex: number;
  agentCount: number;
  /** Subscribers each publisher's topic reaches, by publisher index (fleet scenarios). */
  fanout?: number[];
  hostname: string;
}
