/**
 * Every MQTT 5 reason code by name (section 2.4). Several names share a value, as in the spec:
 * 0x00 is Success, Normal disconnection and Granted QoS 0.
 */
export const ReasonCode = {
  Success: 0x00,
  NormalDisconnection: 0x00,
  GrantedQoS0: 0x00,
  GrantedQoS1: 0x01,
  GrantedQoS2: 0x02,
  DisconnectWithWillMessage: 0x04,
  NoMatchingSubscribers: 0x10,
  NoSubscriptionExisted: 0x11,
  ContinueAuthentication: 0x18,
  ReAuthenticate: 0x19,
  UnspecifiedError: 0x80,
  MalformedPacket: 0x81,
  ProtocolError: 0x82,
  ImplementationSpecificError: 0x83,
  UnsupportedProtocolVersion: 0x84,
  ClientIdentifierNotValid: 0x85,
  BadUserNameOrPassword: 0x86,
  NotAuthorized: 0x87,
  ServerUnavailable: 0x88,
  ServerBusy: 0x89,
  Banned: 0x8a,
  ServerShuttingDown: 0x8b,
  BadAuthenticationMethod: 0x8c,
  KeepAliveTimeout: 0x8d,
  SessionTakenOver: 0x8e,
  TopicFilterInvalid: 0x8f,
  TopicNameInvalid: 0x90,
  PacketIdentifierInUse: 0x91,
  PacketIdentifierNotFound: 0x92,
  ReceiveMaximumExceeded: 0x93,
  TopicAliasInvalid: 0x94,
  PacketTooLarge: 0x95,
  MessageRateTooHigh: 0x96,
  QuotaExceeded: 0x97,
  AdministrativeAction: 0x98,
  PayloadFormatInvalid: 0x99,
  RetainNotSupported: 0x9a,
  QoSNotSupported: 0x9b,
  UseAnotherServer: 0x9c,
  ServerMoved: 0x9d,
  SharedSubscriptionsNotSupported: 0x9e,
  ConnectionRateExceeded: 0x9f,
  MaximumConnectTime: 0xa0,
  SubscriptionIdentifiersNotSupported: 0xa1,
  WildcardSubscriptionsNotSupported: 0xa2,
} as const;

export type ReasonCodeName = keyof typeof ReasonCode;

/**
 * True for a reason code that reports a failure: 0x80 (Unspecified error) and above (section 2.4),
 * which also covers the 0x80 Failure of a v3 SUBACK.
 */
export function isFailureReasonCode(reasonCode: number): boolean {
  return reasonCode >= ReasonCode.UnspecifiedError;
}

const names = new Map<number, ReasonCodeName>();
for (const [name, code] of Object.entries(ReasonCode) as [ReasonCodeName, number][]) {
  // The first name listed wins for shared values (0x00 reads "Success").
  if (!names.has(code)) names.set(code, name);
}

/**
 * The name of an MQTT 5 reason code (`0x87` → `'NotAuthorized'`), or `undefined` for a value the
 * spec does not define. For 0x00 it answers `'Success'`.
 */
export function reasonCodeName(code: number): ReasonCodeName | undefined {
  return names.get(code);
}

/** The Connect Return Codes of MQTT 3.1 and 3.1.1 CONNACK packets (section 3.2.2.3 of 3.1.1). */
export const ConnectReturnCode = {
  Accepted: 0,
  UnacceptableProtocolVersion: 1,
  IdentifierRejected: 2,
  ServerUnavailable: 3,
  BadUserNameOrPassword: 4,
  NotAuthorized: 5,
} as const;

export type ConnectReturnCodeName = keyof typeof ConnectReturnCode;

/**
 * Maps an MQTT 5 Connect Reason Code to the closest MQTT 3.1/3.1.1 Connect Return Code, so a broker
 * can answer a v3 client with the outcome it computed in v5 terms. Unknown failures become 3
 * (Server unavailable).
 */
export function connectReturnCodeFor(reasonCode: number): number {
  switch (reasonCode) {
    case ReasonCode.Success:
      return ConnectReturnCode.Accepted;
    case ReasonCode.UnsupportedProtocolVersion:
      return ConnectReturnCode.UnacceptableProtocolVersion;
    case ReasonCode.ClientIdentifierNotValid:
      return ConnectReturnCode.IdentifierRejected;
    case ReasonCode.BadUserNameOrPassword:
    case ReasonCode.BadAuthenticationMethod:
      return ConnectReturnCode.BadUserNameOrPassword;
    case ReasonCode.NotAuthorized:
    case ReasonCode.Banned:
      return ConnectReturnCode.NotAuthorized;
    default:
      return ConnectReturnCode.ServerUnavailable;
  }
}

const set = (...codes: number[]): ReadonlySet<number> => new Set(codes);

/** The reason codes each v5 packet may carry (the tables of sections 3.2.2.2 … 3.15.2.1). */
export const allowedReasonCodes = {
  // [MQTT-3.2.2-8]
  connack: set(
    0x00,
    0x80,
    0x81,
    0x82,
    0x83,
    0x84,
    0x85,
    0x86,
    0x87,
    0x88,
    0x89,
    0x8a,
    0x8c,
    0x90,
    0x95,
    0x97,
    0x99,
    0x9a,
    0x9b,
    0x9c,
    0x9d,
    0x9f,
  ),
  // [MQTT-3.4.2-1] and [MQTT-3.5.2-1]
  puback: set(0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99),
  pubrec: set(0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99),
  // [MQTT-3.6.2-1] and [MQTT-3.7.2-1]
  pubrel: set(0x00, 0x92),
  pubcomp: set(0x00, 0x92),
  // [MQTT-3.9.3-1]
  suback: set(0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2),
  // [MQTT-3.11.3-1]
  unsuback: set(0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91),
  // [MQTT-3.14.2-1]
  disconnect: set(
    0x00,
    0x04,
    0x80,
    0x81,
    0x82,
    0x83,
    0x87,
    0x89,
    0x8b,
    0x8d,
    0x8e,
    0x8f,
    0x90,
    0x93,
    0x94,
    0x95,
    0x96,
    0x97,
    0x98,
    0x99,
    0x9a,
    0x9b,
    0x9c,
    0x9d,
    0x9e,
    0x9f,
    0xa0,
    0xa1,
    0xa2,
  ),
  // [MQTT-3.15.2-1]
  auth: set(0x00, 0x18, 0x19),
} as const;

/** The return codes of a v3.1/3.1.1 SUBACK: granted QoS 0..2, or 0x80 Failure. */
export const v3SubackReturnCodes: ReadonlySet<number> = set(0x00, 0x01, 0x02, 0x80);
