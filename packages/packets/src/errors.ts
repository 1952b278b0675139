import type { Packet, PacketType, ProtocolVersion } from './packet.js';

/**
 * Every error the codec raises: its `code`, the MQTT 5 reason code a peer would be sent for it, the
 * spec clause it enforces by default, and what it means. A clause is a normative statement id
 * (`MQTT-3.1.2-3`) or, where the rule has none, the section that states it (`2.2.2.2`).
 */
export const PacketErrors = {
  RESERVED_PACKET_TYPE: {
    reasonCode: 0x81,
    clause: '2.1.2',
    description: 'Packet type 0, or 15 (AUTH) before MQTT 5, is reserved.',
  },
  INVALID_FIXED_HEADER_FLAGS: {
    reasonCode: 0x81,
    clause: 'MQTT-2.1.3-1',
    description: 'The reserved flag bits of the fixed header differ from the values the spec lists.',
  },
  MALFORMED_VARIABLE_BYTE_INTEGER: {
    reasonCode: 0x81,
    clause: '1.5.5',
    description: 'A Variable Byte Integer runs longer than 4 bytes.',
  },
  NON_MINIMAL_VARIABLE_BYTE_INTEGER: {
    reasonCode: 0x81,
    clause: 'MQTT-1.5.5-1',
    description: 'A Variable Byte Integer does not use the minimum number of bytes.',
  },
  PACKET_TOO_LARGE: {
    reasonCode: 0x95,
    clause: '3.1.2.11.4',
    description: 'The packet is larger than the maximum packet size (or than MQTT allows).',
  },
  TRUNCATED_PACKET: {
    reasonCode: 0x81,
    clause: '2.1.4',
    description: 'A field runs past the end given by the Remaining Length.',
  },
  REMAINING_LENGTH_MISMATCH: {
    reasonCode: 0x81,
    clause: '2.1.4',
    description: 'Bytes are left over after the last field the packet can have.',
  },
  INCOMPLETE_PACKET: {
    reasonCode: 0x81,
    clause: '2.1.4',
    description: '`decode()` was given fewer bytes than the fixed header announces.',
  },
  TRAILING_BYTES: {
    reasonCode: 0x81,
    clause: '2.1.4',
    description: '`decode()` was given bytes after the end of the packet.',
  },
  INVALID_UTF8: {
    reasonCode: 0x81,
    clause: 'MQTT-1.5.4-1',
    description: 'A UTF-8 Encoded String is ill-formed (bad sequence, overlong form or surrogate).',
  },
  UTF8_NULL_CHARACTER: {
    reasonCode: 0x81,
    clause: 'MQTT-1.5.4-2',
    description: 'A UTF-8 Encoded String contains U+0000.',
  },
  STRING_TOO_LONG: {
    reasonCode: 0x81,
    clause: '1.5.4',
    description: 'A string or binary field is longer than 65535 bytes (encoding only).',
  },
  INVALID_QOS: {
    reasonCode: 0x81,
    clause: 'MQTT-3.3.1-4',
    description: 'A QoS value of 3.',
  },
  DUP_WITH_QOS0: {
    reasonCode: 0x81,
    clause: 'MQTT-3.3.1-2',
    description: 'A QoS 0 PUBLISH has the DUP flag set.',
  },
  TOPIC_NAME_WILDCARD: {
    reasonCode: 0x90,
    clause: 'MQTT-3.3.2-2',
    description: 'A Topic Name (PUBLISH or will) contains `+` or `#`.',
  },
  TOPIC_NAME_EMPTY: {
    reasonCode: 0x82,
    clause: 'MQTT-4.7.3-1',
    description: 'A Topic Name is empty (and, in MQTT 5, no Topic Alias stands for it).',
  },
  PACKET_ID_ZERO: {
    reasonCode: 0x82,
    clause: 'MQTT-2.2.1-3',
    description: 'A Packet Identifier is 0.',
  },
  MISSING_PACKET_ID: {
    reasonCode: 0x81,
    clause: 'MQTT-2.2.1-3',
    description: 'A packet that needs a Packet Identifier has none (encoding only).',
  },
  INVALID_PROTOCOL_NAME: {
    reasonCode: 0x84,
    clause: 'MQTT-3.1.2-1',
    description: "The CONNECT protocol name is not 'MQTT' (levels 4, 5) or 'MQIsdp' (level 3).",
  },
  UNSUPPORTED_PROTOCOL_VERSION: {
    reasonCode: 0x84,
    clause: 'MQTT-3.1.2-2',
    description: 'The CONNECT protocol level is not 3, 4 or 5.',
  },
  CONNECT_RESERVED_FLAG: {
    reasonCode: 0x81,
    clause: 'MQTT-3.1.2-3',
    description: 'The reserved bit 0 of the CONNECT flags is set.',
  },
  INVALID_WILL_FLAGS: {
    reasonCode: 0x81,
    clause: 'MQTT-3.1.2-11',
    description: 'Will QoS or Will Retain is set while the Will Flag is 0.',
  },
  PASSWORD_WITHOUT_USERNAME: {
    reasonCode: 0x81,
    clause: 'MQTT-3.1.2-22',
    description: 'MQTT 3.1/3.1.1: the Password Flag is set without the User Name Flag.',
  },
  EXPECTED_CONNECT: {
    reasonCode: 0x82,
    clause: 'MQTT-3.1.0-1',
    description: 'The first packet on a connection is not a CONNECT.',
  },
  INVALID_CONNACK_FLAGS: {
    reasonCode: 0x81,
    clause: 'MQTT-3.2.2-1',
    description: 'The reserved bits 7-1 of the CONNACK Acknowledge Flags are set.',
  },
  SESSION_PRESENT_ON_FAILURE: {
    reasonCode: 0x82,
    clause: 'MQTT-3.2.2-6',
    description: 'A CONNACK with a failure code has Session Present set.',
  },
  INVALID_REASON_CODE: {
    reasonCode: 0x82,
    clause: '2.4',
    description: 'A reason or return code is not one the packet may carry.',
  },
  INVALID_SUBSCRIPTION_OPTIONS: {
    reasonCode: 0x81,
    clause: 'MQTT-3.8.3-5',
    description: 'The reserved bits of the Subscription Options are set.',
  },
  INVALID_RETAIN_HANDLING: {
    reasonCode: 0x82,
    clause: '3.8.3.1',
    description: 'Retain Handling is 3.',
  },
  NO_LOCAL_ON_SHARED_SUBSCRIPTION: {
    reasonCode: 0x82,
    clause: 'MQTT-3.8.3-4',
    description: 'No Local is set on a shared subscription ($share/...).',
  },
  EMPTY_TOPIC_FILTER_LIST: {
    reasonCode: 0x82,
    clause: 'MQTT-3.8.3-2',
    description: 'A SUBSCRIBE or UNSUBSCRIBE carries no topic filter.',
  },
  EMPTY_REASON_CODE_LIST: {
    reasonCode: 0x81,
    clause: '3.9.3',
    description: 'A SUBACK or (v5) UNSUBACK carries no reason code.',
  },
  UNKNOWN_PROPERTY: {
    reasonCode: 0x81,
    clause: '2.2.2.2',
    description: 'A property identifier the spec does not define.',
  },
  PROPERTY_NOT_ALLOWED: {
    reasonCode: 0x82,
    clause: '2.2.2.2',
    description: 'A property that this packet type (or the will) may not carry.',
  },
  DUPLICATE_PROPERTY: {
    reasonCode: 0x82,
    clause: '2.2.2.2',
    description: 'A property that may appear once appears again.',
  },
  INVALID_PROPERTY_VALUE: {
    reasonCode: 0x82,
    clause: '2.2.2.2',
    description: 'A property value out of range (0 where 0 is forbidden, a flag other than 0 or 1).',
  },
  TOPIC_ALIAS_ZERO: {
    reasonCode: 0x94,
    clause: 'MQTT-3.3.2-8',
    description: 'A Topic Alias of 0.',
  },
  AUTHENTICATION_DATA_WITHOUT_METHOD: {
    reasonCode: 0x82,
    clause: '3.1.2.11.10',
    description: 'Authentication Data without an Authentication Method.',
  },
  INVALID_PACKET: {
    reasonCode: 0x81,
    clause: undefined,
    description: 'Encoding only: a packet object has a missing or out-of-range field.',
  },
} as const satisfies Record<string, { reasonCode: number; clause: string | undefined; description: string }>;

