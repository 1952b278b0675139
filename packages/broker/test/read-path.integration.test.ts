import { encode, ReasonCode } from '@x/packets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient } from '../../test-helpers/src/raw-client.js';
import { startTestBroker, type TestBroker } from './helpers.js';

/**
 * The packets a chunk completed before malformed bytes are the peer's too: a PUBLISH that precedes
 * garbage in the same TCP write is delivered, then the publisher is disconnected for the garbage.
 */
describe('read path: packets before a protocol error in the same chunk', () => {
  let tb: TestBroker;
  beforeAll(async () => {
    tb = await startTestBroker();
  });
  afterAll(() => tb.close());

  // A PUBLISH with both QoS bits set: malformed [MQTT-3.3.1-4].
  const badPublish = [0x36, 0x03, 0x00, 0x01, 0x61];

  for (const version of [5, 4] as const) {
    it(`v${version}: a QoS 0 PUBLISH before a malformed packet in one write is delivered, then the publisher is disconnected`, async () => {
      const sub = await RawClient.connect(tb.port, { clientId: `sub-${version}` });
      sub.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'read-path/#', qos: 0 }] });
      await sub.expect('suback');
      const pub = await RawClient.connect(tb.port, { clientId: `pub-${version}` }, version);
      const publish = encode(
        {
          type: 'publish',
          topic: `read-path/v${version}`,
          payload: Buffer.from('before'),
          qos: 0,
          retain: false,
          dup: false,
        },
        version,
      );
      pub.sendBytes(Buffer.concat([publish, Buffer.from(badPublish)]));

      const message = await sub.expect('publish');
      expect(message.topic).toBe(`read-path/v${version}`);
      expect(Buffer.from(message.payload).toString()).toBe('before');

      await pub.waitClosed();
      if (version === 5) {
        const disconnect = pub.received.find((p) => p.type === 'disconnect');
        expect(disconnect?.type === 'disconnect' && disconnect.reasonCode).toBe(ReasonCode.MalformedPacket);
        expect(pub.received.filter((p) => p.type !== 'disconnect')).toEqual([]);
      } else {
        expect(pub.received).toEqual([]); // v3: closed without a reply
      }
      sub.socket.destroy();
    });
  }

  it('a CONNECT and a PUBLISH before garbage in the very first write: connected, delivered, then disconnected', async () => {
    const sub = await RawClient.connect(tb.port, { clientId: 'sub-first' });
    sub.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'read-path/first', qos: 0 }] });
    await sub.expect('suback');
    const pub = await RawClient.open(tb.port, 5);
    pub.sendBytes(
      Buffer.concat([
        encode({ type: 'connect', protocolVersion: 5, clientId: 'pub-first', clean: true, keepalive: 0 }, 5),
        encode(
          {
            type: 'publish',
            topic: 'read-path/first',
            payload: Buffer.from('x'),
            qos: 0,
            retain: false,
            dup: false,
          },
          5,
        ),
        Buffer.from(badPublish),
      ]),
    );
    const message = await sub.expect('publish');
    expect(message.topic).toBe('read-path/first');
    await pub.waitClosed();
    expect(pub.received.map((p) => p.type)).toEqual(['connack', 'disconnect']);
    const disconnect = pub.received[1];
    expect(disconnect?.type === 'disconnect' && disconnect.reasonCode).toBe(ReasonCode.MalformedPacket);
    sub.socket.destroy();
  });
});
