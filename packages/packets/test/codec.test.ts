import { describe, expect, it } from 'vitest';
import {
  AckByte,
  ConnectReturnCode,
  connectReturnCodeFor,
  decode,
  encode,
  encodedLength,
  encodeInto,
  MqttProtocolError,
  type Packet,
  PacketErrors,
  type ProtocolVersion,
  type PublishPacket,
  ReasonCode,
  reasonCodeName,
  writeSuccessAck,
} from '../src/index.js';
import { samplePackets } from './samples.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function expectError(
  fn: () => unknown,
  code: keyof typeof PacketErrors,
  reasonCode?: number,
  clause?: string,
) {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(MqttProtocolError);
  const e = caught as MqttProtocolError;
  expect(e.code).toBe(code);
  expect(e.reasonCode).toBe(reasonCode ?? PacketErrors[code].reasonCode);
  if (clause !== undefined) expect(e.clause).toBe(clause);
  return e;
}

describe.each([3, 4, 5] as const)('round trips at level %i', (v: ProtocolVersion) => {
  it.each(samplePackets(v).map((p) => [p.type, p] as const))('%s', (_type, packet: Packet) => {
    const bytes = encode(packet, v);
    expect(encodedLength(packet, v)).toBe(bytes.length);
    expect(decode(bytes, v)).toEqual(packet);
    const target = new Uint8Array(bytes.length + 7).fill(0xee);
    expect(encodeInto(packet, v, target, 3)).toBe(bytes.length);
    expect(Buffer.from(target.subarray(3, 3 + bytes.length))).toEqual(bytes);
    expect(target[2]).toBe(0xee);
    expect(target[3 + bytes.length]).toBe(0xee);
  });
});

