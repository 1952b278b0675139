import { decode, encode } from '@x/packets';
import { describe, expect, it } from 'vitest';
import { type Delivery, type Message, ownPayloadFrom } from '../src/message.js';
import { encodeDelivery, packetIdOffset, publishPacket, withPacketId } from '../src/outbound.js';

const message = (extra: Partial<Message> = {}): Message => ({
  topic: 'a/b',
  payload: Buffer.from('hello'),
  qos: 2,
  retain: false,
  properties: { contentType: 'text/plain', userProperties: [['k', 'v']] },
  expiresAt: 0,
  origin: 'x',
  owned: true,
  ...extra,
});

describe('shared PUBLISH encodings', () => {
  it('encodeDelivery gives the bytes of encoding publishPacket, for every version, QoS and property mix', () => {
    const now = 1_000_000;
    const deliveries: Delivery[] = [
      { message: message(), qos: 0, retain: false, subscriptionIds: undefined },
      { message: message({ properties: undefined }), qos: 1, retain: true, subscriptionIds: undefined },
      { message: message({ expiresAt: now + 5_500 }), qos: 2, retain: false, subscriptionIds: [3, 7] },
      {
        message: message({ topic: 'ü/non-ascii', properties: undefined }),
        qos: 1,
        retain: false,
        subscriptionIds: [1],
      },
    ];
    for (const version of [3, 4, 5] as const) {
      for (const delivery of deliveries) {
        for (const dup of delivery.qos > 0 ? [false, true] : [false]) {
          const expected = encode(publishPacket(delivery, version, 9, dup, now), version);
          expect(encodeDelivery(delivery, version, 9, dup, now).equals(expected)).toBe(true);
        }
      }
    }
  });

  for (const version of [4, 5] as const) {
    it(`v${version}: patching the packet id and DUP into a copy equals encoding it directly`, () => {
      const delivery: Delivery = {
        message: message({ topic: 'x'.repeat(300) }),
        qos: 1,
        retain: true,
        subscriptionIds: [5],
      };
      const shared = encode(publishPacket(delivery, version, 1, false, 0), version);
      const offset = packetIdOffset(shared);
      for (const [id, dup] of [
        [2, false],
        [65_535, true],
        [256, false],
      ] as const) {
        const direct = encode(publishPacket(delivery, version, id, dup, 0), version);
        expect(withPacketId(shared, offset, id, dup).equals(direct)).toBe(true);
      }
      expect(shared[offset]).toBe(0);
      expect(shared[offset + 1]).toBe(1); // the shared copy itself is untouched
    });
  }

  it('v3 recipients get no properties; v5 get subscription identifiers and the remaining expiry', () => {
    const m = message({ expiresAt: 10_500 });
    const d: Delivery = { message: m, qos: 0, retain: false, subscriptionIds: [1, 2] };
    expect(publishPacket(d, 4, 0, false, 0).properties).toBeUndefined();
    const p5 = publishPacket(d, 5, 0, false, 1000);
    expect(p5.properties).toMatchObject({
      subscriptionIdentifiers: [1, 2],
      messageExpiryInterval: 10,
      contentType: 'text/plain',
    });
    expect(p5.packetId).toBeUndefined();
    const back = decode(encode(p5, 5), 5);
    expect(back).toMatchObject({ type: 'publish', topic: 'a/b', qos: 0 });
  });
});

describe('ownPayloadFrom', () => {
  it('makes the payload a view of the encoded PUBLISH tail, equal and no longer in the socket chunk', () => {
    const chunk = Buffer.from('xxhelloxx');
    const m = message({ payload: chunk.subarray(2, 7), owned: false, properties: undefined });
    const bytes = encodeDelivery(
      { message: m, qos: 1, retain: false, subscriptionIds: undefined },
      4,
      7,
      false,
      0,
    );
    ownPayloadFrom(m, bytes);
    chunk.fill(0);
    expect(m.owned).toBe(true);
    expect(Buffer.from(m.payload).toString()).toBe('hello');
  });

  it('copies when correlation data must be owned too', () => {
    const chunk = Buffer.from('hellocd');
    const m = message({
      payload: chunk.subarray(0, 5),
      owned: false,
      properties: { correlationData: chunk.subarray(5) },
    });
    const bytes = encodeDelivery(
      { message: m, qos: 1, retain: false, subscriptionIds: undefined },
      5,
      7,
      false,
      0,
    );
    ownPayloadFrom(m, bytes);
    chunk.fill(0);
    expect(Buffer.from(m.payload).toString()).toBe('hello');
    expect(Buffer.from(m.properties!.correlationData!).toString()).toBe('cd');
  });
});
