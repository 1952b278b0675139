import type { ProtocolVersion } from '@x/packets';
import { GATHER_FROM } from './connection.js';
import { ClientErrorCode, MqttClientError } from './errors.js';
import type { InboxOptions } from './inbox.js';
import type { ClientOptions } from './options.js';
import { Backoff } from './reconnect.js';
import { type Endpoint, serverEndpoints } from './transports/transport.js';

/** The options the client fixes when it is created, checked and with their defaults applied. */
export interface ClientSettings {
  protocolVersion: ProtocolVersion;
  /** The URL's server, then `servers`. */
  endpoints: Endpoint[];
  /** Undefined when reconnecting is off. */
  backoff: Backoff | undefined;
  /** Retry a failed first connection with the backoff (connect() waits). */
  retryFirstConnect: boolean;
  followRedirects: boolean;
  /** Whether a reconnect asks the server for the session it kept (Clean Start / Clean Session 0). */
  resumable: boolean;
  inbox: InboxOptions;
  /** Most operations the outbox holds. */
  queueLimit: number;
  /** Milliseconds an operation may wait while offline. */
  operationTimeout: number;
  /** Operations in flight from which writes gather (see Connection). */
  gatherWritesFrom: number;
  gatherReads: boolean;
}

/**
 * Every option `connect()` knows (the type makes the compiler check it against ClientOptions): any
 * other key is a typo or an option of another library that would otherwise be silently ignored.
 */
const OPTION_NAMES: Record<keyof ClientOptions, 0> = {
  protocolVersion: 0,
  clientId: 0,
  clean: 0,
  cleanStart: 0,
  sessionExpiryInterval: 0,
  keepalive: 0,
  username: 0,
  password: 0,
  will: 0,
  properties: 0,
  connectTimeout: 0,
  pingTimeout: 0,
  reconnect: 0,
  reconnectPeriod: 0,
  retryFirstConnect: 0,
  signal: 0,
  servers: 0,
  followRedirects: 0,
  resubscribe: 0,
  queueLimit: 0,
  operationTimeout: 0,
  queueQoSZero: 0,
  outgoingStore: 0,
  manualAck: 0,
  autoAssignTopicAlias: 0,
  onAuth: 0,
  qos2ReplayGuard: 0,
  receiveMaximumSlack: 0,
  gatherWritesFrom: 0,
  gatherReads: 0,
  iteratorBufferSize: 0,
  transport: 0,
  ca: 0,
  cert: 0,
  key: 0,
  rejectUnauthorized: 0,
  servername: 0,
  noDelay: 0,
  wsOptions: 0,
};

/** What to use instead of MQTT.js options this client has no equivalent of under that name. */
const IN_THE_URL = 'give it in the URL or in servers';
const HINTS: Record<string, string> = {
  host: IN_THE_URL,
  hostname: IN_THE_URL,
  port: IN_THE_URL,
  protocol: IN_THE_URL,
  path: IN_THE_URL,
  protocolId: 'protocolVersion (3, 4 or 5) sets the protocol name',
  customHandleAcks: 'use manualAck',
  autoUseTopicAlias: 'use autoAssignTopicAlias',
  incomingStore: 'not supported: incoming QoS 2 state is kept in memory',
  reschedulePings: 'keep-alive already pings only when the connection is idle',
};

/** @throws MqttClientError INVALID_ARGUMENT naming the first option this client does not know. */
function checkOptionNames(options: ClientOptions): void {
  for (const name of Object.keys(options)) {
    if (name in OPTION_NAMES || (options as Record<string, unknown>)[name] === undefined) continue;
    const lower = name.toLowerCase();
    const near = Object.keys(OPTION_NAMES).find((known) => known.toLowerCase() === lower);
    const hint = HINTS[name] ?? (near ? `did you mean ${near}?` : 'see ClientOptions');
    throw new MqttClientError(ClientErrorCode.INVALID_ARGUMENT, `unknown option ${name}: ${hint}`);
  }
}

/**
 * Checks the options of `connect()` and applies their defaults, so that a bad value fails the
 * call at once instead of surfacing later, on some reconnect.
 * @throws MqttClientError INVALID_ARGUMENT; RangeError for inconsistent `reconnect` delays;
 * TypeError for a bad URL or server.
 */
