import { MqttProtocolError } from './errors.js';
import type {
  AuthPacket,
  ConnackPacket,
  ConnectPacket,
  DisconnectPacket,
  Packet,
  PacketType,
  Properties,
  ProtocolVersion,
  PublishPacket,
  QoS,
  SubackPacket,
  SubscribePacket,
  Subscription,
  UnsubackPacket,
  UnsubscribePacket,
  Will,
} from './packet.js';
import { decodeProperties, PropertyContext } from './properties.js';
import { hex, type Reader, reader } from './reader.js';
import { allowedReasonCodes, v3SubackReturnCodes } from './reason-codes.js';
import { NEED_MORE, readVbi, VBI_NOT_MINIMAL, vbiSize } from './vbi.js';

/** Packet type names by their number in the fixed header (0 is reserved). */
export const PACKET_TYPES: readonly (PacketType | undefined)[] = [
  undefined,
  'connect',
  'connack',
  'publish',
  'puback',
  'pubrec',
  'pubrel',
  'pubcomp',
  'subscribe',
  'suback',
  'unsubscribe',
  'unsuback',
  'pingreq',
  'pingresp',
  'disconnect',
  'auth',
];

/** The fixed flags of each packet type (section 2.1.3); PUBLISH's are checked on their own. */
const FIXED_FLAGS = [0, 0, 0, -1, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, 0];
const FLAGS_CLAUSE: Record<number, string> = { 6: 'MQTT-3.6.1-1', 8: 'MQTT-3.8.1-1', 10: 'MQTT-3.10.1-1' };

/**
 * Reads the Remaining Length that starts at `pos` (the byte after the first one). Returns it, or
 * {@link NEED_MORE} when `end` comes first; throws {@link MqttProtocolError} for a malformed one, with
 * offsets counted from `packetStart`. Because the shortest form is enforced [MQTT-1.5.5-1], the
 * header's size is always `1 + vbiSize(remainingLength)`.
 */
export function readRemainingLength(buf: Uint8Array, pos: number, end: number, packetStart: number): number {
  const value = readVbi(buf, pos, end);
  if (value >= NEED_MORE) return value;
  if (value === VBI_NOT_MINIMAL) {
    // The offending byte is the 0x00 that ends the integer.
    let at = pos;
    while ((buf[at]! & 0x80) !== 0) at++;
    // [MQTT-1.5.5-1]
    throw new MqttProtocolError(
      'NON_MINIMAL_VARIABLE_BYTE_INTEGER',
      `Remaining Length is not in its shortest form (byte ${hex(buf[at]!)} at offset ${at - packetStart})`,
      { offset: at - packetStart },
    );
  }
  throw new MqttProtocolError(
    'MALFORMED_VARIABLE_BYTE_INTEGER',
    `Remaining Length runs longer than 4 bytes (byte ${hex(buf[pos + 3]!)} at offset ${pos + 3 - packetStart})`,
    { offset: pos + 3 - packetStart },
  );
}

/**
 * The packet type named by a first byte, checking it exists at this level. `version` undefined means
 * "not known yet" (a server before the CONNECT), where every type but 0 passes.
 */
export function packetTypeOf(first: number, version: ProtocolVersion | undefined): PacketType {
  const n = first >>> 4;
  const type = PACKET_TYPES[n];
  if (type === undefined || (n === 15 && version !== undefined && version < 5)) {
    throw new MqttProtocolError(
      'RESERVED_PACKET_TYPE',
      `packet type ${n} is reserved (first byte ${hex(first)})`,
      {
        offset: 0,
        protocolVersion: version,
      },
    );
  }
  return type;
}

/**
 * Decodes the body `buf[pos, end)` of a packet whose first byte is `first`. `base` is where the
 * packet's first byte sits in `buf` (for offsets in error messages). Views into `buf` are returned for
 * payloads and binary fields.
 */