describe('known bytes', () => {
  it('PINGREQ, PINGRESP and a v4 DISCONNECT', () => {
    expect(encode({ type: 'pingreq' }, 4)).toEqual(hex('c000'));
    expect(encode({ type: 'pingresp' }, 4)).toEqual(hex('d000'));
    expect(encode({ type: 'disconnect' }, 4)).toEqual(hex('e000'));
  });

  it('a v3.1.1 CONNECT', () => {
    const bytes = hex('10 0f 0004 4d515454 04 02 003c 0003 636964');
    expect(
      encode({ type: 'connect', protocolVersion: 4, clientId: 'cid', clean: true, keepalive: 60 }, 4),
    ).toEqual(bytes);
    expect(decode(bytes, 4)).toEqual({
      type: 'connect',
      protocolName: 'MQTT',
      protocolVersion: 4,
      clientId: 'cid',
      clean: true,
      keepalive: 60,
    });
  });

  it('a v3.1 CONNECT says MQIsdp', () => {
    const bytes = encode(
      { type: 'connect', protocolVersion: 3, clientId: 'c', clean: true, keepalive: 10 },
      3,
    );
    expect(bytes.subarray(2, 10).toString('latin1')).toBe('\u0000\u0006MQIsdp');
    expect(bytes[10]).toBe(3);
  });

  it('a QoS 0 PUBLISH', () => {
    const bytes = hex('30 05 0001 61 6869');
    const packet = {
      type: 'publish',
      topic: 'a',
      payload: Buffer.from('hi'),
      qos: 0,
      retain: false,
      dup: false,
    };
    expect(encode(packet as Packet, 4)).toEqual(bytes);
    expect(decode(bytes, 4)).toEqual(packet);
  });

  it('a v5 PUBACK in its shortest forms', () => {
    expect(encode({ type: 'puback', packetId: 1, reasonCode: 0 }, 5)).toEqual(hex('40 02 0001'));
    expect(encode({ type: 'puback', packetId: 1 }, 5)).toEqual(hex('40 02 0001'));
    expect(encode({ type: 'puback', packetId: 1, reasonCode: 0x10 }, 5)).toEqual(hex('40 03 0001 10'));
    expect(decode(hex('40 03 0001 00'), 5)).toEqual({ type: 'puback', packetId: 1, reasonCode: 0 });
    expect(decode(hex('40 04 0001 00 00'), 5)).toEqual({ type: 'puback', packetId: 1, reasonCode: 0 });
  });

  it('writeSuccessAck writes what encode gives for a Success acknowledgement at every level', () => {
    for (const type of ['puback', 'pubrec', 'pubrel', 'pubcomp'] as const) {
      for (const packetId of [1, 0x1234, 0xffff]) {
        const bytes = new Uint8Array(6).fill(0xee);
        expect(writeSuccessAck(bytes, 1, AckByte[type], packetId)).toBe(5);
        for (const v of [3, 4, 5] as const)
          expect(bytes.subarray(1, 5)).toEqual(new Uint8Array(encode({ type, packetId }, v)));
        expect([bytes[0], bytes[5]]).toEqual([0xee, 0xee]);
      }
    }
  });

  it('decodes each topic name as itself when topics repeat and share cache slots', () => {
    const topics = Array.from({ length: 400 }, (_, i) => `t/${i % 37}/${'x'.repeat(i % 5)}${i}`);
    for (let round = 0; round < 3; round++) {
      for (const topic of topics) {
        const bytes = encode(
          { type: 'publish', topic, payload: Buffer.from('p'), qos: 0, retain: false, dup: false },
          4,
        );
        expect((decode(bytes, 4) as PublishPacket).topic).toBe(topic);
      }
    }
  });

  it('a v5 DISCONNECT: length 0 means Normal disconnection', () => {
    expect(decode(hex('e0 00'), 5)).toEqual({ type: 'disconnect', reasonCode: 0 });
    expect(encode({ type: 'disconnect', reasonCode: 4 }, 5)).toEqual(hex('e0 01 04'));
  });

  it('drops fields a level lacks, so one packet serves every subscriber', () => {
    const packet: Packet = {
      type: 'publish',
      topic: 't',
      payload: Buffer.from('p'),
      qos: 1,
      retain: false,
      dup: false,
      packetId: 1,
      properties: { messageExpiryInterval: 5 },
    };
    expect(encode(packet, 4)).toEqual(hex('32 06 0001 74 0001 70'));
    expect(encode(packet, 5)).toEqual(hex('32 0c 0001 74 0001 05 02 00000005 70'));
    expect(encode({ type: 'suback', packetId: 1, reasonCodes: [0x87] }, 4)).toEqual(hex('90 03 0001 80'));
  });

  it('a VBI Remaining Length of 2, 3 and 4 bytes', () => {
    for (const size of [127, 128, 16383, 16384, 2097151, 2097152]) {
      const payload = Buffer.alloc(size - 3);
      const packet: Packet = { type: 'publish', topic: 't', payload, qos: 0, retain: false, dup: false };
      const bytes = encode(packet, 4);
      expect(bytes.length).toBe(1 + (size < 128 ? 1 : size < 16384 ? 2 : size < 2097152 ? 3 : 4) + size);
      expect((decode(bytes, 4) as PublishPacket).payload.length).toBe(size - 3);
    }
  });

  it('keeps user properties in order with repeated names', () => {
    const packet: Packet = {
      type: 'puback',
      packetId: 1,
      reasonCode: 0,
      properties: {
        userProperties: [
          ['b', '1'],
          ['a', '2'],
          ['b', '3'],
        ],
      },
    };
    expect(decode(encode(packet, 5), 5)).toEqual(packet);
  });

  it('keeps a byte order mark in a string', () => {
    const bytes = hex('30 06 0004 efbbbf61');
    expect((decode(bytes, 4) as { topic: string }).topic).toBe('\ufeffa');
  });

  it('returns the payload as a view into the given bytes', () => {
    const bytes = hex('30 05 0001 61 6869');
    const packet = decode(bytes, 4) as PublishPacket;
    expect(packet.payload.buffer).toBe(bytes.buffer);
    expect(packet.payload.byteOffset).toBe(bytes.byteOffset + 5);
  });
});

