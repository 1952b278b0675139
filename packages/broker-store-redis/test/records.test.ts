import type { Message } from '@x/broker';
import { describe, expect, it } from 'vitest';
import {
  decodeMessage,
  decodeSession,
  decodeSubscription,
  encodeMessage,
  encodeSession,
  encodeSubscription,
  PendingRecord,
} from '../src/records.js';

function message(overrides: Partial<Message> = {}): Message {
  return {
    topic: 'a/b',
    payload: Buffer.from([0, 1, 2, 13, 10, 255]),
    qos: 2,
    retain: true,
    properties: undefined,
    expiresAt: 0,
    origin: 'x',
    owned: true,
    ...overrides,
  };
}

describe('stored message records', () => {
  it('a PendingRecord encodes what encodeMessage does, within the bytes it announced', () => {
    const m = message({
      topic: 'é/✓',
      properties: {
        contentType: 'text/plain',
        userProperties: [['k', 'v']],
        correlationData: Buffer.from([1]),
      },
    });
    for (const ids of [undefined, [1, 268_435_455]]) {
      const pending = new PendingRecord(m, 1, true, 17, true, ids);
      const bytes = pending.encode();
      expect(bytes).toEqual(encodeMessage(m, 1, true, 17, true, ids));
      expect(bytes.length).toBeLessThanOrEqual(pending.bytes);
    }
    const plain = message({ topic: 'ü'.repeat(50), payload: Buffer.alloc(300) });
    const pending = new PendingRecord(plain, 0, false, 0, false, undefined);
    expect(pending.encode().length).toBeLessThanOrEqual(pending.bytes);
  });

  it('round-trip topic, binary payload, every kind of v5 property, expiry and the delivery flags', () => {
    const m = message({
      properties: {
        payloadFormatIndicator: false,
        messageExpiryInterval: 60,
        contentType: 'application/octet-stream',
        responseTopic: 'reply/here',
        correlationData: Buffer.from([9, 8, 7]),
        userProperties: [
          ['k', 'v1'],
          ['k', 'v2'],
          ['é', '✓'],
        ],
      },
      expiresAt: 1_900_000_000_123,
    });
    const r = decodeMessage(encodeMessage(m, 1, false, 42.5, true));
    expect(r.order).toBe(42.5);
    expect(r.released).toBe(true);
    expect(r.delivery).toMatchObject({ qos: 1, retain: false });
    // The message keeps its own QoS and retain flag; the delivery's are beside it.
    expect(r.delivery.message).toMatchObject({
      topic: 'a/b',
      qos: 2,
      retain: true,
      expiresAt: 1_900_000_000_123,
    });
    expect(Buffer.from(r.delivery.message.payload).equals(m.payload)).toBe(true);
    expect(r.delivery.message.properties).toEqual({
      ...m.properties,
      correlationData: Buffer.from([9, 8, 7]),
    });
  });

  it('MQTT-3.3.4-3: round-trip the subscription identifiers of a delivery (1 to 268 435 455), none when it had none', () => {
    const m = message({ properties: { userProperties: [['a', 'b']] } });
    const ids = [1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 268_435_455];
    const r = decodeMessage(encodeMessage(m, 2, false, 7, false, ids));
    expect(r.delivery.subscriptionIds).toEqual(ids);
    expect(r.delivery.message.properties).toEqual({ userProperties: [['a', 'b']] });
    expect(r.order).toBe(7);
    expect(decodeMessage(encodeMessage(m, 2, false, 0, false, [])).delivery.subscriptionIds).toBeUndefined();
    expect(decodeMessage(encodeMessage(m, 2, false)).delivery.subscriptionIds).toBeUndefined();
  });

  it('encode a message once for every delivery (the PUBLISH bytes are cached per message)', () => {
    const m = message({ qos: 0, retain: false });
    const a = encodeMessage(m, 0, false);
    m.topic = 'changed'; // not seen: the cached encoding is reused
    const b = encodeMessage(m, 0, true);
    expect(decodeMessage(b).delivery.message.topic).toBe('a/b');
    expect(a.subarray(18).equals(b.subarray(18))).toBe(true);
    expect(decodeMessage(b).delivery.retain).toBe(true);
  });

  it('keep the message when the host application gave properties the codec refuses', () => {
    const m = message({ properties: { payloadFormatIndicator: 7 as unknown as boolean } });
    const r = decodeMessage(encodeMessage(m, 1, false));
    expect([r.delivery.message.topic, r.delivery.message.properties]).toEqual(['a/b', undefined]);
  });

  it('round-trip an empty payload and a QoS 0 message without properties', () => {
    const r = decodeMessage(encodeMessage(message({ payload: Buffer.alloc(0), qos: 0 }), 0, false));
    expect(r.delivery.message.payload.length).toBe(0);
    expect(r.delivery.message.properties).toBeUndefined();
  });

  it.each([
    ['too short', Buffer.from([1, 0])],
    ['unknown format', Buffer.concat([Buffer.from([2]), Buffer.alloc(30)])],
    ['QoS 3', Buffer.concat([Buffer.from([1, 3]), Buffer.alloc(16), Buffer.from([0x30, 0])])],
    ['not a PUBLISH', Buffer.concat([Buffer.from([1, 0]), Buffer.alloc(16), Buffer.from([0xc0, 0])])],
    [
      'shorter than its packet',
      Buffer.concat([Buffer.from([1, 0]), Buffer.alloc(16), Buffer.from([0x30, 9, 0])]),
    ],
    [
      'a broken identifier trailer',
      Buffer.concat([Buffer.from([1, 16]), Buffer.alloc(16), Buffer.from([0x30, 4, 0, 1, 0x61, 0, 0xff])]),
    ],
  ])('refuse a record that is %s', (_name, bytes) => {
    expect(() => decodeMessage(bytes)).toThrow();
  });
});