export function decodeBody(
  first: number,
  buf: Buffer,
  pos: number,
  end: number,
  base: number,
  version: ProtocolVersion,
): Packet {
  const n = first >>> 4;
  const type = packetTypeOf(first, version);
  const r = reader;
  r.reset(buf, pos, end, base, type, version);
  const flags = first & 0x0f;
  const fixed = FIXED_FLAGS[n]!;
  // MQTT 3.1 clients set DUP (bit 3) on a re-sent PUBREL; 3.1.1 and 5 fixed the flags at 0010.
  if (fixed !== -1 && flags !== fixed && !(version === 3 && type === 'pubrel' && flags === (fixed | 0x08))) {
    // [MQTT-2.1.3-1]
    r.fail('INVALID_FIXED_HEADER_FLAGS', `flags ${hex(flags)} must be ${hex(fixed)}`, base, FLAGS_CLAUSE[n]);
  }
  switch (type) {
    case 'publish':
      return decodePublish(r, first);
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      return decodeAck(r, type);
    case 'connect':
      return decodeConnect(r);
    case 'connack':
      return decodeConnack(r);
    case 'subscribe':
      return decodeSubscribe(r);
    case 'suback':
      return decodeSuback(r);
    case 'unsubscribe':
      return decodeUnsubscribe(r);
    case 'unsuback':
      return decodeUnsuback(r);
    case 'pingreq':
    case 'pingresp':
      expectEnd(r);
      return { type };
    case 'disconnect':
      return decodeDisconnect(r);
    case 'auth':
      return decodeAuth(r);
  }
}

function expectEnd(r: Reader): void {
  if (r.pos !== r.end) {
    r.fail('REMAINING_LENGTH_MISMATCH', `${r.end - r.pos} unexpected byte(s) after the last field`);
  }
}

function packetId(r: Reader): number {
  const at = r.pos;
  const id = r.u16('packet identifier');
  // [MQTT-2.2.1-3]
  if (id === 0) r.fail('PACKET_ID_ZERO', 'packet identifier 0', at);
  return id;
}

function reasonCode(r: Reader, allowed: ReadonlySet<number>, clause: string): number {
  const at = r.pos;
  const code = r.u8('reason code');
  if (!allowed.has(code))
    r.fail('INVALID_REASON_CODE', `reason code ${hex(code)} is not allowed`, at, clause);
  return code;
}

