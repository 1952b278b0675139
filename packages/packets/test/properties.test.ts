import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decoder, decode, encode, encodedLength, encodeInto, type Packet } from '../src/index.js';
import { packetArb } from './arbitraries.js';

describe.each([3, 4, 5] as const)('fast-check round trips at level %i', (v) => {
  it('decode(encode(p)) equals p, for every packet type', () => {
    fc.assert(
      fc.property(packetArb(v), (packet) => {
        const bytes = encode(packet, v);
        expect(encodedLength(packet, v)).toBe(bytes.length);
        expect(decode(bytes, v)).toEqual(packet);
      }),
      { numRuns: 3000 },
    );
  });

  it('a Decoder reads any sequence of packets in any chunking', () => {
    fc.assert(
      fc.property(
        fc.array(packetArb(v), { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }),
        (packets, sizes) => {
          const total = packets.reduce((n, p) => n + encodedLength(p, v), 0);
          const bytes = new Uint8Array(total);
          let offset = 0;
          for (const p of packets) offset += encodeInto(p, v, bytes, offset);
          const decoder = new Decoder({ protocolVersion: v });
          const out: Packet[] = [];
          let pos = 0;
          for (let i = 0; pos < bytes.length; i++) {
            const size = sizes[i % sizes.length]!;
            out.push(...decoder.push(bytes.subarray(pos, pos + size)));
            pos += size;
          }
          // A CONNECT switches the decoder to its own level, which is v here too.
          expect(out).toEqual(packets);
          expect(decoder.bufferedBytes).toBe(0);
        },
      ),
      { numRuns: 500 },
    );
  });
});
