import type {
  AckPacket,
  AuthPacket,
  ConnackPacket,
  ConnectPacket,
  DisconnectPacket,
  Packet,
  PacketType,
  ProtocolVersion,
  PublishPacket,
  SubackPacket,
  SubscribePacket,
  UnsubackPacket,
  UnsubscribePacket,
} from './packet.js';
import { PropertyContext, propertiesLength, writeProperties } from './properties.js';
import { allowedReasonCodes } from './reason-codes.js';
import { MAX_VARIABLE_BYTE_INTEGER, vbiSize, writeVbi } from './vbi.js';
import {
  binaryLength,
  invalid,
  isU16,
  topicNameLength,
  utf8Length,
  writeBinary,
  writeString,
  writeU16,
  writeUtf8,
} from './writer.js';

type AnyAck = AckPacket<'puback' | 'pubrec' | 'pubrel' | 'pubcomp'>;

const TYPE_NUMBER: Record<PacketType, number> = {
  connect: 1,
  connack: 2,
  publish: 3,
  puback: 4,
  pubrec: 5,
  pubrel: 6,
  pubcomp: 7,
  subscribe: 8,
  suback: 9,
  unsubscribe: 10,
  unsuback: 11,
  pingreq: 12,
  pingresp: 13,
  disconnect: 14,
  auth: 15,
};

/*
 * Encoding measures first, then writes once. The measuring pass validates and leaves the property
 * block sizes here for the writing pass that always follows it synchronously, so neither the
 * properties nor their strings are measured twice.
 */
let propsLen = 0;
let willPropsLen = 0;
let topicLen = 0;

function checkVersion(v: ProtocolVersion, type: PacketType): void {
  if (v !== 3 && v !== 4 && v !== 5)
    invalid('INVALID_PACKET', type, `protocol version ${String(v)} is not 3, 4 or 5`);
}

function checkPacketId(id: number | undefined, type: PacketType): void {
  if (id === undefined) invalid('MISSING_PACKET_ID', type, 'packet identifier missing');
  // [MQTT-2.2.1-3]
  if (id === 0) invalid('PACKET_ID_ZERO', type, 'packet identifier 0');
  if (!isU16(id)) invalid('INVALID_PACKET', type, `packet identifier ${id} is not an integer 1..65535`);
}

function checkQos(qos: number, type: PacketType, field: string): void {
  if (qos !== 0 && qos !== 1 && qos !== 2)
    invalid('INVALID_QOS', type, `${field} ${String(qos)} is not 0, 1 or 2`);
}

function propertyBlock(len: number): number {
  return vbiSize(len) + len;
}

function publishLength(p: PublishPacket, v: ProtocolVersion): number {
  const qos = p.qos;
  checkQos(qos, 'publish', 'QoS');
  // [MQTT-3.3.1-2]
  if (p.dup && qos === 0) invalid('DUP_WITH_QOS0', 'publish', 'DUP set on a QoS 0 message');
  topicLen = topicNameLength(p.topic, 'topic name', 'publish');
  let len = 2 + topicLen;
  if (qos !== 0) {
    checkPacketId(p.packetId, 'publish');
    len += 2;
  }
  if (v === 5) {
    propsLen = propertiesLength(p.properties, PropertyContext.publish, 'publish');
    len += propertyBlock(propsLen);
    if (p.topic === '' && p.properties?.topicAlias === undefined) {
      invalid('TOPIC_NAME_EMPTY', 'publish', 'empty topic name without a topic alias', '3.3.4');
    }
  } else if (p.topic === '') {
    // [MQTT-4.7.3-1]
    invalid('TOPIC_NAME_EMPTY', 'publish', 'empty topic name');
  }
  const payload = p.payload;
  if (!(payload instanceof Uint8Array)) invalid('INVALID_PACKET', 'publish', 'payload must be a Uint8Array');
  return len + payload.length;
}

function writePublish(buf: Buffer, pos: number, p: PublishPacket, v: ProtocolVersion): number {
  pos = writeString(buf, pos, p.topic, topicLen);
  if (p.qos !== 0) pos = writeU16(buf, pos, p.packetId!);
  if (v === 5) pos = writeProperties(buf, pos, p.properties, propsLen);
  const payload = p.payload;
  buf.set(payload, pos);
  return pos + payload.length;
}

