import type { Message } from '@x/broker';
import { describe, expect, it } from 'vitest';
import { decodeForwarded, decodeMessage, encodeMessage } from '../src/codec.js';

describe('the message codec between nodes', () => {
  it('carries topic, payload, QoS, retain, origin, expiry and v5 properties (binary correlation data too)', () => {
    const message: Message = {
      topic: 'a/b',
      payload: Buffer.from([0, 1, 2, 255]),
      qos: 2,
      retain: true,
      properties: {
        contentType: 'bin',
        responseTopic: 'r/1',
        correlationData: Buffer.from([9, 8, 7]),
        userProperties: [['k', 'v']],
        payloadFormatIndicator: false,
      },
      expiresAt: 1_800_000_000_000,
      origin: 'publisher-1',
      owned: false,
    };
    const back = decodeMessage(encodeMessage(message));
    expect(back).toEqual({ ...message, owned: true });
    expect(Buffer.isBuffer(back.properties?.correlationData)).toBe(true);
  });

  it('keeps an empty payload and no properties as they are', () => {
    const message: Message = {
      topic: 't',
      payload: Buffer.alloc(0),
      qos: 0,
      retain: false,
      properties: undefined,
      expiresAt: 0,
      origin: '',
      owned: true,
    };
    expect(decodeMessage(encodeMessage(message))).toEqual(message);
  });

  it('carries the share groups the receiving node is to serve', () => {
    const message: Message = {
      topic: 's',
      payload: Buffer.from('x'),
      qos: 1,
      retain: false,
      properties: undefined,
      expiresAt: 0,
      origin: 'p',
      owned: true,
    };
    expect(decodeForwarded(encodeMessage(message, ['g/s/#'])).shares).toEqual(['g/s/#']);
    expect(decodeForwarded(encodeMessage(message)).shares).toEqual([]);
  });

  it('refuses a record whose header overruns it', () => {
    const bytes = Buffer.alloc(8);
    bytes.writeUInt32BE(100, 0);
    expect(() => decodeMessage(bytes)).toThrow(/overruns the 8-byte record/);
    expect(() => decodeMessage(Buffer.alloc(2))).toThrow(/no header/);
  });
});
