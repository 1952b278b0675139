import { ConnectReturnCode, ReasonCode } from '@x/packets';

/**
 * Every error the client raises is an `MqttClientError` with a stable `code` from this table and,
 * when the failure maps to one, the MQTT `reasonCode` (v5 reason code, or the v3 CONNACK return code).
 */
export const ClientErrorCode = {
  /** The server refused the connection: CONNACK with a failure reason code (see `reasonCode`). */
  CONNACK_REFUSED: 'CONNACK_REFUSED',
  /** No CONNACK within `connectTimeout`. */
  CONNECT_TIMEOUT: 'CONNECT_TIMEOUT',
  /** The network connection could not be opened or broke (see `cause`). */
  TRANSPORT_ERROR: 'TRANSPORT_ERROR',
  /** The connection closed while the operation was in flight and it cannot be kept for resume. */
  CONNECTION_CLOSED: 'CONNECTION_CLOSED',
  /** `end()` was called, or reconnecting gave up, before the operation completed. */
  CLIENT_CLOSED: 'CLIENT_CLOSED',
  /** The server broke the protocol (malformed packet, unexpected packet, bad topic alias, …). */
  PROTOCOL_ERROR: 'PROTOCOL_ERROR',
  /** The packet is larger than the server's Maximum Packet Size (reason code 0x95). */
  PACKET_TOO_LARGE: 'PACKET_TOO_LARGE',
  /** The operation waited offline (queued, or in flight for a session resume) longer than `operationTimeout`. */
  OPERATION_TIMEOUT: 'OPERATION_TIMEOUT',
  /** The offline queue is full (`queueLimit`). */
  QUEUE_FULL: 'QUEUE_FULL',
  /** The outgoing store failed to read or write (see `cause`); a publish it could not store is not sent. */
  STORE_ERROR: 'STORE_ERROR',
  /** The outgoing store is full (its `maxBytes`): the publish is not sent. */
  STORE_FULL: 'STORE_FULL',
  /** The server answered a PUBLISH with a failure reason code (0x80 and up). */
  PUBLISH_REJECTED: 'PUBLISH_REJECTED',
  /** No PINGRESP (or any other packet) within the ping timeout: the connection is dead. */
  KEEPALIVE_TIMEOUT: 'KEEPALIVE_TIMEOUT',
  /** The server sent DISCONNECT (see `reasonCode`). */
  SERVER_DISCONNECT: 'SERVER_DISCONNECT',
  /** Enhanced authentication failed or no `onAuth` handler was given for an AUTH packet. */
  AUTH_FAILED: 'AUTH_FAILED',
  /** A bad argument: invalid topic, QoS, option, … */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  /** A `request()` got no response in time. */
  REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  /** A 'message' listener threw or its promise rejected (see `cause`); delivery went on. */
  LISTENER_ERROR: 'LISTENER_ERROR',
  /** A `messages()` iterator was not read fast enough and its buffer overflowed. */
  ITERATOR_OVERFLOW: 'ITERATOR_OVERFLOW',
} as const;

export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

export interface MqttClientErrorOptions {
  reasonCode?: number | undefined;
  /** The spec rule the failure is about, e.g. `MQTT-3.3.2-8`. */
  clause?: string | undefined;
  cause?: unknown;
}

/** The one error class of the client: `code` says what failed, `reasonCode` carries the MQTT reason. */
export class MqttClientError extends Error {
  override name = 'MqttClientError';
  readonly code: ClientErrorCode;
  readonly reasonCode: number | undefined;
  readonly clause: string | undefined;

  constructor(code: ClientErrorCode, message: string, options: MqttClientErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.reasonCode = options.reasonCode;
    this.clause = options.clause;
  }
}

/** The server refused the connection; `reasonCode` is the CONNACK's reason (v5) or return code (v3). */
export class ConnackError extends MqttClientError {
  override name = 'ConnackError';
  readonly properties: Readonly<Record<string, unknown>> | undefined;

  constructor(reasonCode: number, properties?: Readonly<Record<string, unknown>>) {
    const reason = properties?.reasonString;
    super(
      ClientErrorCode.CONNACK_REFUSED,
      `connection refused: ${reasonName(reasonCode)} (0x${reasonCode.toString(16).padStart(2, '0')})${
        typeof reason === 'string' ? `: ${reason}` : ''
      }`,
      { reasonCode },
    );
    this.properties = properties;
  }
}