function decodePublish(r: Reader, first: number): PublishPacket {
  const qos = (first >>> 1) & 3;
  // [MQTT-3.3.1-4]
  if (qos === 3) r.fail('INVALID_QOS', 'QoS 3 in the fixed header', r.base);
  const dup = (first & 8) !== 0;
  // [MQTT-3.3.1-2]
  if (dup && qos === 0) r.fail('DUP_WITH_QOS0', 'DUP set on a QoS 0 message', r.base);
  const topicAt = r.pos;
  const topic = r.topicName('topic name');
  const id = qos > 0 ? packetId(r) : 0;
  let properties: Properties | undefined;
  if (r.version === 5) {
    properties = decodeProperties(r, PropertyContext.publish);
    // A v5 Topic Name may be empty only when a Topic Alias stands for it (section 3.3.4).
    if (topic === '' && properties?.topicAlias === undefined) {
      r.fail('TOPIC_NAME_EMPTY', 'empty topic name without a topic alias', topicAt, '3.3.4');
    }
  } else if (topic === '') {
    // [MQTT-4.7.3-1]
    r.fail('TOPIC_NAME_EMPTY', 'empty topic name', topicAt);
  }
  const payload = r.buf.subarray(r.pos, r.end);
  const retain = (first & 1) !== 0;
  // Built once in its final shape (one literal per shape, no fields added afterwards): this runs
  // for every PUBLISH, and a field added later costs an extra property store allocation.
  const packet: PublishPacket =
    qos > 0
      ? { type: 'publish', topic, payload, qos: qos as QoS, retain, dup, packetId: id }
      : { type: 'publish', topic, payload, qos: 0, retain, dup };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

function decodeAck(r: Reader, type: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp'): Packet {
  const id = packetId(r);
  if (r.version < 5) {
    expectEnd(r);
    return { type, packetId: id };
  }
  if (r.pos === r.end) return { type, packetId: id, reasonCode: 0 };
  const clause =
    type === 'puback'
      ? 'MQTT-3.4.2-1'
      : type === 'pubrec'
        ? 'MQTT-3.5.2-1'
        : type === 'pubrel'
          ? 'MQTT-3.6.2-1'
          : 'MQTT-3.7.2-1';
  const code = reasonCode(r, allowedReasonCodes[type], clause);
  if (r.pos === r.end) return { type, packetId: id, reasonCode: code };
  const properties = decodeProperties(r, PropertyContext[type]);
  expectEnd(r);
  return properties === undefined
    ? { type, packetId: id, reasonCode: code }
    : { type, packetId: id, reasonCode: code, properties };
}

function decodeConnect(r: Reader): ConnectPacket {
  const nameAt = r.pos;
  const protocolName = r.utf8('protocol name');
  const levelAt = r.pos;
  const level = r.u8('protocol level');
  if (protocolName !== 'MQTT' && protocolName !== 'MQIsdp') {
    // [MQTT-3.1.2-1]
    r.fail('INVALID_PROTOCOL_NAME', `protocol name '${protocolName}' is not MQTT`, nameAt);
  }
  if (level !== 3 && level !== 4 && level !== 5) {
    // [MQTT-3.1.2-2]
    r.fail('UNSUPPORTED_PROTOCOL_VERSION', `unsupported protocol level ${level}`, levelAt);
  }
  if (protocolName !== (level === 3 ? 'MQIsdp' : 'MQTT')) {
    // [MQTT-3.1.2-1]
    r.fail(
      'INVALID_PROTOCOL_NAME',
      `protocol name '${protocolName}' does not go with level ${level}`,
      nameAt,
    );
  }
  r.version = level;
  r.versionKnown = true;
  const flagsAt = r.pos;
  const flags = r.u8('connect flags');
  // [MQTT-3.1.2-3]
  if ((flags & 0x01) !== 0) r.fail('CONNECT_RESERVED_FLAG', 'reserved connect flag (bit 0) is set', flagsAt);
  const willFlag = (flags & 0x04) !== 0;
  const willQos = (flags >>> 3) & 3;
  const willRetain = (flags & 0x20) !== 0;
  const hasPassword = (flags & 0x40) !== 0;
  const hasUsername = (flags & 0x80) !== 0;
  if (!willFlag) {
    // [MQTT-3.1.2-11]
    if (willQos !== 0) r.fail('INVALID_WILL_FLAGS', `will QoS ${willQos} without the will flag`, flagsAt);
    // [MQTT-3.1.2-13]
    if (willRetain)
      r.fail('INVALID_WILL_FLAGS', 'will retain without the will flag', flagsAt, 'MQTT-3.1.2-13');
  }
  // [MQTT-3.1.2-12]
  if (willQos === 3) r.fail('INVALID_QOS', 'will QoS 3', flagsAt, 'MQTT-3.1.2-12');
  // [MQTT-3.1.2-22] MQTT 5 allows a password alone (section 3.1.2.9), the earlier levels do not.
  if (level < 5 && hasPassword && !hasUsername) {
    r.fail('PASSWORD_WITHOUT_USERNAME', 'password flag without the user name flag', flagsAt);
  }
  const keepalive = r.u16('keep alive');
  const properties = level === 5 ? decodeProperties(r, PropertyContext.connect) : undefined;
  const clientId = r.utf8('client identifier');
  const packet: ConnectPacket = {
    type: 'connect',
    protocolName,
    protocolVersion: level,
    clean: (flags & 0x02) !== 0,
    keepalive,
    clientId,
  };
  if (properties !== undefined) packet.properties = properties;
  if (willFlag) {
    const willProperties = level === 5 ? decodeProperties(r, PropertyContext.will) : undefined;
    const topicAt = r.pos;
    const topic = r.topicName('will topic');
    // [MQTT-4.7.3-1]
    if (topic === '') r.fail('TOPIC_NAME_EMPTY', 'empty will topic', topicAt);
    const will: Will = { topic, payload: r.binary('will payload'), qos: willQos as QoS, retain: willRetain };
    if (willProperties !== undefined) will.properties = willProperties;
    packet.will = will;
  }
  if (hasUsername) packet.username = r.utf8('user name');
  if (hasPassword) packet.password = r.binary('password');
  expectEnd(r);
  return packet;
}

function decodeConnack(r: Reader): ConnackPacket {
  const flagsAt = r.pos;
  const flags = r.u8('acknowledge flags');
  // [MQTT-3.2.2-1]
  if ((flags & 0xfe) !== 0) r.fail('INVALID_CONNACK_FLAGS', `acknowledge flags ${hex(flags)}`, flagsAt);
  const sessionPresent = flags === 1;
  const codeAt = r.pos;
  let code: number;
  let properties: ConnackPacket['properties'];
  if (r.version === 5) {
    code = reasonCode(r, allowedReasonCodes.connack, 'MQTT-3.2.2-8');
    properties = decodeProperties(r, PropertyContext.connack);
  } else {
    code = r.u8('return code');
    if (code > 5) r.fail('INVALID_REASON_CODE', `connect return code ${code}`, codeAt, '3.2.2.3');
  }
  // [MQTT-3.2.2-6] (3.1.1: MQTT-3.2.2-4)
  if (sessionPresent && code !== 0) {
    r.fail('SESSION_PRESENT_ON_FAILURE', `session present with code ${hex(code)}`, flagsAt);
  }
  expectEnd(r);
  const packet: ConnackPacket = { type: 'connack', sessionPresent, reasonCode: code };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

function decodeSubscribe(r: Reader): SubscribePacket {
  const id = packetId(r);
  const properties = r.version === 5 ? decodeProperties(r, PropertyContext.subscribe) : undefined;
  const subscriptions: Subscription[] = [];
  // [MQTT-3.8.3-2]
  if (r.pos === r.end) r.fail('EMPTY_TOPIC_FILTER_LIST', 'no topic filter');
  while (r.pos < r.end) {
    const topicFilter = r.utf8('topic filter');
    const at = r.pos;
    const options = r.u8('subscription options');
    const qos = options & 3;
    if (qos === 3) r.fail('INVALID_QOS', 'requested QoS 3', at, 'MQTT-3.8.3-5');
    if (r.version < 5) {
      // [MQTT-3.8.3-4] of 3.1.1: bits 7-2 of the requested QoS byte are reserved
      if (options > 3)
        r.fail('INVALID_SUBSCRIPTION_OPTIONS', `requested QoS byte ${hex(options)}`, at, 'MQTT-3-8.3-4');
      subscriptions.push({ topicFilter, qos: qos as QoS });
      continue;
    }
    // [MQTT-3.8.3-5]
    if (options > 0x3f) r.fail('INVALID_SUBSCRIPTION_OPTIONS', `subscription options ${hex(options)}`, at);
    const retainHandling = (options >>> 4) & 3;
    if (retainHandling === 3) r.fail('INVALID_RETAIN_HANDLING', 'retain handling 3', at);
    const noLocal = (options & 4) !== 0;
    // [MQTT-3.8.3-4]
    if (noLocal && topicFilter.startsWith('$share/')) {
      r.fail('NO_LOCAL_ON_SHARED_SUBSCRIPTION', `no local on shared subscription '${topicFilter}'`, at);
    }
    subscriptions.push({
      topicFilter,
      qos: qos as QoS,
      noLocal,
      retainAsPublished: (options & 8) !== 0,
      retainHandling: retainHandling as 0 | 1 | 2,
    });
  }
  const packet: SubscribePacket = { type: 'subscribe', packetId: id, subscriptions };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

function decodeSuback(r: Reader): SubackPacket {
  const id = packetId(r);
  const properties = r.version === 5 ? decodeProperties(r, PropertyContext.suback) : undefined;
  const allowed = r.version === 5 ? allowedReasonCodes.suback : v3SubackReturnCodes;
  const reasonCodes: number[] = [];
  if (r.pos === r.end) r.fail('EMPTY_REASON_CODE_LIST', 'no reason code');
  while (r.pos < r.end) reasonCodes.push(reasonCode(r, allowed, 'MQTT-3.9.3-1'));
  const packet: SubackPacket = { type: 'suback', packetId: id, reasonCodes };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

function decodeUnsubscribe(r: Reader): UnsubscribePacket {
  const id = packetId(r);
  const properties = r.version === 5 ? decodeProperties(r, PropertyContext.unsubscribe) : undefined;
  const topicFilters: string[] = [];
  // [MQTT-3.10.3-2]
  if (r.pos === r.end) r.fail('EMPTY_TOPIC_FILTER_LIST', 'no topic filter', r.pos, 'MQTT-3.10.3-2');
  while (r.pos < r.end) topicFilters.push(r.utf8('topic filter'));
  const packet: UnsubscribePacket = { type: 'unsubscribe', packetId: id, topicFilters };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

function decodeUnsuback(r: Reader): UnsubackPacket {
  const id = packetId(r);
  if (r.version < 5) {
    expectEnd(r);
    return { type: 'unsuback', packetId: id };
  }
  const properties = decodeProperties(r, PropertyContext.unsuback);
  const reasonCodes: number[] = [];
  if (r.pos === r.end) r.fail('EMPTY_REASON_CODE_LIST', 'no reason code', r.pos, '3.11.3');
  while (r.pos < r.end) reasonCodes.push(reasonCode(r, allowedReasonCodes.unsuback, 'MQTT-3.11.3-1'));
  const packet: UnsubackPacket = { type: 'unsuback', packetId: id, reasonCodes };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

function decodeDisconnect(r: Reader): DisconnectPacket {
  if (r.version < 5) {
    expectEnd(r);
    return { type: 'disconnect' };
  }
  // Remaining Length 0 means Normal disconnection, 1 means no properties (section 3.14.2.1).
  if (r.pos === r.end) return { type: 'disconnect', reasonCode: 0 };
  const code = reasonCode(r, allowedReasonCodes.disconnect, 'MQTT-3.14.2-1');
  if (r.pos === r.end) return { type: 'disconnect', reasonCode: code };
  const properties = decodeProperties(r, PropertyContext.disconnect);
  expectEnd(r);
  return properties === undefined
    ? { type: 'disconnect', reasonCode: code }
    : { type: 'disconnect', reasonCode: code, properties };
}

function decodeAuth(r: Reader): AuthPacket {
  if (r.pos === r.end) return { type: 'auth', reasonCode: 0 };
  const code = reasonCode(r, allowedReasonCodes.auth, 'MQTT-3.15.2-1');
  if (r.pos === r.end) return { type: 'auth', reasonCode: code };
  const properties = decodeProperties(r, PropertyContext.auth);
  expectEnd(r);
  return properties === undefined
    ? { type: 'auth', reasonCode: code }
    : { type: 'auth', reasonCode: code, properties };
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Decodes exactly one whole packet. Throws {@link MqttProtocolError} for malformed or forbidden bytes,
 * for bytes that stop before the packet ends, or for bytes after it. A CONNECT is decoded at the level
 * it announces, whatever `protocolVersion` says. PUBLISH payloads and binary fields are views into
 * `bytes` (see the lifetime rule in `packet.ts`).
 */
export function decode(bytes: Uint8Array, protocolVersion: ProtocolVersion): Packet {
  const buf = asBuffer(bytes);
  const len = buf.length;
  if (len < 2) {
    throw new MqttProtocolError('INCOMPLETE_PACKET', `${len} byte(s) cannot hold a fixed header`, {
      offset: len,
    });
  }
  const first = buf[0]!;
  packetTypeOf(first, protocolVersion);
  const remaining = readRemainingLength(buf, 1, len, 0);
  if (remaining === NEED_MORE) {
    throw new MqttProtocolError('INCOMPLETE_PACKET', 'the bytes end inside the Remaining Length', {
      offset: len,
    });
  }
  const start = 1 + vbiSize(remaining);
  const end = start + remaining;
  if (end > len) {
    throw new MqttProtocolError(
      'INCOMPLETE_PACKET',
      `Remaining Length ${remaining} announces ${end} bytes but ${len} were given`,
      { offset: len },
    );
  }
  if (end < len) {
    throw new MqttProtocolError('TRAILING_BYTES', `${len - end} byte(s) follow the packet at offset ${end}`, {
      offset: end,
    });
  }
  return decodeBody(first, buf, start, end, 0, protocolVersion);
}

export { asBuffer };