describe('malformed and forbidden bytes', () => {
  it('reserved packet types', () => {
    expectError(() => decode(hex('00 00'), 4), 'RESERVED_PACKET_TYPE', 0x81);
    expectError(() => decode(hex('f0 00'), 4), 'RESERVED_PACKET_TYPE', 0x81);
    expect(decode(hex('f0 00'), 5)).toEqual({ type: 'auth', reasonCode: 0 });
  });

  it('reserved fixed header flags', () => {
    expectError(() => decode(hex('c1 00'), 4), 'INVALID_FIXED_HEADER_FLAGS', 0x81, 'MQTT-2.1.3-1');
    expectError(
      () => decode(hex('80 05 0001 0001 61'), 4),
      'INVALID_FIXED_HEADER_FLAGS',
      0x81,
      'MQTT-3.8.1-1',
    );
    expectError(() => decode(hex('60 02 0001'), 4), 'INVALID_FIXED_HEADER_FLAGS', 0x81, 'MQTT-3.6.1-1');
    expectError(
      () => decode(hex('a0 05 0001 0001 61'), 4),
      'INVALID_FIXED_HEADER_FLAGS',
      0x81,
      'MQTT-3.10.1-1',
    );
  });

  it('variable byte integers', () => {
    expectError(() => decode(hex('30 ff ff ff ff 01'), 4), 'MALFORMED_VARIABLE_BYTE_INTEGER', 0x81);
    expectError(() => decode(hex('c0 80 00'), 4), 'NON_MINIMAL_VARIABLE_BYTE_INTEGER', 0x81, 'MQTT-1.5.5-1');
    expectError(() => decode(hex('30 ff ff ff 7f'), 4), 'INCOMPLETE_PACKET', 0x81);
  });

  it('length mismatches', () => {
    expectError(() => decode(hex('40 03 0001 00'), 4), 'REMAINING_LENGTH_MISMATCH', 0x81);
    expectError(() => decode(hex('40 01 00'), 4), 'TRUNCATED_PACKET', 0x81);
    expectError(() => decode(hex('c0 00 00'), 4), 'TRAILING_BYTES', 0x81);
    expectError(() => decode(hex('c0'), 4), 'INCOMPLETE_PACKET', 0x81);
  });

  it('UTF-8 rules of section 1.5.4', () => {
    expectError(() => decode(hex('30 04 0002 61 00'), 4), 'UTF8_NULL_CHARACTER', 0x81, 'MQTT-1.5.4-2');
    const e = expectError(() => decode(hex('30 05 0003 eda080'), 4), 'INVALID_UTF8', 0x81, 'MQTT-1.5.4-1');
    expect(e.message).toContain('0xa0');
    expect(e.offset).toBe(5);
    expectError(() => decode(hex('30 04 0002 c0 80'), 4), 'INVALID_UTF8');
    expectError(() => decode(hex('30 03 0001 ff'), 4), 'INVALID_UTF8');
    expectError(() => decode(hex('30 04 0002 e2 82'), 4), 'INVALID_UTF8');
    expectError(() => decode(hex('30 06 0004 f4908080'), 4), 'INVALID_UTF8');
    expect((decode(hex('30 09 0007 e282ac f09f9982'), 4) as { topic: string }).topic).toBe('€🙂');
  });

  it('PUBLISH rules', () => {
    expectError(() => decode(hex('36 05 0001 61 0001'), 4), 'INVALID_QOS', 0x81, 'MQTT-3.3.1-4');
    expectError(() => decode(hex('38 03 0001 61'), 4), 'DUP_WITH_QOS0', 0x81, 'MQTT-3.3.1-2');
    expectError(() => decode(hex('30 05 0003 612f2b'), 4), 'TOPIC_NAME_WILDCARD', 0x90, 'MQTT-3.3.2-2');
    expectError(() => decode(hex('30 07 0005 c3a92f2f23'), 4), 'TOPIC_NAME_WILDCARD', 0x90);
    expectError(() => decode(hex('32 05 0001 61 0000'), 4), 'PACKET_ID_ZERO', 0x82, 'MQTT-2.2.1-3');
    expectError(() => decode(hex('30 02 0000'), 4), 'TOPIC_NAME_EMPTY', 0x82);
    expectError(() => decode(hex('30 03 0000 00'), 5), 'TOPIC_NAME_EMPTY', 0x82);
    expectError(() => decode(hex('30 07 0001 61 03 230000'), 5), 'TOPIC_ALIAS_ZERO', 0x94, 'MQTT-3.3.2-8');
  });

  it('CONNECT rules', () => {
    const connect = (flags: string, rest = '') => {
      const body = hex(`0004 4d515454 04 ${flags} 003c 0001 63 ${rest}`);
      return Buffer.concat([Buffer.from([0x10, body.length]), body]);
    };
    expectError(() => decode(connect('03'), 4), 'CONNECT_RESERVED_FLAG', 0x81, 'MQTT-3.1.2-3');
    expectError(() => decode(connect('0a'), 4), 'INVALID_WILL_FLAGS', 0x81, 'MQTT-3.1.2-11');
    expectError(() => decode(connect('22'), 4), 'INVALID_WILL_FLAGS', 0x81, 'MQTT-3.1.2-13');
    expectError(() => decode(connect('1e', '0001 74 0000'), 4), 'INVALID_QOS', 0x81, 'MQTT-3.1.2-12');
    expectError(
      () => decode(connect('42', '0001 70'), 4),
      'PASSWORD_WITHOUT_USERNAME',
      0x81,
      'MQTT-3.1.2-22',
    );
    expectError(() => decode(connect('06', '0001 2b 0000'), 4), 'TOPIC_NAME_WILDCARD', 0x90);
    const level6 = hex('10 0d 0004 4d515454 06 02 003c 0001 63');
    const e = expectError(() => decode(level6, 4), 'UNSUPPORTED_PROTOCOL_VERSION', 0x84, 'MQTT-3.1.2-2');
    expect(e.offset).toBe(8);
    expectError(
      () => decode(hex('10 0d 0004 4d515449 04 02 003c 0001 63'), 4),
      'INVALID_PROTOCOL_NAME',
      0x84,
    );
    expectError(
      () => decode(hex('10 0d 0004 4d515454 03 02 003c 0001 63'), 4),
      'INVALID_PROTOCOL_NAME',
      0x84,
    );
    // MQTT 5 allows a password without a user name (section 3.1.2.9).
    const v5 = hex('10 11 0004 4d515454 05 42 003c 00 0001 63 0001 70');
    expect(decode(v5, 5)).toMatchObject({ protocolVersion: 5, password: Buffer.from('p') });
  });

  it('property allow-list, duplicates and values', () => {
    // topic alias (0x23) in a PUBACK
    expectError(() => decode(hex('40 07 0001 00 03 230001'), 5), 'PROPERTY_NOT_ALLOWED', 0x82, '2.2.2.2');
    // session expiry twice in a DISCONNECT
    const twice = hex('e0 0c 00 0a 1100000001 1100000002');
    expectError(() => decode(twice, 5), 'DUPLICATE_PROPERTY', 0x82);
    expectError(() => decode(hex('e0 04 00 02 7f00'), 5), 'UNKNOWN_PROPERTY', 0x81);
    // payload format indicator 2
    expectError(() => decode(hex('30 06 0001 61 02 0102'), 5), 'INVALID_PROPERTY_VALUE', 0x82);
    // subscription identifier twice in a SUBSCRIBE, but fine in a PUBLISH
    expectError(() => decode(hex('82 0b 0002 04 0b01 0b02 0001 61 00'), 5), 'DUPLICATE_PROPERTY', 0x82);
    expect(decode(hex('30 08 0001 61 04 0b01 0b02'), 5)).toMatchObject({
      properties: { subscriptionIdentifiers: [1, 2] },
    });
    expectError(() => decode(hex('30 06 0001 61 02 0b00'), 5), 'INVALID_PROPERTY_VALUE', 0x82);
    // property length past the end
    expectError(() => decode(hex('30 05 0001 61 05 01'), 5), 'TRUNCATED_PACKET', 0x81);
    // authentication data without method
    expectError(() => decode(hex('f0 07 18 05 16 0002 6162'), 5), 'AUTHENTICATION_DATA_WITHOUT_METHOD', 0x82);
  });

  it('SUBSCRIBE and acknowledgement rules', () => {
    expectError(() => decode(hex('82 02 0001'), 4), 'EMPTY_TOPIC_FILTER_LIST', 0x82, 'MQTT-3.8.3-2');
    expectError(() => decode(hex('82 06 0001 0001 61 04'), 4), 'INVALID_SUBSCRIPTION_OPTIONS', 0x81);
    expectError(() => decode(hex('82 07 0001 00 0001 61 c0'), 5), 'INVALID_SUBSCRIPTION_OPTIONS', 0x81);
    expectError(() => decode(hex('82 07 0001 00 0001 61 03'), 5), 'INVALID_QOS', 0x81);
    expectError(() => decode(hex('82 07 0001 00 0001 61 30'), 5), 'INVALID_RETAIN_HANDLING', 0x82);
    const shared = hex('82 10 0001 00 000a 2473686172652f672f61 04');
    expectError(() => decode(shared, 5), 'NO_LOCAL_ON_SHARED_SUBSCRIPTION', 0x82, 'MQTT-3.8.3-4');
    expectError(() => decode(hex('a2 02 0001'), 4), 'EMPTY_TOPIC_FILTER_LIST', 0x82, 'MQTT-3.10.3-2');
    expectError(() => decode(hex('40 02 0000'), 4), 'PACKET_ID_ZERO', 0x82);
    expectError(() => decode(hex('40 03 0001 01'), 5), 'INVALID_REASON_CODE', 0x82, 'MQTT-3.4.2-1');
    expectError(() => decode(hex('90 03 0001 03'), 4), 'INVALID_REASON_CODE', 0x82);
    expectError(() => decode(hex('20 02 00 06'), 4), 'INVALID_REASON_CODE', 0x82);
    expectError(() => decode(hex('20 02 02 00'), 4), 'INVALID_CONNACK_FLAGS', 0x81);
    expectError(() => decode(hex('20 02 01 05'), 4), 'SESSION_PRESENT_ON_FAILURE', 0x82);
  });
});

