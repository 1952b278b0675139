import { hostname } from 'node:os';
import type { QoS } from '@x/packets';
import { filtersOverlap, isValidTopicFilter, isValidTopicName, parseSharedFilter } from '@x/topics';
import { BridgeError } from './errors.js';

/** Which way a topic is forwarded: `out` local → remote, `in` remote → local, `both`. */
export const BridgeDirections = ['in', 'out', 'both'] as const;
export type BridgeDirection = (typeof BridgeDirections)[number];

/** The MQTT versions a bridge speaks to its remote. */
export const BridgeProtocols = ['3.1.1', '5'] as const;
export type BridgeProtocol = (typeof BridgeProtocols)[number];

/** URL schemes a bridge connects with. */
export const BridgeSchemes = ['mqtt:', 'mqtts:', 'ws:', 'wss:'] as const;

/**
 * One forwarded topic space. A message on `localPrefix + X` (X matching `filter`) goes out as
 * `remotePrefix + X`, and one on `remotePrefix + X` comes in as `localPrefix + X`.
 */
export interface BridgeTopic {
  /** Topic filter, without the prefixes (`sensors/#`). */
  filter: string;
  direction: BridgeDirection;
  /** Highest QoS forwarded (the subscription's QoS on the side the messages come from). Default 0. */
  qos?: QoS;
  /** Prefix of the topics on this broker. Default ''. */
  localPrefix?: string;
  /** Prefix of the topics on the remote broker. Default ''. */
  remotePrefix?: string;
}

/** How a bridge reconnects: exponential backoff with full jitter. */
export interface BridgeReconnect {
  /** Milliseconds before the first retry. Default 1000. */
  initialDelay?: number;
  /** Longest wait between retries, ms. Default 30 000. */
  maxDelay?: number;
}

/** Options of one bridge. */
export interface BridgeOptions {
  /** Name in logs, the management API and `$SYS/broker/bridges/<name>/…`: letters, digits, `-`, `_`, `.`. */
  name: string;
  /** `mqtt://host:1883`, `mqtts://host:8883`, `ws://host/path`, `wss://…`. */
  url: string;
  /** MQTT version spoken to the remote. Default '5'. */
  protocol?: BridgeProtocol;
  /** Client id on the remote (its persistent session). Default `<hostname>.<name>`. */
  clientId?: string;
  username?: string;
  password?: string;
  /** TLS: trusted CA certificates (PEM text). Default: the system's. */
  ca?: string;
  /** TLS: client certificate (PEM text). */
  cert?: string;
  /** TLS: client private key (PEM text). */
  key?: string;
  /** TLS: verify the remote's certificate. Default true. */
  rejectUnauthorized?: boolean;
  /** TLS: SNI server name. Default: the URL's host name. */
  servername?: string;
  topics: BridgeTopic[];
  /** Keep Alive towards the remote, seconds. Default 60. */
  keepalive?: number;
  /**
   * v5 Session Expiry Interval asked of the remote, seconds: how long it keeps the bridge's
   * subscriptions and queued messages while the link is down. Default 604 800 (a week). v3.1.1
   * remotes keep a Clean Session 0 session as long as they are configured to.
   */
  sessionExpiryInterval?: number;
  reconnect?: BridgeReconnect;
  /** QoS 1/2 messages in flight per direction (the Receive Maximum announced on both links). Default 100. */
  inflight?: number;
  /**
   * v5: QoS 1/2 messages the remote may send beyond `inflight` before the remote link treats it as
   * the protocol error it is (DISCONNECT 0x93 Receive Maximum exceeded [MQTT-3.3.4-9]) and
   * reconnects. Mosquitto 2.0.x overshoots the Receive Maximum under bursts (eclipse/mosquitto#2301;
   * up to 100 past an `inflight` of 100 measured against 2.0.11); each such message is counted in the
   * status (`receiveMaximumOverruns`, `receiveMaximumOverrunPeak`). At most `inflight` + slack
   * messages from the remote are then held. 0 to 65 535; 0 is strict. Default: `inflight`.
   */
  receiveMaximumSlack?: number;
  /**
   * Bytes (payload and topic) of messages taken from this broker and not yet acknowledged by the
   * remote. Beyond it the bridge stops reading from this broker, so further messages wait in the
   * bridge's session here, bounded by the broker's `maxQueuedMessages` / `maxQueuedBytes` (QoS 0 ones
   * are dropped, counted and logged). Default 16 MiB.
   */
  queueBytes?: number;
  /** Client id of the bridge's session on this broker. Default `$bridge/<name>`. */
  localClientId?: string;
}

/** The options with every default filled in. */
export interface ResolvedBridgeOptions
  extends Required<
    Omit<BridgeOptions, 'username' | 'password' | 'ca' | 'cert' | 'key' | 'servername' | 'topics'>
  > {
  username: string | undefined;
  password: string | undefined;
  ca: string | undefined;
  cert: string | undefined;
  key: string | undefined;
  servername: string | undefined;
  topics: Required<BridgeTopic>[];
  reconnect: Required<BridgeReconnect>;
}