const REASON_NAMES: Record<number, string> = {
  [ReasonCode.Success]: 'Success',
  [ConnectReturnCode.UnacceptableProtocolVersion]: 'Unacceptable protocol version (v3)',
  [ConnectReturnCode.IdentifierRejected]: 'Identifier rejected (v3)',
  [ConnectReturnCode.ServerUnavailable]: 'Server unavailable (v3)',
  [ConnectReturnCode.BadUserNameOrPassword]: 'Bad user name or password (v3)',
  [ConnectReturnCode.NotAuthorized]: 'Not authorized (v3)',
  [ReasonCode.NoMatchingSubscribers]: 'No matching subscribers',
  [ReasonCode.NoSubscriptionExisted]: 'No subscription existed',
  [ReasonCode.ContinueAuthentication]: 'Continue authentication',
  [ReasonCode.ReAuthenticate]: 'Re-authenticate',
  [ReasonCode.UnspecifiedError]: 'Unspecified error',
  [ReasonCode.MalformedPacket]: 'Malformed Packet',
  [ReasonCode.ProtocolError]: 'Protocol Error',
  [ReasonCode.ImplementationSpecificError]: 'Implementation specific error',
  [ReasonCode.UnsupportedProtocolVersion]: 'Unsupported Protocol Version',
  [ReasonCode.ClientIdentifierNotValid]: 'Client Identifier not valid',
  [ReasonCode.BadUserNameOrPassword]: 'Bad User Name or Password',
  [ReasonCode.NotAuthorized]: 'Not authorized',
  [ReasonCode.ServerUnavailable]: 'Server unavailable',
  [ReasonCode.ServerBusy]: 'Server busy',
  [ReasonCode.Banned]: 'Banned',
  [ReasonCode.ServerShuttingDown]: 'Server shutting down',
  [ReasonCode.BadAuthenticationMethod]: 'Bad authentication method',
  [ReasonCode.KeepAliveTimeout]: 'Keep Alive timeout',
  [ReasonCode.SessionTakenOver]: 'Session taken over',
  [ReasonCode.TopicFilterInvalid]: 'Topic Filter invalid',
  [ReasonCode.TopicNameInvalid]: 'Topic Name invalid',
  [ReasonCode.PacketIdentifierInUse]: 'Packet Identifier in use',
  [ReasonCode.PacketIdentifierNotFound]: 'Packet Identifier not found',
  [ReasonCode.ReceiveMaximumExceeded]: 'Receive Maximum exceeded',
  [ReasonCode.TopicAliasInvalid]: 'Topic Alias invalid',
  [ReasonCode.PacketTooLarge]: 'Packet too large',
  [ReasonCode.MessageRateTooHigh]: 'Message rate too high',
  [ReasonCode.QuotaExceeded]: 'Quota exceeded',
  [ReasonCode.AdministrativeAction]: 'Administrative action',
  [ReasonCode.PayloadFormatInvalid]: 'Payload format invalid',
  [ReasonCode.RetainNotSupported]: 'Retain not supported',
  [ReasonCode.QoSNotSupported]: 'QoS not supported',
  [ReasonCode.UseAnotherServer]: 'Use another server',
  [ReasonCode.ServerMoved]: 'Server moved',
  [ReasonCode.SharedSubscriptionsNotSupported]: 'Shared Subscriptions not supported',
  [ReasonCode.ConnectionRateExceeded]: 'Connection rate exceeded',
  [ReasonCode.MaximumConnectTime]: 'Maximum connect time',
  [ReasonCode.SubscriptionIdentifiersNotSupported]: 'Subscription Identifiers not supported',
  [ReasonCode.WildcardSubscriptionsNotSupported]: 'Wildcard Subscriptions not supported',
};

/** Readable name of a reason code (v5 names; v3 CONNACK return codes 1..5 where they differ). */
export function reasonName(code: number): string {
  return REASON_NAMES[code] || `reason 0x${code.toString(16)}`;
}

/** A PROTOCOL_ERROR about something the server did, with the reason to DISCONNECT with. */
export function protocolViolation(
  what: string,
  clause: string | undefined,
  reasonCode: number = ReasonCode.ProtocolError,
): MqttClientError {
  return new MqttClientError(ClientErrorCode.PROTOCOL_ERROR, `protocol error from the server: ${what}`, {
    reasonCode,
    clause,
  });
}

/** A failure of the outgoing store as the client reports it (STORE_ERROR, unless already typed). */
export function storeError(error: unknown): MqttClientError {
  if (error instanceof MqttClientError) return error;
  return new MqttClientError(
    ClientErrorCode.STORE_ERROR,
    `outgoing store: ${error instanceof Error ? error.message : String(error)}`,
    { cause: error },
  );
}