describe('encoding refuses invalid packets', () => {
  it('with the typed error', () => {
    const publish = {
      type: 'publish',
      topic: 'a/#',
      payload: Buffer.alloc(0),
      qos: 0,
      retain: false,
      dup: false,
    };
    expectError(() => encode(publish as Packet, 4), 'TOPIC_NAME_WILDCARD');
    expectError(() => encode({ ...publish, topic: 'a', qos: 3 } as unknown as Packet, 4), 'INVALID_QOS');
    expectError(() => encode({ ...publish, topic: 'a', qos: 1 } as Packet, 4), 'MISSING_PACKET_ID');
    expectError(() => encode({ ...publish, topic: 'a\u0000' } as Packet, 4), 'UTF8_NULL_CHARACTER');
    expectError(() => encode({ ...publish, topic: 'a\ud800' } as Packet, 4), 'INVALID_UTF8');
    expectError(() => encode({ ...publish, topic: 'a'.repeat(65536) } as Packet, 4), 'STRING_TOO_LONG');
    expectError(
      () => encode({ ...publish, topic: 'a', properties: { sessionExpiryInterval: 1 } } as Packet, 5),
      'PROPERTY_NOT_ALLOWED',
    );
    expectError(() => encode({ type: 'auth', reasonCode: 0 }, 4), 'RESERVED_PACKET_TYPE');
    expectError(() => encode({ type: 'puback', packetId: 0 }, 4), 'PACKET_ID_ZERO');
  });

  it('encodeInto refuses a target that is too small, writing nothing', () => {
    const target = new Uint8Array(3);
    expect(() => encodeInto({ type: 'puback', packetId: 1 }, 4, target, 0)).toThrow(RangeError);
    expect([...target]).toEqual([0, 0, 0]);
  });

  it('a 65535-byte string is the longest', () => {
    const topic = `${'é'.repeat(32767)}a`;
    const packet: Packet = {
      type: 'publish',
      topic,
      payload: Buffer.alloc(0),
      qos: 0,
      retain: false,
      dup: false,
    };
    expect((decode(encode(packet, 4), 4) as { topic: string }).topic).toBe(topic);
  });
});

