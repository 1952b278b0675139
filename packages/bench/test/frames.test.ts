import { encode } from '@x/packets';
import { describe, expect, it } from 'vitest';
import { FrameError, FrameReader } from '../src/frames.js';

describe('FrameReader', () => {
  const frames = [
    encode(
      {
        type: 'publish',
        topic: 'a/b',
        payload: Buffer.alloc(300, 7),
        qos: 1,
        retain: false,
        dup: false,
        packetId: 9,
      },
      4,
    ),
    encode({ type: 'puback', packetId: 9 }, 4),
    encode({ type: 'pingresp' }, 4),
    encode(
      { type: 'publish', topic: 't', payload: Buffer.alloc(20_000, 1), qos: 0, retain: false, dup: false },
      4,
    ),
  ];
  const stream = Buffer.concat(frames);

  it('hands out the same frames whatever the chunking', () => {
    for (const size of [1, 2, 3, 7, 64, 1000, stream.length]) {
      const seen: Buffer[] = [];
      const reader = new FrameReader((header, frame, bodyStart) => {
        expect(frame[0]).toBe(header);
        expect(bodyStart).toBeGreaterThanOrEqual(2);
        seen.push(Buffer.from(frame));
      });
      for (let i = 0; i < stream.length; i += size) reader.push(stream.subarray(i, i + size));
      expect(seen).toEqual(frames);
    }
  });

  it('rejects a Remaining Length over 4 bytes and frames above the limit', () => {
    expect(() => new FrameReader(() => {}).push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toThrow(
      FrameError,
    );
    expect(() => new FrameReader(() => {}, 100).push(frames[3] ?? Buffer.alloc(0))).toThrow(
      /exceeds the limit of 100/,
    );
  });
});