function ackReasonCode(p: AnyAck | DisconnectPacket | AuthPacket, allowed: ReadonlySet<number>): number {
  const code = p.reasonCode ?? 0;
  if (!allowed.has(code))
    invalid('INVALID_REASON_CODE', p.type, `reason code ${String(code)} is not allowed`);
  return code;
}

function ackLength(p: AnyAck, v: ProtocolVersion): number {
  checkPacketId(p.packetId, p.type);
  if (v < 5) return 2;
  const code = ackReasonCode(p, allowedReasonCodes[p.type]);
  propsLen = propertiesLength(p.properties, PropertyContext[p.type], p.type);
  // The shortest form the spec allows: no reason code for Success, no property length when empty.
  if (propsLen === 0) return code === 0 ? 2 : 3;
  return 3 + propertyBlock(propsLen);
}

function writeAck(buf: Buffer, pos: number, p: AnyAck, v: ProtocolVersion, rl: number): number {
  pos = writeU16(buf, pos, p.packetId);
  if (v < 5 || rl === 2) return pos;
  buf[pos++] = p.reasonCode ?? 0;
  if (rl === 3) return pos;
  return writeProperties(buf, pos, p.properties, propsLen);
}

function connectLength(p: ConnectPacket): number {
  const v = p.protocolVersion;
  checkVersion(v, 'connect');
  if (!isU16(p.keepalive)) invalid('INVALID_PACKET', 'connect', `keep alive ${p.keepalive} is not 0..65535`);
  let len = (v === 3 ? 8 : 6) + 4;
  if (v === 5) {
    propsLen = propertiesLength(p.properties, PropertyContext.connect, 'connect');
    len += propertyBlock(propsLen);
  }
  len += 2 + utf8Length(p.clientId, 'client identifier', 'connect');
  const will = p.will;
  if (will !== undefined) {
    checkQos(will.qos, 'connect', 'will QoS');
    if (v === 5) {
      willPropsLen = propertiesLength(will.properties, PropertyContext.will, 'connect');
      len += propertyBlock(willPropsLen);
    }
    // [MQTT-4.7.3-1]
    if (will.topic === '') invalid('TOPIC_NAME_EMPTY', 'connect', 'empty will topic');
    len +=
      4 +
      topicNameLength(will.topic, 'will topic', 'connect') +
      binaryLength(will.payload, 'will payload', 'connect');
  }
  if (p.username !== undefined) len += 2 + utf8Length(p.username, 'user name', 'connect');
  if (p.password !== undefined) {
    // [MQTT-3.1.2-22]
    if (v < 5 && p.username === undefined) {
      invalid('PASSWORD_WITHOUT_USERNAME', 'connect', 'a password needs a user name before MQTT 5');
    }
    len += 2 + binaryLength(p.password, 'password', 'connect');
  }
  return len;
}

function writeConnect(buf: Buffer, pos: number, p: ConnectPacket): number {
  const v = p.protocolVersion;
  pos = writeUtf8(buf, pos, v === 3 ? 'MQIsdp' : 'MQTT');
  buf[pos++] = v;
  const will = p.will;
  let flags = p.clean ? 0x02 : 0;
  if (will !== undefined) flags |= 0x04 | (will.qos << 3) | (will.retain ? 0x20 : 0);
  if (p.password !== undefined) flags |= 0x40;
  if (p.username !== undefined) flags |= 0x80;
  buf[pos++] = flags;
  pos = writeU16(buf, pos, p.keepalive);
  if (v === 5) pos = writeProperties(buf, pos, p.properties, propsLen);
  pos = writeUtf8(buf, pos, p.clientId);
  if (will !== undefined) {
    if (v === 5) pos = writeProperties(buf, pos, will.properties, willPropsLen);
    pos = writeUtf8(buf, pos, will.topic);
    pos = writeBinary(buf, pos, will.payload);
  }
  if (p.username !== undefined) pos = writeUtf8(buf, pos, p.username);
  if (p.password !== undefined) pos = writeBinary(buf, pos, p.password);
  return pos;
}