export type PacketErrorCode = keyof typeof PacketErrors;

export interface MqttProtocolErrorOptions {
  /** Overrides the clause of the error table when a more precise one applies. */
  clause?: string | undefined;
  /** Byte offset from the start of the packet, when the error is about one byte. */
  offset?: number | undefined;
  packetType?: PacketType | undefined;
  protocolVersion?: ProtocolVersion | undefined;
  cause?: unknown;
}

/**
 * The one error the codec throws for bad bytes or bad packets. `reasonCode` is the MQTT 5 reason
 * code to answer with (CONNACK or DISCONNECT), `clause` the spec rule that was broken, `code` its
 * entry in {@link PacketErrors}.
 */
export class MqttProtocolError extends Error {
  override name = 'MqttProtocolError';
  readonly code: PacketErrorCode;
  readonly reasonCode: number;
  readonly clause: string | undefined;
  /** Byte offset from the start of the packet, when the error concerns one byte. */
  readonly offset: number | undefined;
  /** The packet being decoded or encoded, when known. */
  readonly packetType: PacketType | undefined;
  /** The protocol level in force (for a failing CONNECT: its level, once read), when known. */
  readonly protocolVersion: ProtocolVersion | undefined;
  /**
   * Set by {@link Decoder.push}: the whole packets the failing chunk completed before the bad bytes,
   * in order. Empty when none, and on every later throw of the same error.
   */
  packetsBefore: Packet[] = [];

  constructor(code: PacketErrorCode, message: string, options: MqttProtocolErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const entry = PacketErrors[code];
    this.code = code;
    this.reasonCode = entry.reasonCode;
    this.clause = options.clause ?? entry.clause;
    this.offset = options.offset;
    this.packetType = options.packetType;
    this.protocolVersion = options.protocolVersion;
  }
}