describe('stored sessions and subscriptions', () => {
  const will = {
    topic: 'w/t',
    payload: Buffer.from([0, 1, 2, 255]),
    qos: 1 as const,
    retain: true,
    properties: {
      willDelayInterval: 30,
      contentType: 'x/y',
      userProperties: [['k', 'v']] as [string, string][],
    },
  };

  it('a session keeps its version, expiry and disconnection time (0: online)', () => {
    const session = {
      clientId: 'c',
      protocolVersion: 4 as const,
      expiryInterval: 0xffffffff,
      disconnectedAt: 0,
      will: undefined,
      pendingWill: undefined,
    };
    expect(decodeSession('c', encodeSession(session))).toEqual(session);
    expect(decodeSession('c', encodeSession({ ...session, disconnectedAt: 1234 })).disconnectedAt).toBe(1234);
  });

  it('MQTT-3.1.3-9: the connection will and a delayed will keep every property, the Will Delay Interval and the due time', () => {
    const session = {
      clientId: 'c',
      protocolVersion: 5 as const,
      expiryInterval: 3600,
      disconnectedAt: 1000,
      will: { ...will, properties: { ...will.properties, willDelayInterval: 5 } },
      pendingWill: { will, dueAt: 9000 },
    };
    expect(decodeSession('c', encodeSession(session))).toEqual(session);
    const bare = { ...session, will: { ...will, properties: undefined }, pendingWill: undefined };
    expect(decodeSession('c', encodeSession(bare)).will).toEqual({ ...will, properties: undefined });
  });

  it('subscriptions keep every option', () => {
    const sub = {
      topicFilter: '$share/g/t/#',
      qos: 2 as const,
      noLocal: true,
      retainAsPublished: true,
      retainHandling: 2 as const,
      subscriptionIdentifier: 77,
    };
    expect(decodeSubscription('$share/g/t/#', encodeSubscription(sub))).toEqual(sub);
    const plain = { ...sub, noLocal: false, retainAsPublished: false, subscriptionIdentifier: undefined };
    expect(decodeSubscription('$share/g/t/#', encodeSubscription(plain))).toEqual(plain);
  });

  it.each([['{"v":6,"e":1,"d":0}'], ['{"v":5,"e":-1,"d":0}'], ['{"v":5,"e":1}'], ['not json']])(
    'refuse the session record %s',
    (json) => {
      expect(() => decodeSession('c', json)).toThrow();
    },
  );

  it('refuse a subscription record with a bad QoS', () => {
    expect(() => decodeSubscription('f', '{"q":3,"rh":0}')).toThrow(/malformed subscription/);
  });
});
