import type { ProtocolVersion } from '@x/packets';
import { GATHER_FROM } from './connection.js';
import { ClientErrorCode, MqttClientError } from './errors.js';
import type { InboxOptions } from './inbox.js';
import type { ClientOptions } from './options.js';
import { Backoff } from './reconnect.js';

/** The options the client fixes when it is created, checked and with their defaults applied. */
export interface ClientSettings {
  protocolVersion: ProtocolVersion;
  /** Undefined when reconnecting is off. */
  backoff: Backoff | undefined;
  /** Retry a failed first connection with the backoff (connect() waits). */
  retryFirstConnect: boolean;
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
 * Checks the options of `connect()` and applies their defaults, so that a bad value fails the
 * call at once instead of surfacing later, on some reconnect.
 * @throws MqttClientError INVALID_ARGUMENT; RangeError for inconsistent `reconnect` delays.
 */
export function clientSettings(options: ClientOptions): ClientSettings {
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
  const clean = options.cleanStart ?? options.clean ?? true;
  const sessionExpiry = options.sessionExpiryInterval ?? options.properties?.sessionExpiryInterval ?? 0;
  return {
    protocolVersion: version,
    backoff,
    retryFirstConnect,
    // A v5 server keeps the session past the connection only for a Session Expiry Interval above 0.
    resumable: version === 5 ? sessionExpiry > 0 : !clean,
    inbox: {
      manualAck: options.manualAck ?? false,
      receiveMaximum: options.properties?.receiveMaximum ?? 65_535,
      topicAliasMaximum: options.properties?.topicAliasMaximum ?? 0,
      qos2ReplayGuard: nonNegativeInteger(options.qos2ReplayGuard ?? 0, 'qos2ReplayGuard'),
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

/** A duration option in ms: above 0, Infinity for no limit. */
function positiveTime(value: number, name: string): number {
  if (!(value > 0)) {
    throw new MqttClientError(ClientErrorCode.INVALID_ARGUMENT, `${name} must be above 0 ms, not ${value}`);
  }
  return value;
}