function connackLength(p: ConnackPacket, v: ProtocolVersion): number {
  const code = p.reasonCode;
  if (v === 5) {
    if (!allowedReasonCodes.connack.has(code))
      invalid('INVALID_REASON_CODE', 'connack', `reason code ${code}`);
  } else if (!(Number.isInteger(code) && code >= 0 && code <= 5)) {
    invalid('INVALID_REASON_CODE', 'connack', `return code ${code} is not 0..5`, '3.2.2.3');
  }
  // [MQTT-3.2.2-6]
  if (p.sessionPresent && code !== 0)
    invalid('SESSION_PRESENT_ON_FAILURE', 'connack', 'session present on failure');
  if (v < 5) return 2;
  propsLen = propertiesLength(p.properties, PropertyContext.connack, 'connack');
  return 2 + propertyBlock(propsLen);
}

function writeConnack(buf: Buffer, pos: number, p: ConnackPacket, v: ProtocolVersion): number {
  buf[pos++] = p.sessionPresent ? 1 : 0;
  buf[pos++] = p.reasonCode;
  return v === 5 ? writeProperties(buf, pos, p.properties, propsLen) : pos;
}

function subscribeLength(p: SubscribePacket, v: ProtocolVersion): number {
  checkPacketId(p.packetId, 'subscribe');
  let len = 2;
  if (v === 5) {
    propsLen = propertiesLength(p.properties, PropertyContext.subscribe, 'subscribe');
    len += propertyBlock(propsLen);
  }
  const subs = p.subscriptions;
  // [MQTT-3.8.3-2]
  if (!Array.isArray(subs) || subs.length === 0)
    invalid('EMPTY_TOPIC_FILTER_LIST', 'subscribe', 'no subscription');
  for (const s of subs) {
    checkQos(s.qos, 'subscribe', 'requested QoS');
    const rh = s.retainHandling ?? 0;
    if (rh !== 0 && rh !== 1 && rh !== 2)
      invalid('INVALID_RETAIN_HANDLING', 'subscribe', `retain handling ${rh}`);
    // [MQTT-3.8.3-4]
    if (v === 5 && s.noLocal && s.topicFilter.startsWith('$share/')) {
      invalid('NO_LOCAL_ON_SHARED_SUBSCRIPTION', 'subscribe', `no local on '${s.topicFilter}'`);
    }
    len += 3 + utf8Length(s.topicFilter, 'topic filter', 'subscribe');
  }
  return len;
}

function writeSubscribe(buf: Buffer, pos: number, p: SubscribePacket, v: ProtocolVersion): number {
  pos = writeU16(buf, pos, p.packetId);
  if (v === 5) pos = writeProperties(buf, pos, p.properties, propsLen);
  for (const s of p.subscriptions) {
    pos = writeUtf8(buf, pos, s.topicFilter);
    buf[pos++] =
      v === 5
        ? s.qos | (s.noLocal ? 4 : 0) | (s.retainAsPublished ? 8 : 0) | ((s.retainHandling ?? 0) << 4)
        : s.qos;
  }
  return pos;
}

function subackLength(p: SubackPacket, v: ProtocolVersion): number {
  checkPacketId(p.packetId, 'suback');
  const codes = p.reasonCodes;
  if (!Array.isArray(codes) || codes.length === 0)
    invalid('EMPTY_REASON_CODE_LIST', 'suback', 'no reason code');
  for (const code of codes) {
    const ok =
      v === 5 ? allowedReasonCodes.suback.has(code) : code === 0 || code === 1 || code === 2 || code >= 0x80;
    if (!ok || code > 0xff) invalid('INVALID_REASON_CODE', 'suback', `reason code ${code}`, 'MQTT-3.9.3-1');
  }
  if (v < 5) return 2 + codes.length;
  propsLen = propertiesLength(p.properties, PropertyContext.suback, 'suback');
  return 2 + propertyBlock(propsLen) + codes.length;
}

