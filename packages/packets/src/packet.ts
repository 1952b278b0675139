/**
 * The packets of MQTT 3.1 (protocol level 3), 3.1.1 (level 4) and 5.0 (level 5) as plain objects,
 * discriminated by `type`. Field names follow the specification's words (`packetId`, `topicFilter`,
 * `reasonCode`); v5 properties are camelCase.
 *
 * Lifetime rule: a decoded `payload` (and `correlationData`, `authenticationData`, `password`) may be
 * a view into the chunk the decoder was given. Copy it (`Buffer.from(view)`) before keeping it beyond
 * the handling of that chunk, e.g. as a retained message, when the chunk's memory may be reused.
 */

/** Protocol level from the CONNECT packet: 3 = MQTT 3.1, 4 = MQTT 3.1.1, 5 = MQTT 5.0. */
export type ProtocolVersion = 3 | 4 | 5;

export type QoS = 0 | 1 | 2;

/** A v5 User Property: a name/value pair. Order is kept and names may repeat. */
export type UserProperty = [name: string, value: string];

/**
 * Every MQTT 5 property (section 2.2.2.2). Which ones a packet may carry is enforced by the codec;
 * byte-valued flags are booleans.
 */
export interface Properties {
  /** 0x01, PUBLISH and will: payload is UTF-8 text. */
  payloadFormatIndicator?: boolean;
  /** 0x02, PUBLISH and will: seconds. */
  messageExpiryInterval?: number;
  /** 0x03, PUBLISH and will. */
  contentType?: string;
  /** 0x08, PUBLISH and will. */
  responseTopic?: string;
  /** 0x09, PUBLISH and will. */
  correlationData?: Uint8Array;
  /** 0x0B, PUBLISH (may repeat, one per matching subscription). */
  subscriptionIdentifiers?: number[];
  /** 0x0B, SUBSCRIBE (at most once, 1..268 435 455). */
  subscriptionIdentifier?: number;
  /** 0x11, CONNECT, CONNACK, DISCONNECT: seconds. */
  sessionExpiryInterval?: number;
  /** 0x12, CONNACK. */
  assignedClientIdentifier?: string;
  /** 0x13, CONNACK: seconds. */
  serverKeepAlive?: number;
  /** 0x15, CONNECT, CONNACK, AUTH. */
  authenticationMethod?: string;
  /** 0x16, CONNECT, CONNACK, AUTH. */
  authenticationData?: Uint8Array;
  /** 0x17, CONNECT. */
  requestProblemInformation?: boolean;
  /** 0x18, will: seconds. */
  willDelayInterval?: number;
  /** 0x19, CONNECT. */
  requestResponseInformation?: boolean;
  /** 0x1A, CONNACK. */
  responseInformation?: string;
  /** 0x1C, CONNACK, DISCONNECT. */
  serverReference?: string;
  /** 0x1F, every acknowledgement, DISCONNECT and AUTH. */
  reasonString?: string;
  /** 0x21, CONNECT, CONNACK: 1..65535. */
  receiveMaximum?: number;
  /** 0x22, CONNECT, CONNACK. */
  topicAliasMaximum?: number;
  /** 0x23, PUBLISH: 1..65535. */
  topicAlias?: number;
  /** 0x24, CONNACK. */
  maximumQoS?: 0 | 1;
  /** 0x25, CONNACK. */
  retainAvailable?: boolean;
  /** 0x26, every packet that has properties. */
  userProperties?: UserProperty[];
  /** 0x27, CONNECT, CONNACK: bytes, 1..4 294 967 295. */
  maximumPacketSize?: number;
  /** 0x28, CONNACK. */
  wildcardSubscriptionAvailable?: boolean;
  /** 0x29, CONNACK. */
  subscriptionIdentifiersAvailable?: boolean;
  /** 0x2A, CONNACK. */
  sharedSubscriptionAvailable?: boolean;
}

export interface Will {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  /** v5 will properties (will delay interval, message expiry, …). */
  properties?: Properties;
}

export interface ConnectPacket {
  type: 'connect';
  protocolVersion: ProtocolVersion;
  /** 'MQTT' for levels 4 and 5, 'MQIsdp' for level 3; derived from `protocolVersion` when encoding. */
  protocolName?: string;
  clientId: string;
  /** Clean Session (v3) / Clean Start (v5). */
  clean: boolean;
  /** Keep Alive in seconds; 0 turns it off. */
  keepalive: number;
  username?: string;
  password?: Uint8Array;
  will?: Will;
  properties?: Properties;
}

export interface ConnackPacket {
  type: 'connack';
  sessionPresent: boolean;
  /** v5 Connect Reason Code, or the v3 Connect Return Code (0..5). */
  reasonCode: number;
  properties?: Properties;
}

export interface PublishPacket {
  type: 'publish';
  /** Topic Name; '' when a v5 Topic Alias stands for it. */
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  /** Present exactly when qos > 0. */
  packetId?: number;
  properties?: Properties;
}

/** PUBACK, PUBREC, PUBREL and PUBCOMP share one shape. */
export interface AckPacket<T extends 'puback' | 'pubrec' | 'pubrel' | 'pubcomp'> {
  type: T;
  packetId: number;
  /** v5 only; 0 (Success) when absent. */
  reasonCode?: number;
  properties?: Properties;
}
export type PubackPacket = AckPacket<'puback'>;
export type PubrecPacket = AckPacket<'pubrec'>;
export type PubrelPacket = AckPacket<'pubrel'>;
export type PubcompPacket = AckPacket<'pubcomp'>;

export interface Subscription {
  topicFilter: string;
  /** Maximum QoS requested. */
  qos: QoS;
  /** v5 subscription options; false / 0 when absent. */
  noLocal?: boolean;
  retainAsPublished?: boolean;
  retainHandling?: 0 | 1 | 2;
}

export interface SubscribePacket {
  type: 'subscribe';
  packetId: number;
  subscriptions: Subscription[];
  properties?: Properties;
}

export interface SubackPacket {
  type: 'suback';
  packetId: number;
  /** One per subscription: the granted QoS (0..2) or a failure code (0x80 and up). */
  reasonCodes: number[];
  properties?: Properties;
}

export interface UnsubscribePacket {
  type: 'unsubscribe';
  packetId: number;
  topicFilters: string[];
  properties?: Properties;
}

export interface UnsubackPacket {
  type: 'unsuback';
  packetId: number;
  /** v5 only: one per topic filter. */
  reasonCodes?: number[];
  properties?: Properties;
}

export interface PingreqPacket {
  type: 'pingreq';
}

export interface PingrespPacket {
  type: 'pingresp';
}

export interface DisconnectPacket {
  type: 'disconnect';
  /** v5 only; 0 (Normal disconnection) when absent. */
  reasonCode?: number;
  properties?: Properties;
}

export interface AuthPacket {
  type: 'auth';
  /** 0x00 Success, 0x18 Continue authentication, 0x19 Re-authenticate. */
  reasonCode: number;
  properties?: Properties;
}

export type Packet =
  | ConnectPacket
  | ConnackPacket
  | PublishPacket
  | PubackPacket
  | PubrecPacket
  | PubrelPacket
  | PubcompPacket
  | SubscribePacket
  | SubackPacket
  | UnsubscribePacket
  | UnsubackPacket
  | PingreqPacket
  | PingrespPacket
  | DisconnectPacket
  | AuthPacket;

export type PacketType = Packet['type'];