export function clientSettings(url: string | undefined, options: ClientOptions): ClientSettings {
  checkOptionNames(options);
  const version = options.protocolVersion ?? 5;
  if (version !== 3 && version !== 4 && version !== 5) {
    throw new MqttClientError(
      ClientErrorCode.INVALID_ARGUMENT,
      `protocolVersion must be 3, 4 or 5, not ${version}`,
    );
  }
  let backoff: Backoff | undefined;
  const reconnect = options.reconnect ?? true;
  const period = options.reconnectPeriod;
  if (reconnect !== false && period !== 0) {
    backoff = new Backoff({
      ...(period !== undefined ? { initialDelay: period } : {}),
      ...(typeof reconnect === 'object' ? reconnect : {}),
    });
  }
  const retryFirstConnect = options.retryFirstConnect ?? false;
  if (retryFirstConnect && !backoff) {
    throw new MqttClientError(
      ClientErrorCode.INVALID_ARGUMENT,
      'retryFirstConnect needs reconnecting on (reconnect is false or reconnectPeriod 0)',
    );
  }
  const store = options.outgoingStore;
  if (
    store !== undefined &&
    !['list', 'put', 'release', 'delete', 'close'].every(
      (m) => typeof (store as unknown as Record<string, unknown>)[m] === 'function',
    )
  ) {
    throw new MqttClientError(
      ClientErrorCode.INVALID_ARGUMENT,
      'outgoingStore must have list, put, release, delete and close (an MQTT.js Store has not: use FileStore or IndexedDbStore)',
    );
  }
  const clean = options.cleanStart ?? options.clean ?? true;
  const sessionExpiry = options.sessionExpiryInterval ?? options.properties?.sessionExpiryInterval ?? 0;
  return {
    protocolVersion: version,
    endpoints: serverEndpoints(url, options.servers),
    backoff,
    retryFirstConnect,
    followRedirects: options.followRedirects ?? false,
    // A v5 server keeps the session past the connection only for a Session Expiry Interval above 0.
    resumable: version === 5 ? sessionExpiry > 0 : !clean,
    inbox: {
      manualAck: options.manualAck ?? false,
      receiveMaximum: options.properties?.receiveMaximum ?? 65_535,
      topicAliasMaximum: options.properties?.topicAliasMaximum ?? 0,
      qos2ReplayGuard: nonNegativeInteger(options.qos2ReplayGuard ?? 0, 'qos2ReplayGuard'),
      receiveMaximumSlack: slack(options.receiveMaximumSlack ?? 0),
    },
    queueLimit: options.queueLimit ?? 65_536,
    operationTimeout: positiveTime(options.operationTimeout ?? 600_000, 'operationTimeout'),
    gatherWritesFrom: nonNegativeInteger(options.gatherWritesFrom ?? GATHER_FROM, 'gatherWritesFrom'),
    gatherReads: options.gatherReads ?? true,
  };
}

/** A count option: a whole number, 0 or more (Infinity allowed where it means "no limit"). */
function nonNegativeInteger(value: number, name: string): number {
  if (!(value >= 0) || (!Number.isInteger(value) && value !== Number.POSITIVE_INFINITY)) {
    throw new MqttClientError(
      ClientErrorCode.INVALID_ARGUMENT,
      `${name} must be a whole number of 0 or more, not ${value}`,
    );
  }
  return value;
}

/** `receiveMaximumSlack`: 0 to 65 535 (no server can have more than 65 535 packet ids outstanding). */
function slack(value: number): number {
  if (!(value <= 65_535)) {
    throw new MqttClientError(
      ClientErrorCode.INVALID_ARGUMENT,
      `receiveMaximumSlack must be a whole number from 0 to 65535, not ${value}`,
    );
  }
  return nonNegativeInteger(value, 'receiveMaximumSlack');
}

/** A duration option in ms: above 0, Infinity for no limit. */
function positiveTime(value: number, name: string): number {
  if (!(value > 0)) {
    throw new MqttClientError(ClientErrorCode.INVALID_ARGUMENT, `${name} must be above 0 ms, not ${value}`);
  }
  return value;
}