function writeSuback(buf: Buffer, pos: number, p: SubackPacket, v: ProtocolVersion): number {
  pos = writeU16(buf, pos, p.packetId);
  if (v === 5) pos = writeProperties(buf, pos, p.properties, propsLen);
  // MQTT 3.1.1 has one failure code, 0x80; the finer v5 failures all map to it.
  for (const code of p.reasonCodes) buf[pos++] = v === 5 || code < 0x80 ? code : 0x80;
  return pos;
}

function unsubscribeLength(p: UnsubscribePacket, v: ProtocolVersion): number {
  checkPacketId(p.packetId, 'unsubscribe');
  let len = 2;
  if (v === 5) {
    propsLen = propertiesLength(p.properties, PropertyContext.unsubscribe, 'unsubscribe');
    len += propertyBlock(propsLen);
  }
  const filters = p.topicFilters;
  if (!Array.isArray(filters) || filters.length === 0) {
    // [MQTT-3.10.3-2]
    invalid('EMPTY_TOPIC_FILTER_LIST', 'unsubscribe', 'no topic filter', 'MQTT-3.10.3-2');
  }
  for (const f of filters) len += 2 + utf8Length(f, 'topic filter', 'unsubscribe');
  return len;
}

function writeUnsubscribe(buf: Buffer, pos: number, p: UnsubscribePacket, v: ProtocolVersion): number {
  pos = writeU16(buf, pos, p.packetId);
  if (v === 5) pos = writeProperties(buf, pos, p.properties, propsLen);
  for (const f of p.topicFilters) pos = writeUtf8(buf, pos, f);
  return pos;
}

function unsubackLength(p: UnsubackPacket, v: ProtocolVersion): number {
  checkPacketId(p.packetId, 'unsuback');
  if (v < 5) return 2;
  const codes = p.reasonCodes;
  if (!Array.isArray(codes) || codes.length === 0)
    invalid('EMPTY_REASON_CODE_LIST', 'unsuback', 'no reason code');
  for (const code of codes) {
    if (!allowedReasonCodes.unsuback.has(code)) {
      invalid('INVALID_REASON_CODE', 'unsuback', `reason code ${code}`, 'MQTT-3.11.3-1');
    }
  }
  propsLen = propertiesLength(p.properties, PropertyContext.unsuback, 'unsuback');
  return 2 + propertyBlock(propsLen) + codes.length;
}

function writeUnsuback(buf: Buffer, pos: number, p: UnsubackPacket, v: ProtocolVersion): number {
  pos = writeU16(buf, pos, p.packetId);
  if (v < 5) return pos;
  pos = writeProperties(buf, pos, p.properties, propsLen);
  for (const code of p.reasonCodes!) buf[pos++] = code;
  return pos;
}

function disconnectLength(p: DisconnectPacket, v: ProtocolVersion): number {
  if (v < 5) return 0;
  const code = ackReasonCode(p, allowedReasonCodes.disconnect);
  propsLen = propertiesLength(p.properties, PropertyContext.disconnect, 'disconnect');
  if (propsLen === 0) return code === 0 ? 0 : 1;
  return 1 + propertyBlock(propsLen);
}

function authLength(p: AuthPacket, v: ProtocolVersion): number {
  if (v < 5) invalid('RESERVED_PACKET_TYPE', 'auth', 'AUTH exists only in MQTT 5');
  const code = ackReasonCode(p, allowedReasonCodes.auth);
  propsLen = propertiesLength(p.properties, PropertyContext.auth, 'auth');
  return code === 0 && propsLen === 0 ? 0 : 1 + propertyBlock(propsLen);
}

/** Writes reason code and properties of a DISCONNECT or AUTH whose Remaining Length is `rl`. */
function writeReasonAndProperties(
  buf: Buffer,
  pos: number,
  p: DisconnectPacket | AuthPacket,
  rl: number,
): number {
  if (rl === 0) return pos;
  buf[pos++] = p.reasonCode ?? 0;
  if (rl === 1) return pos;
  return writeProperties(buf, pos, p.properties, propsLen);
}

