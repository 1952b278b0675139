import { describe, expect, it } from 'vitest';
import {
  decodeStoredPublish,
  decodeStoredWill,
  encodeStoredMessage,
  encodeStoredWill,
  storedMessage,
  storedMessageBound,
  writeStoredMessage,
} from '../src/index.js';

const properties = {
  contentType: 'text/plain',
  correlationData: Buffer.from([0, 1, 2]),
  userProperties: [
    ['b', '2'],
    ['a', '1'],
  ] as Array<[string, string]>,
};

describe('stored PUBLISH bytes (what every store keeps of a message or will)', () => {
  it('a message comes back with its topic, payload, QoS, retain flag and properties, in its own buffer or written into a store buffer', () => {
    const message = storedMessage('a/ü', Buffer.from([0, 255, 7]), 1, true, properties, 0);
    const own = encodeStoredMessage(message);
    const target = Buffer.alloc(storedMessageBound(message) + 10);
    const written = writeStoredMessage(message, target, 10);
    expect(target.subarray(10, 10 + written)).toEqual(own);
    const packet = decodeStoredPublish(own);
    expect(packet).toMatchObject({ topic: 'a/ü', qos: 1, retain: true, properties });
    expect(Buffer.from(packet.payload)).toEqual(Buffer.from([0, 255, 7]));
  });

  it('the bound holds without properties, for topics of multi-byte characters', () => {
    const message = storedMessage('€'.repeat(1000), Buffer.alloc(5), 0, false, undefined, 0);
    const written = writeStoredMessage(message, Buffer.alloc(storedMessageBound(message)), 0);
    expect(written).toBeLessThanOrEqual(storedMessageBound(message));
    expect(decodeStoredPublish(encodeStoredMessage(message)).topic).toBe('€'.repeat(1000));
  });

  it('properties the codec refuses are left out rather than the message lost', () => {
    const refused = { messageExpiryInterval: -1 } as never;
    const message = storedMessage('t', Buffer.from('x'), 2, false, refused, 0);
    const packet = decodeStoredPublish(encodeStoredMessage(message));
    expect(packet.topic).toBe('t');
    expect(packet.properties).toBeUndefined();
    const target = Buffer.alloc(storedMessageBound(message));
    expect(decodeStoredPublish(target.subarray(0, writeStoredMessage(message, target, 0))).qos).toBe(2);
  });

  it('a will keeps its properties; its Will Delay Interval is carried beside the bytes', () => {
    const will = {
      topic: 'gone',
      payload: Buffer.from('bye'),
      qos: 1 as const,
      retain: false,
      properties: { ...properties, willDelayInterval: 30 },
    };
    const bytes = encodeStoredWill(will);
    expect(decodeStoredPublish(bytes).properties).toEqual(properties);
    expect(decodeStoredWill(bytes, 30)).toEqual(will);
    expect(decodeStoredWill(bytes, undefined).properties).toEqual(properties);
  });

  it('refuses bytes that are not a PUBLISH packet', () => {
    expect(() => decodeStoredPublish(Buffer.from([0xc0, 0]))).toThrow(/pingreq packet/);
  });
});