/** A problem in bridge options: where (`topics.1.filter`) and why. */
export interface BridgeOptionIssue {
  path: (string | number)[];
  message: string;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Checks what types cannot: the name, URL, filters, prefixes, and that a v3.1.1 link cannot echo its
 * own messages back (it has no No Local, so an `in` subscription on the remote may not overlap the
 * topics the bridge publishes there). Returns every problem; none means the options are usable.
 */
export function bridgeOptionIssues(options: BridgeOptions): BridgeOptionIssue[] {
  const issues: BridgeOptionIssue[] = [];
  const fail = (path: (string | number)[], message: string) => issues.push({ path, message });
  if (!NAME.test(options.name)) {
    fail(['name'], 'name must be 1 to 64 letters, digits, "-", "_" or "."');
  }
  let url: URL | undefined;
  try {
    url = new URL(options.url);
  } catch {
    fail(['url'], `url "${options.url}" is not a URL (e.g. mqtt://host:1883)`);
  }
  if (url && !(BridgeSchemes as readonly string[]).includes(url.protocol)) {
    fail(['url'], `url must start with ${BridgeSchemes.map((s) => `${s}//`).join(', ')}`);
  }
  if (url && url.hostname === '') fail(['url'], 'url needs a host');
  const tls = url?.protocol === 'mqtts:' || url?.protocol === 'wss:';
  for (const key of ['ca', 'cert', 'key', 'servername'] as const) {
    if (options[key] !== undefined && url && !tls) fail([key], `${key} needs an mqtts:// or wss:// url`);
  }
  if ((options.cert === undefined) !== (options.key === undefined)) {
    fail([options.cert === undefined ? 'cert' : 'key'], 'give both cert and key, or neither');
  }
  const slack = options.receiveMaximumSlack;
  if (slack !== undefined && !(Number.isInteger(slack) && slack >= 0 && slack <= 65_535)) {
    fail(['receiveMaximumSlack'], 'receiveMaximumSlack must be an integer from 0 to 65535');
  }
  if (options.password !== undefined && options.username === undefined) {
    fail(['password'], 'password needs a username');
  }
  if (!Array.isArray(options.topics) || options.topics.length === 0) {
    fail(['topics'], 'topics must list at least one { filter, direction }');
    return issues;
  }
  options.topics.forEach((topic, i) => {
    if (!isValidTopicFilter(topic.filter) || parseSharedFilter(topic.filter) !== undefined) {
      fail(
        ['topics', i, 'filter'],
        `filter "${topic.filter}" is not a valid topic filter (shared ones are not bridged)`,
      );
    }
    for (const key of ['localPrefix', 'remotePrefix'] as const) {
      const prefix = topic[key];
      // A prefix is the start of a topic name: no wildcards, and a topic must remain valid.
      if (prefix !== undefined && (prefix === '' || !isValidTopicName(`${prefix}x`))) {
        fail(['topics', i, key], `${key} "${prefix}" must be non-empty with no wildcards (+ #)`);
      }
    }
  });
  if ((options.protocol ?? '5') === '3.1.1') {
    // v3.1.1 has no No Local: what the bridge publishes on the remote would come back to it.
    const outs = options.topics.filter((t) => t.direction !== 'in');
    options.topics.forEach((topic, i) => {
      if (topic.direction === 'out') return;
      const inFilter = `${topic.remotePrefix ?? ''}${topic.filter}`;
      const echo = outs.find((o) => filtersOverlap(inFilter, `${o.remotePrefix ?? ''}${o.filter}`));
      if (echo) {
        fail(
          ['topics', i],
          `protocol 3.1.1 has no No Local: the remote subscription "${inFilter}" overlaps the out topics ` +
            `"${echo.remotePrefix ?? ''}${echo.filter}" and would echo them back; use protocol 5 or ` +
            'separate them with remotePrefix',
        );
      }
    });
  }
  return issues;
}

/** Fills in the defaults. @throws {BridgeError} INVALID_OPTIONS with the first problem. */
export function resolveBridgeOptions(options: BridgeOptions): ResolvedBridgeOptions {
  const issues = bridgeOptionIssues(options);
  if (issues.length > 0) {
    const first = issues[0]!;
    throw new BridgeError(
      'INVALID_OPTIONS',
      `bridge "${options.name}" ${first.path.join('.')}: ${first.message}`,
    );
  }
  const inflight = options.inflight ?? 100;
  return {
    name: options.name,
    url: options.url,
    protocol: options.protocol ?? '5',
    clientId: options.clientId ?? `${hostname()}.${options.name}`,
    username: options.username,
    password: options.password,
    ca: options.ca,
    cert: options.cert,
    key: options.key,
    rejectUnauthorized: options.rejectUnauthorized ?? true,
    servername: options.servername,
    topics: options.topics.map((t) => ({
      filter: t.filter,
      direction: t.direction,
      qos: t.qos ?? 0,
      localPrefix: t.localPrefix ?? '',
      remotePrefix: t.remotePrefix ?? '',
    })),
    keepalive: options.keepalive ?? 60,
    sessionExpiryInterval: options.sessionExpiryInterval ?? 604_800,
    reconnect: {
      initialDelay: options.reconnect?.initialDelay ?? 1000,
      maxDelay: options.reconnect?.maxDelay ?? 30_000,
    },
    inflight,
    receiveMaximumSlack: options.receiveMaximumSlack ?? inflight,
    queueBytes: options.queueBytes ?? 16 * 1024 * 1024,
    localClientId: options.localClientId ?? `$bridge/${options.name}`,
  };
}