/** The Remaining Length of `packet` at level `v`, validating it on the way. */
function remainingLength(packet: Packet, v: ProtocolVersion): number {
  let rl: number;
  switch (packet.type) {
    case 'publish':
      rl = publishLength(packet, v);
      break;
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      rl = ackLength(packet, v);
      break;
    case 'connect':
      rl = connectLength(packet);
      break;
    case 'connack':
      rl = connackLength(packet, v);
      break;
    case 'subscribe':
      rl = subscribeLength(packet, v);
      break;
    case 'suback':
      rl = subackLength(packet, v);
      break;
    case 'unsubscribe':
      rl = unsubscribeLength(packet, v);
      break;
    case 'unsuback':
      rl = unsubackLength(packet, v);
      break;
    case 'pingreq':
    case 'pingresp':
      rl = 0;
      break;
    case 'disconnect':
      rl = disconnectLength(packet, v);
      break;
    case 'auth':
      rl = authLength(packet, v);
      break;
    default:
      return invalid(
        'INVALID_PACKET',
        'connect',
        `unknown packet type '${String((packet as { type: unknown }).type)}'`,
      );
  }
  if (rl > MAX_VARIABLE_BYTE_INTEGER) {
    invalid('PACKET_TOO_LARGE', packet.type, `Remaining Length ${rl} is more than 268435455`, '2.1.4');
  }
  return rl;
}

function firstByte(packet: Packet): number {
  const type = packet.type;
  if (type === 'publish') {
    return 0x30 | (packet.dup ? 8 : 0) | (packet.qos << 1) | (packet.retain ? 1 : 0);
  }
  const n = TYPE_NUMBER[type];
  return type === 'pubrel' || type === 'subscribe' || type === 'unsubscribe' ? (n << 4) | 2 : n << 4;
}

function writePacket(packet: Packet, v: ProtocolVersion, buf: Buffer, pos: number, rl: number): number {
  buf[pos++] = firstByte(packet);
  pos = writeVbi(buf, pos, rl);
  switch (packet.type) {
    case 'publish':
      return writePublish(buf, pos, packet, v);
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      return writeAck(buf, pos, packet, v, rl);
    case 'connect':
      return writeConnect(buf, pos, packet);
    case 'connack':
      return writeConnack(buf, pos, packet, v);
    case 'subscribe':
      return writeSubscribe(buf, pos, packet, v);
    case 'suback':
      return writeSuback(buf, pos, packet, v);
    case 'unsubscribe':
      return writeUnsubscribe(buf, pos, packet, v);
    case 'unsuback':
      return writeUnsuback(buf, pos, packet, v);
    case 'pingreq':
    case 'pingresp':
      return pos;
    case 'disconnect':
    case 'auth':
      return writeReasonAndProperties(buf, pos, packet, rl);
  }
}

function protocolOf(packet: Packet, v: ProtocolVersion): ProtocolVersion {
  // A CONNECT is written at the level it names.
  const level = packet.type === 'connect' ? packet.protocolVersion : v;
  checkVersion(level, packet.type);
  return level;
}

/**
 * The PUBLISH hot path, in one pass over the topic: it assumes an ASCII topic (its byte length is
 * then its length), sizes and allocates on that guess, and checks each character while copying it.
 * Anything unusual (non-ASCII, a wildcard, an invalid field) returns `undefined`, and the general
 * path measures exactly and reports the error; the guessed buffer is dropped.
 */
function encodePublishAscii(p: PublishPacket, v: ProtocolVersion): Buffer | undefined {
  const { topic, qos, payload } = p;
  if (typeof topic !== 'string' || !(payload instanceof Uint8Array) || (v !== 4 && v !== 5 && v !== 3))
    return undefined;
  const n = topic.length;
  if (n === 0 || n > 0xffff || (qos !== 0 && qos !== 1 && qos !== 2) || (p.dup && qos === 0))
    return undefined;
  let rl = 2 + n + payload.length;
  if (qos !== 0) {
    const id = p.packetId;
    if (id === undefined || !(id >= 1 && id <= 0xffff) || !Number.isInteger(id)) return undefined;
    rl += 2;
  }
  if (v === 5) {
    propsLen = propertiesLength(p.properties, PropertyContext.publish, 'publish');
    rl += propertyBlock(propsLen);
  }
  if (rl > MAX_VARIABLE_BYTE_INTEGER) return undefined;
  const buf = Buffer.allocUnsafe(1 + vbiSize(rl) + rl);
  buf[0] = 0x30 | (p.dup ? 8 : 0) | (qos << 1) | (p.retain ? 1 : 0);
  let pos = writeVbi(buf, 1, rl);
  buf[pos] = n >>> 8;
  buf[pos + 1] = n & 0xff;
  pos += 2;
  for (let i = 0; i < n; i++) {
    const c = topic.charCodeAt(i);
    // [MQTT-3.3.2-2] and [MQTT-1.5.4-2] are checked by the general path this falls back to
    if (c === 0 || c >= 0x80 || c === 0x23 || c === 0x2b) return undefined;
    buf[pos + i] = c;
  }
  pos += n;
  if (qos !== 0) pos = writeU16(buf, pos, p.packetId!);
  if (v === 5) pos = writeProperties(buf, pos, p.properties, propsLen);
  buf.set(payload, pos);
  return buf;
}