describe('reason codes', () => {
  it('names every code', () => {
    expect(reasonCodeName(0x00)).toBe('Success');
    expect(reasonCodeName(0x87)).toBe('NotAuthorized');
    expect(reasonCodeName(0xa2)).toBe('WildcardSubscriptionsNotSupported');
    expect(reasonCodeName(0x18)).toBe('ContinueAuthentication');
    expect(reasonCodeName(0x03)).toBeUndefined();
    expect(ReasonCode.GrantedQoS2).toBe(2);
    expect(ReasonCode.ReAuthenticate).toBe(0x19);
    expect(new Set(Object.values(ReasonCode)).size).toBe(43);
  });

  it('maps v5 connect outcomes to v3 return codes', () => {
    expect(connectReturnCodeFor(ReasonCode.UnsupportedProtocolVersion)).toBe(
      ConnectReturnCode.UnacceptableProtocolVersion,
    );
    expect(connectReturnCodeFor(ReasonCode.NotAuthorized)).toBe(ConnectReturnCode.NotAuthorized);
    expect(connectReturnCodeFor(ReasonCode.ServerBusy)).toBe(ConnectReturnCode.ServerUnavailable);
  });

  it('every error in the table maps to a defined reason code', () => {
    for (const entry of Object.values(PacketErrors)) expect(reasonCodeName(entry.reasonCode)).toBeDefined();
  });
});