/**
 * The number of bytes `encode(packet, protocolVersion)` produces. Throws {@link MqttProtocolError} for
 * a packet that cannot be encoded.
 */
export function encodedLength(packet: Packet, protocolVersion: ProtocolVersion): number {
  const rl = remainingLength(packet, protocolOf(packet, protocolVersion));
  return 1 + vbiSize(rl) + rl;
}

/**
 * Encodes one packet into a new Buffer of exactly its size (measured first, written once). Fields a
 * level does not have (v5 properties and reason codes at levels 3 and 4) are left out, so one packet
 * object can be encoded for subscribers of every level. A CONNECT is encoded at its own
 * `protocolVersion`. Throws {@link MqttProtocolError} for a packet that cannot be encoded.
 */
export function encode(packet: Packet, protocolVersion: ProtocolVersion): Buffer {
  if (packet.type === 'publish') {
    const fast = encodePublishAscii(packet, protocolVersion);
    if (fast !== undefined) return fast;
  }
  const v = protocolOf(packet, protocolVersion);
  const rl = remainingLength(packet, v);
  const buf = Buffer.allocUnsafe(1 + vbiSize(rl) + rl);
  writePacket(packet, v, buf, 0, rl);
  return buf;
}

/**
 * First bytes of the acknowledgements {@link writeSuccessAck} writes: packet type << 4 | fixed flags
 * (PUBREL's are 0b0010 [MQTT-3.6.1-1]).
 */
export const AckByte = { puback: 0x40, pubrec: 0x50, pubrel: 0x62, pubcomp: 0x70 } as const;
export type AckByte = (typeof AckByte)[keyof typeof AckByte];

/**
 * Writes a PUBACK, PUBREC, PUBREL or PUBCOMP with reason Success and no properties at `offset`: four
 * fixed bytes, the same at every protocol level (Remaining Length 2 means Success in v5
 * [MQTT-3.4.2-1]), without a packet object or the general encoder. The caller makes room and passes
 * a packet id of 1..65535. Returns the offset after the packet.
 */
export function writeSuccessAck(
  target: Uint8Array,
  offset: number,
  firstByte: AckByte,
  packetId: number,
): number {
  target[offset] = firstByte;
  target[offset + 1] = 2;
  target[offset + 2] = packetId >>> 8;
  target[offset + 3] = packetId & 0xff;
  return offset + 4;
}

/**
 * Encodes one packet into `target` at `offset` (to batch several packets into one write or to reuse a
 * buffer) and returns the number of bytes written. Throws a RangeError when it does not fit, before
 * writing anything.
 */
export function encodeInto(
  packet: Packet,
  protocolVersion: ProtocolVersion,
  target: Uint8Array,
  offset: number,
): number {
  const v = protocolOf(packet, protocolVersion);
  const rl = remainingLength(packet, v);
  const size = 1 + vbiSize(rl) + rl;
  if (!Number.isInteger(offset) || offset < 0 || offset + size > target.length) {
    throw new RangeError(
      `${packet.type} needs ${size} bytes at offset ${offset} of a ${target.length}-byte target`,
    );
  }
  const buf = Buffer.isBuffer(target)
    ? target
    : Buffer.from(target.buffer, target.byteOffset, target.byteLength);
  writePacket(packet, v, buf, offset, rl);
  return size;
}
